#!/usr/bin/env bash
# scripts/build-images.sh -- build the example team images (examples/images/)
# from the static binary and the example DAG project's include/ folder:
#
#   task-runner-example/python3-ruby:test  BASE = task-runner-base-py3ruby:bookworm
#                                          (debootstrap --include=python3,ruby, made here)
#   task-runner-example/python27:test      BASE = task-runner-test-base:bookworm (test-deps.sh)
#                                          + pyenv's Python 2.7 copied to /opt/python2.7
#   task-runner-example/sql-scratch:test   FROM scratch: the binary and include/ only
#
# and write TR_IMAGE_PY3RUBY, TR_IMAGE_PY27, TR_IMAGE_SCRATCH, TR_STATIC_BIN and
# TR_BINARY (the same path) into target/provider-env.sh.
#
# Each image's build context is assembled in a temp dir (Dockerfile, binary,
# include/, extras). The sha256 of that context plus the base image's id is
# stored as the label org.task-runner.inputs: an image whose label matches is
# not rebuilt, so a changed binary, include/ folder or Dockerfile (or base)
# rebuilds exactly the images it affects. Every (re)built image is verified
# by running a trivial task in it; one that fails is removed again.
#
# Needs: docker, the static binary (scripts/test.sh builds it), the test base
# image and python2.7 (scripts/test-deps.sh), debootstrap, root.
#
# Environment (optional):
#   TR_STATIC_BIN        the static binary (default target/x86_64-unknown-linux-musl/release/task-runner)
#   TR_EXAMPLE_INCLUDE   the include/ folder (default examples/project/include)
#   TR_PYTHON27          python2.7 to copy (default: from target/test-env.sh, else pyenv 2.7.*)
#   TR_DOCKER_BASE_IMAGE base of the python27 image (default: from test-env.sh, else task-runner-test-base:bookworm)
#   REBUILD=1            rebuild all three (docker's layer cache still applies)
set -Eeuo pipefail
LOG_TAG=build-images
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"
trap 'printf "[%s] error: exit %s at line %s: %s\n" "$LOG_TAG" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

readonly PREFIX=task-runner-example
readonly IMG_PY3RUBY=$PREFIX/python3-ruby:test
readonly IMG_PY27=$PREFIX/python27:test
readonly IMG_SCRATCH=$PREFIX/sql-scratch:test
readonly PY3RUBY_BASE=task-runner-base-py3ruby:bookworm
readonly IMAGES_DIR=$REPO/examples/images
# Bump when the way contexts are assembled changes.
readonly RECIPE=1

if [[ -f $REPO/target/test-env.sh ]]; then
    # Only for TR_PYTHON27 / TR_DOCKER_BASE_IMAGE defaults; explicit env wins.
    # shellcheck source=/dev/null
    eval "$(env -i bash -c 'source "$1"; printf "ENV_PY27=%q\nENV_BASE=%q\n" "${TR_PYTHON27:-}" "${TR_DOCKER_BASE_IMAGE:-}"' _ "$REPO/target/test-env.sh")"
fi
BIN=${TR_STATIC_BIN:-$REPO/target/x86_64-unknown-linux-musl/release/task-runner}
INCLUDE=${TR_EXAMPLE_INCLUDE:-$REPO/examples/project/include}
PY27=${TR_PYTHON27:-${ENV_PY27:-}}
TEST_BASE=${TR_DOCKER_BASE_IMAGE:-${ENV_BASE:-task-runner-test-base:bookworm}}

# ------------------------------------------------------------------ checks
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap)"
have docker || die "docker CLI not found"
timeout 60 docker info >/dev/null 2>&1 || die "docker daemon not reachable ('docker info' fails)"
[[ -x $BIN ]] || die "static binary $BIN not found: build it with scripts/test.sh (cargo build --release --target x86_64-unknown-linux-musl) or set TR_STATIC_BIN"
BIN=$(readlink -f "$BIN")
if readelf -lW "$BIN" | grep -q 'Requesting program interpreter' || readelf -dW "$BIN" 2>/dev/null | grep -q NEEDED; then
    die "$BIN is not a static binary (it must run in FROM scratch)"
fi
[[ -d $INCLUDE ]] || die "include folder $INCLUDE not found (the example DAG project's include/; set TR_EXAMPLE_INCLUDE)"
INCLUDE=$(readlink -f "$INCLUDE")
for n in python3-ruby python27 sql-scratch; do
    [[ -f $IMAGES_DIR/$n/Dockerfile ]] || die "$IMAGES_DIR/$n/Dockerfile is missing"
