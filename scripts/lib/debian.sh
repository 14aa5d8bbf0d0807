# shellcheck shell=bash
# Debian base images made without pulling anything: debootstrap a bookworm
# rootfs from the machine's apt mirror and `docker import` it.  Needs
# scripts/lib/common.sh (log, die, sha256) and root.

# The machine's Debian bookworm "main" mirror, or $TR_DEBIAN_MIRROR.
debian_mirror() {
    if [[ -n ${TR_DEBIAN_MIRROR:-} ]]; then echo "$TR_DEBIAN_MIRROR"; return 0; fi
    local f m
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        m=$(awk 'BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; comps = ""; types = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i; sub(/^[ \t]+/, "", line)
                    if (line ~ /^#/) continue
                    n = index(line, ":"); if (!n) continue
                    k = tolower(substr(line, 1, n - 1)); v = " " substr(line, n + 1) " "
                    gsub(/[ \t]+/, " ", v)
                    if (k == "uris") uris = v; else if (k == "suites") suites = v
                    else if (k == "components") comps = v; else if (k == "types") types = v
                    else if (k == "enabled") enabled = tolower(v)
                }
                if (types ~ / deb / && suites ~ / bookworm / && comps ~ / main / && enabled !~ /no/) {
                    split(uris, u, " "); print u[1]; exit
                }
            }' "$f")
        [[ -n $m ]] && { echo "$m"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        m=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                 if ($(i+1) == "bookworm") { for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } } }' "$f")
        [[ -n $m ]] && { echo "$m"; return 0; }
    done
    return 1
}

_DEB_ROOTFS=""
_debian_cleanup() {
    [[ -n $_DEB_ROOTFS ]] || return 0
    rm -f "$_DEB_ROOTFS.log"
    if [[ -d $_DEB_ROOTFS ]]; then
        awk -v r="$_DEB_ROOTFS/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$_DEB_ROOTFS" || true
    fi
    _DEB_ROOTFS=""
}

# debian_base_image TAG [PKG...]: make sure image TAG exists and was made from a
# `debootstrap --variant=minbase [--include=PKG,...] bookworm` rootfs.  The
# recipe hash is stored as a label, so a changed package list re-creates it.
debian_base_image() {
    local tag=$1; shift
    local include recipe cur mirror t0=$SECONDS
    include=$(IFS=,; echo "$*")
    recipe=$(echo "bookworm minbase include=$include recipe=1" | sha256)
    cur=$(docker image inspect -f '{{index .Config.Labels "org.task-runner.recipe"}}' "$tag" 2>/dev/null || true)
    if [[ $cur == "$recipe" ]]; then
        echo "ok: base image $tag (cached)"
        return 0
    fi
    # test-deps.sh made its image this way before it used this function, without the label.
    if [[ -z $include && -z $cur ]] && docker image inspect "$tag" >/dev/null 2>&1; then
        echo "ok: base image $tag (cached, made before recipe labels)"
        return 0
    fi
    have debootstrap || die "debootstrap not found (apt-get install debootstrap)"
    mirror=$(debian_mirror) || die "no Debian bookworm 'main' mirror found in /etc/apt/sources.list{,.d} (set TR_DEBIAN_MIRROR)"
    _DEB_ROOTFS=$(mktemp -d /var/tmp/task-runner-rootfs.XXXXXX)
    trap _debian_cleanup EXIT
    log "debootstrap --variant=minbase${include:+ --include=$include} bookworm from $mirror (a few minutes)"
    debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$_DEB_ROOTFS" "$mirror" \
        >"$_DEB_ROOTFS.log" 2>&1 || die "debootstrap for $tag failed:
$(tail -n 30 "$_DEB_ROOTFS.log"; tail -n 20 "$_DEB_ROOTFS/debootstrap/debootstrap.log" 2>/dev/null || true)"
    rm -rf "$_DEB_ROOTFS"/var/cache/apt/archives/*.deb "$_DEB_ROOTFS"/var/lib/apt/lists/* "$_DEB_ROOTFS"/debootstrap
    log "importing the rootfs as $tag"
    tar --numeric-owner -C "$_DEB_ROOTFS" -c . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["/bin/bash"]' \
            --change "LABEL org.task-runner.recipe=$recipe" \
            - "$tag" >/dev/null || die "docker import of the rootfs as $tag failed"
    _debian_cleanup
    trap - EXIT
    echo "ok: base image $tag made in $((SECONDS - t0))s"
}
