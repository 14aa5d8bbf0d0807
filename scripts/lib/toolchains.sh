# shellcheck shell=bash
# The toolchains the tests run: the musl rust target (installed with rustup)
# and the interpreters python3, python2.7 and ruby (found, not installed:
# python2.7 cannot be downloaded here, the machine image brings it with
# pyenv). Needs scripts/lib/common.sh (REPO, log, die, have).

readonly MUSL_TARGET=x86_64-unknown-linux-musl

# Non-interactive CI shells often lack ~/.cargo/bin on PATH.
toolchains_path() {
    local d
    for d in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
        [[ -d $d && ":$PATH:" != *":$d:"* ]] && PATH="$PATH:$d"
    done
    export PATH
}

ensure_musl_target() {
    have rustup || die "rustup not found (looked on PATH and in ~/.cargo/bin); needed for target $MUSL_TARGET"
    # From $REPO, so rust-toolchain files pick the toolchain.
    if ! (cd "$REPO" && rustup target list --installed) | grep -qx "$MUSL_TARGET"; then
        log "rustup target add $MUSL_TARGET"
        (cd "$REPO" && rustup target add "$MUSL_TARGET") ||
            die "rustup target add $MUSL_TARGET failed (static.rust-lang.org unreachable?)"
    fi
    local libdir cc
    libdir=$(cd "$REPO" && rustc --print target-libdir --target "$MUSL_TARGET")
    compgen -G "$libdir/libstd-*.rlib" >/dev/null || die "rust std for $MUSL_TARGET missing in $libdir"
    if have x86_64-linux-musl-gcc; then cc=x86_64-linux-musl-gcc; else cc=musl-gcc; fi
    "$cc" --version >/dev/null 2>&1 || die "neither x86_64-linux-musl-gcc nor musl-gcc works (apt: musl-tools)"
    echo "ok: rust target $MUSL_TARGET ($(cd "$REPO" && rustc --version)), C compiler $cc"
}

# The real interpreter behind python3 on PATH (pyenv shims resolved).
find_python3() {
    local c exe
    for c in "$(command -v python3 || true)" /usr/bin/python3 /usr/local/bin/python3; do
        [[ -n $c && -x $c ]] || continue
        exe=$("$c" -c 'import sys; assert sys.version_info[0] == 3; print(sys.executable)' 2>/dev/null) || continue
        [[ $exe == /* && -x $exe ]] && { echo "$exe"; return 0; }
    done
    return 1
}

# $TR_PYTHON27, else the newest pyenv 2.7.*, else python2.7 on PATH.
find_python27() {
    if [[ -n ${TR_PYTHON27:-} ]]; then
        [[ -x $TR_PYTHON27 ]] && { echo "$TR_PYTHON27"; return 0; }
        log "TR_PYTHON27=$TR_PYTHON27 is not executable; searching pyenv"
    fi
    local roots=() r cands=() best
    have pyenv && r=$(pyenv root 2>/dev/null) && roots+=("$r")
    roots+=("${PYENV_ROOT:-}" /root/.pyenv "$HOME/.pyenv")
    for r in "${roots[@]}"; do
        [[ -n $r ]] && cands+=("$r"/versions/2.7.*/bin/python2.7)
    done
    if ((${#cands[@]})); then
        best=$(printf '%s\n' "${cands[@]}" | sort -uV | tail -n1)
        [[ -x $best ]] && { echo "$best"; return 0; }
    fi
    command -v python2.7
}

find_ruby() {
    local r
    r=$(command -v ruby) || return 1
    [[ $r == /* ]] || r=$(readlink -f "$r")
    echo "$r"
}

# find_interpreters: set TR_PYTHON3, TR_PYTHON27 and TR_RUBY (empty if missing).
find_interpreters() {
    TR_PYTHON3=$(find_python3) || TR_PYTHON3=""
    TR_PYTHON27=$(find_python27) || TR_PYTHON27=""
    TR_RUBY=$(find_ruby 2>/dev/null) || TR_RUBY=""
}

# check_interpreters: each one found runs; fails naming the missing ones.
check_interpreters() {
    local bad=()
    if [[ -n $TR_PYTHON3 ]] && "$TR_PYTHON3" -c 'import sys; assert sys.version_info[0] == 3'; then
        echo "ok: python3 $("$TR_PYTHON3" -c 'import platform; print(platform.python_version())') ($TR_PYTHON3)"
    else
        bad+=("python3 (none on PATH or in /usr/bin, /usr/local/bin)")
    fi
    if [[ -n $TR_PYTHON27 ]] && "$TR_PYTHON27" -c 'import sys; assert sys.version_info[:2] == (2, 7)'; then
        echo "ok: python2.7 $("$TR_PYTHON27" -c 'import platform; print(platform.python_version())') ($TR_PYTHON27)"
    else
        bad+=("python2.7 (not under \$(pyenv root)/versions/2.7.*/bin, /root/.pyenv, \$HOME/.pyenv or on PATH; it cannot be downloaded here: install it with pyenv on the machine image, or set TR_PYTHON27)")
    fi
    if [[ -n $TR_RUBY && $("$TR_RUBY" -e 'require "json"; puts JSON.generate([1])' 2>&1) == '[1]' ]]; then
        echo "ok: ruby $("$TR_RUBY" -e 'print RUBY_VERSION') ($TR_RUBY)"
    else
        bad+=("ruby (not on PATH, or it cannot require json)")
    fi
    ((${#bad[@]} == 0)) || die "interpreters missing: $(printf '\n  %s' "${bad[@]}")"
}

# The smaller tools some tests run.
ensure_tools() {
    unshare --help >/dev/null 2>&1 || die "'unshare --help' failed (apt: util-linux)"
    have sqlite3 || die "sqlite3 not found (apt: sqlite3)"
    have strace || die "strace not found (apt: strace; a test counts the write(2) calls of the XCom line)"
    echo "ok: unshare, sqlite3 $(sqlite3 --version | awk '{print $1}'), strace"
}