done
if [[ -z $PY27 ]]; then
    PY27=$(printf '%s\n' "$(pyenv root 2>/dev/null || echo /root/.pyenv)"/versions/2.7.*/bin/python2.7 | sort -V | tail -n1)
fi
[[ -x $PY27 ]] || die "python2.7 not found (TR_PYTHON27, target/test-env.sh, \$(pyenv root)/versions/2.7.*); run scripts/test-deps.sh"
PY27_PREFIX=$("$PY27" -c 'import sys; print(sys.prefix)') || die "$PY27 does not run"
[[ -f $PY27_PREFIX/lib/python2.7/os.py ]] || die "$PY27_PREFIX does not look like a Python 2.7 prefix (no lib/python2.7/os.py)"
docker image inspect "$TEST_BASE" >/dev/null 2>&1 || die "base image $TEST_BASE not found: run scripts/test-deps.sh"

exec 9>/var/tmp/task-runner-build-images.lock
if ! flock -n 9; then
    log "another build-images.sh run is in progress; waiting for it (max 30 min)"
    flock -w 1800 9 || die "timed out waiting for /var/tmp/task-runner-build-images.lock"
fi

WORK=$(mktemp -d /var/tmp/task-runner-images.XXXXXX)
cleanup() { rm -rf "$WORK"; _debian_cleanup; }
trap cleanup EXIT

