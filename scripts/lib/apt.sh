# shellcheck shell=bash
# apt packages: install the missing ones, so a warm run only asks dpkg.
# Needs scripts/lib/common.sh (log, die) and root.

pkg_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

apt_get() { apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@"; }

# apt_ensure PKG...: install whichever of PKG are not installed.
apt_ensure() {
    local missing=() p i
    for p; do pkg_installed "$p" || missing+=("$p"); done
    if ((${#missing[@]} == 0)); then
        echo "ok: apt packages ($# checked)"
        return 0
    fi
    log "installing apt packages: ${missing[*]}"
    # apt-get update takes the lists lock, which DPkg::Lock::Timeout may not
    # cover on every apt version: retry while another apt holds it.
    for i in $(seq 1 60); do
        apt_get update -q >&2 && break
        ((i < 60)) || die "apt-get update kept failing (lock held or mirror unreachable)"
        log "apt-get update failed, retrying in 10s ($i/60)"
        sleep 10
    done
    # The packages' maintainer scripts must not start the stock postgresql and
    # mariadb services: the tests start their own, per run (policy-rc.d, exit
    # 101 = "action forbidden", as invoke-rc.d reads it).
    local rcd=/usr/sbin/policy-rc.d ours=0 ok=1
    if [[ ! -e $rcd ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$rcd"
        chmod 755 "$rcd"
        ours=1
    fi
    DEBIAN_FRONTEND=noninteractive apt_get install -y -q --no-install-recommends "${missing[@]}" >&2 || ok=0
    ((ours == 0)) || rm -f "$rcd"
    ((ok)) || die "apt-get install failed for: ${missing[*]}"
    for p in "${missing[@]}"; do
        pkg_installed "$p" || die "apt package '$p' is still not installed after apt-get install"
    done
    echo "ok: apt packages ($# checked, installed ${missing[*]})"
}
