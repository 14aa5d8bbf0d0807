#!/usr/bin/env bash
# scripts/test-deps.sh -- install and check what the tests need that outlives
# a run, on a Debian 12 machine where we are root, and write the toolchain
# half of target/test-env.sh (TR_PYTHON3, TR_PYTHON27, TR_RUBY,
# TR_DOCKER_BASE_IMAGE, TR_MUSL_TARGET):
#
#   apt packages              scripts/lib/apt.sh
#   musl target, interpreters scripts/lib/toolchains.sh
#   Docker base image         scripts/lib/debian.sh (debootstrap + import: no
#                             registry can be reached)
#
# It starts no server: scripts/test.sh starts PostgreSQL and MariaDB for each
# run and stops them when it ends (scripts/lib/services.sh), and
# `scripts/services.sh up` starts a pair for interactive use.
#
# Every step first checks whether its result is there, so a warm run takes a
# few seconds. A failed step is reported and the others still run, so one run
# names everything that is missing.
#
#   TR_DEBIAN_MIRROR   Debian mirror for debootstrap (default: taken from apt)
#   TR_PYTHON27        a python2.7 interpreter (default: the newest pyenv 2.7.*)
set -Eeuo pipefail
shopt -s nullglob
LOG_TAG=test-deps
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/apt.sh
source "$REPO/scripts/lib/apt.sh"
# shellcheck source=lib/toolchains.sh
source "$REPO/scripts/lib/toolchains.sh"
# shellcheck source=lib/debian.sh
source "$REPO/scripts/lib/debian.sh"

readonly APT_PACKAGES=(musl-tools ruby postgresql postgresql-client mariadb-server
    mariadb-client util-linux bash procps debootstrap coreutils sqlite3 openssl strace
    docker-compose)
readonly DOCKER_IMAGE=task-runner-test-base:bookworm
readonly TEST_ENV=$REPO/target/test-env.sh

ensure_docker_image() {
    have docker || die "docker CLI not found on PATH"
    timeout 60 docker info >/dev/null 2>&1 || die "docker daemon not reachable ('docker info' fails)"
    # Images are machine-wide: one debootstrap at a time.
    exec 8>/var/tmp/task-runner-test-base.lock
    flock -w 1800 8 || die "timed out waiting for /var/tmp/task-runner-test-base.lock"
    debian_base_image "$DOCKER_IMAGE"
    timeout 120 docker run --rm "$DOCKER_IMAGE" /bin/true || die "'docker run --rm $DOCKER_IMAGE /bin/true' failed"
}

# step NAME FUNCTION: run FUNCTION in a subshell with errexit (not in an `if`,
# which would switch errexit off inside); a failure is recorded, not fatal.
FAILED=()
step() {
    local name=$1 rc
    shift
    set +e
    (
        set -e
        "$@"
    )
    rc=$?
    set -e
    if ((rc != 0)); then
        FAILED+=("$name")
        echo "FAILED: $name"
    fi
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs apt packages and runs debootstrap)"
START=$SECONDS
toolchains_path
apt_ensure "${APT_PACKAGES[@]}" # first: the other steps use what it installs

step "rust target $MUSL_TARGET" ensure_musl_target
find_interpreters
step interpreters check_interpreters
step tools ensure_tools
step "docker image $DOCKER_IMAGE" ensure_docker_image

env_file_edit "$TEST_ENV" TR_PYTHON3 "$TR_PYTHON3" TR_PYTHON27 "$TR_PYTHON27" TR_RUBY "$TR_RUBY" \
    TR_DOCKER_BASE_IMAGE "$DOCKER_IMAGE" TR_MUSL_TARGET "$MUSL_TARGET"
if ((${#FAILED[@]})); then
    die "failed: $(IFS=,; echo "${FAILED[*]}"); $TEST_ENV is written but the test environment is INCOMPLETE"
fi
echo "ok: test dependencies ready in $((SECONDS - START))s; env: $TEST_ENV (servers: scripts/test.sh starts its own, scripts/services.sh up for interactive use)"