# ------------------------------------------------------------ contexts
# new_context NAME: $WORK/NAME with the Dockerfile, the binary and include/.
new_context() {
    local ctx=$WORK/$1
    mkdir -p "$ctx"
    cp "$IMAGES_DIR/$1/Dockerfile" "$ctx/Dockerfile"
    cp "$BIN" "$ctx/task-runner"; chmod 755 "$ctx/task-runner"
    cp -r "$INCLUDE" "$ctx/include"
    find "$ctx/include" \( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +
    echo "$ctx"
}

# The Python 2.7 prefix, pruned of what tasks never need (tests, Tk, IDLE,
# headers), plus the shared libraries its extension modules need that BASE
# does not have (copied from this machine, which runs the same Debian).
python27_tree() {
    local dest=$1 base=$2 f so path
    cp -a "$PY27_PREFIX" "$dest"
    rm -rf "$dest"/include "$dest"/share "$dest"/lib/pkgconfig \
        "$dest"/lib/python2.7/test "$dest"/lib/python2.7/lib-tk "$dest"/lib/python2.7/idlelib \
        "$dest"/lib/python2.7/lib-dynload/_tkinter.so \
        "$dest"/lib/python2.7/config/libpython2.7.a
    find "$dest/lib/python2.7" -depth -type d \( -name test -o -name tests \) -exec rm -rf {} +
    find "$dest" \( -name '*.pyc' -o -name '*.pyo' \) -delete
    docker run --rm --entrypoint ldconfig "$base" -p | awk 'NR > 1 {print $1}' | sort -u >"$WORK/base-libs"
    find "$dest" -type f \( -name '*.so' -o -name '*.so.*' -o -path '*/bin/python2.7' \) -print0 |
        xargs -0 ldd 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
        while read -r so path; do
            [[ $so == libpython2.7* ]] && continue
            grep -qxF "$so" "$WORK/base-libs" && continue
            cp -L "$path" "$dest/lib/$so"
            echo "$so"
        done >"$WORK/bundled-libs"
    log "python27: bundled from the host (missing in $base): $(tr '\n' ' ' <"$WORK/bundled-libs")"
}

# ------------------------------------------------------------ build + verify
BUILT=()
# build_image TAG CTX BASE|-: build unless the label matches.  Sets REBUILT=1/0.
build_image() {
    local tag=$1 ctx=$2 base=$3 inputs cur args=() t0=$SECONDS base_id=scratch old new
    [[ $base == - ]] || base_id=$(docker image inspect -f '{{.Id}}' "$base")
    inputs=$( { echo "recipe $RECIPE"; echo "base $base_id"; tree_hash "$ctx"; } | sha256)
    cur=$(docker image inspect -f '{{index .Config.Labels "org.task-runner.inputs"}}' "$tag" 2>/dev/null || true)
    REBUILT=0
    if [[ ${REBUILD:-0} != 1 && $cur == "$inputs" ]]; then
        echo "ok: $tag is up to date"
        return 0
    fi
    [[ $base == - ]] || args+=(--build-arg "BASE=$base")
    log "building $tag${cur:+ (inputs changed)}"
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    docker build -q "${args[@]}" --label "org.task-runner.inputs=$inputs" -t "$tag" "$ctx" >"$WORK/build.log" 2>&1 ||
        die "docker build of $tag failed:
$(tail -n 40 "$WORK/build.log")"
    # The previous build is now untagged: remove it (and its layers), unless
    # something still uses it.
    new=$(docker image inspect -f '{{.Id}}' "$tag")
    if [[ -n $old && $old != "$new" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
    REBUILT=1
    BUILT+=("$tag ($((SECONDS - t0))s)")
}

# run_task TAG SPEC EXPECTED-XCOM: runs SPEC in TAG with an XCom mount and
# compares return.json; on a mismatch the image is removed and we die.
run_task() {
    local tag=$1 spec=$2 want=$3 out xdir got
    xdir=$(mktemp -d "$WORK/xcom.XXXXXX")
    if ! out=$(timeout 120 docker run --rm -e TASK_RUNNER_SPEC="$spec" -v "$xdir:/airflow/xcom" "$tag" 2>&1); then
        docker rmi -f "$tag" >/dev/null 2>&1 || true
        die "verify $tag: the task failed (image removed); spec:
$spec
output:
$out"
    fi
    got=$(cat "$xdir/return.json" 2>/dev/null || echo '<no return.json>')
    # Compared as JSON values (the shims write `[3, true]`, the runner `[3,true]`).
    if ! python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.loads(sys.argv[2]))' "$got" "$want" 2>/dev/null; then
        docker rmi -f "$tag" >/dev/null 2>&1 || true
        die "verify $tag: XCom is '$got', expected '$want' (image removed); spec:
$spec
output:
$out"
    fi
}

# The names in folder $1 as a sorted JSON list.
ls_json() { python3 -c 'import json, os, sys; print(json.dumps(sorted(os.listdir(sys.argv[1]))))' "$1"; }

START=$SECONDS

# 1. python3 + ruby
debian_base_image "$PY3RUBY_BASE" python3 ruby
ctx=$(new_context python3-ruby)
build_image "$IMG_PY3RUBY" "$ctx" "$PY3RUBY_BASE"
if ((REBUILT)); then
    run_task "$IMG_PY3RUBY" $'operator: bash\nbash_command: echo hi' '"hi"'
    run_task "$IMG_PY3RUBY" '{"operator": "python", "python_callable": "f", "python_source": "def f():\n    import os, sys\n    return [sys.version_info[0], sorted(os.listdir(\"/opt/airflow/include\"))]\n"}' "[3, $(ls_json "$ctx/include")]"
    run_task "$IMG_PY3RUBY" '{"operator": "ruby", "ruby_script": "require \"json\"\nJSON.parse(\"[3]\")"}' '[3]'
    echo "ok: $IMG_PY3RUBY runs bash, python3 and ruby tasks"
fi

# 2. python 2.7
ctx=$(new_context python27)
python27_tree "$ctx/python2.7" "$TEST_BASE"
build_image "$IMG_PY27" "$ctx" "$TEST_BASE"
if ((REBUILT)); then
    run_task "$IMG_PY27" '{"operator": "python", "python": "python2.7", "python_callable": "f", "python_source": "def f():\n    import os, sys, ssl, sqlite3\n    return [list(sys.version_info[:2]), sorted(os.listdir(\"/opt/airflow/include\"))]\n"}' "[[2, 7], $(ls_json "$ctx/include")]"
    echo "ok: $IMG_PY27 runs a python2.7 task"
fi

# 3. FROM scratch, SQL only
ctx=$(new_context sql-scratch)
mkdir -p "$ctx/rootfs/tmp" "$ctx/rootfs/airflow/xcom"
chmod 1777 "$ctx/rootfs/tmp"
build_image "$IMG_SCRATCH" "$ctx" -
if ((REBUILT)); then
    run_task "$IMG_SCRATCH" $'operator: sql\nconn_id: sqlite_default\nsql: select 1 as one' '[[1]]'
    echo "ok: $IMG_SCRATCH runs a SQL task on sqlite_default"
fi

env_file_set TR_IMAGE_PY3RUBY "$IMG_PY3RUBY" TR_IMAGE_PY27 "$IMG_PY27" TR_IMAGE_SCRATCH "$IMG_SCRATCH" \
    TR_STATIC_BIN "$BIN" TR_BINARY "$BIN"
for t in "$IMG_PY3RUBY" "$IMG_PY27" "$IMG_SCRATCH"; do
    printf 'ok: %-40s %s\n' "$t" "$(docker image inspect -f '{{.Size}}' "$t" | awk '{printf "%.1f MB", $1/1e6}')"
done
echo "ok: example images ready in $((SECONDS - START))s${BUILT:+; built: ${BUILT[*]}}; env: $PROVIDER_ENV"
