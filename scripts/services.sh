#!/usr/bin/env bash
# scripts/services.sh -- the tests' PostgreSQL and MariaDB outside
# scripts/test.sh (which starts and stops a pair of its own per run).
#
#   scripts/services.sh up          start a pair for interactive use; it runs
#                                   until `down`. Its URLs go to
#                                   target/test-env.sh, which the tests read.
#   scripts/services.sh down        stop it
#   scripts/services.sh status      the pairs running for this checkout
#   scripts/services.sh run CMD...  a pair for CMD alone: up, CMD with
#                                   TR_PG_URL and TR_MYSQL_URL exported, down
#
# Install the servers first (scripts/test-deps.sh). Needs root. How a pair
# lives and ends: scripts/lib/services.sh.
set -Eeuo pipefail
LOG_TAG=services
# shellcheck source=lib/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

readonly RUN=interactive
readonly STATE=$SERVICES_ROOT/$RUN/state
readonly KEEPER_LOG=$SERVICES_ROOT/$RUN.log

usage() { sed -n '4,11s/^# \{0,1\}//p' "$0" >&2; exit 64; }

# The shell that owns the interactive pair, detached by `up`: it stops the
# pair when `down` sends it SIGTERM, or when either server exits.
serve() {
    services_own "$RUN"
    wait -n "$PG_PID" "$MY_PID" || true
    log "a server exited; stopping the other"
    exit 1
}

up() {
    local keeper i
    if [[ -f $STATE ]] && svc_live "$STATE"; then
        echo "ok: already up (owner pid $(svc_state "$STATE" owner)); TR_PG_URL=$(svc_state "$STATE" pg_url) TR_MYSQL_URL=$(svc_state "$STATE" my_url)"
        return 0
    fi
    services_sweep
    mkdir -p "$SERVICES_ROOT"
    # Not a process group leader (no job control here), so setsid does not fork:
    # $! is the keeper.
    setsid bash "$0" serve </dev/null >"$KEEPER_LOG" 2>&1 &
    keeper=$!
    for ((i = 0; i < 1800; i++)); do
        if [[ -f $STATE ]] && svc_live "$STATE"; then
            cat "$KEEPER_LOG"
            echo "ok: up until 'scripts/services.sh down' (owner pid $keeper); URLs in $TEST_ENV"
            return 0
        fi
        pid_alive "$keeper" || { cat "$KEEPER_LOG" >&2; die "the services did not start (log above)"; }
        sleep 0.1
    done
    kill -TERM "$keeper" 2>/dev/null || true
    die "the services were not up within 180s; log: $KEEPER_LOG"
}

down() {
    local keeper i
    if [[ -f $STATE ]] && svc_live "$STATE"; then
        keeper=$(svc_state "$STATE" owner)
        kill -TERM "$keeper"
        for ((i = 0; i < 600; i++)); do
            pid_alive "$keeper" || break
            sleep 0.1
        done
        ! pid_alive "$keeper" || die "the owner (pid $keeper) did not stop within 60s"
        tail -n 1 "$KEEPER_LOG" 2>/dev/null || true
    fi
    services_down "$RUN" # whatever a dead owner left
    rm -f "$KEEPER_LOG"
    echo "ok: down"
}

status() {
    local state n=0
    for state in "$SERVICES_ROOT"/*/state; do
        [[ -f $state ]] || continue
        n=$((n + 1))
        printf '%s: owner pid %s %s; postgresql 127.0.0.1:%s, mariadb 127.0.0.1:%s\n' \
            "$(basename "$(dirname "$state")")" "$(svc_state "$state" owner)" \
            "$(svc_live "$state" && echo up || echo 'gone (removed by the next up)')" \
            "$(svc_state "$state" pg_port)" "$(svc_state "$state" my_port)"
    done
    ((n)) || echo "no services running for $REPO"
}

case ${1:-} in
up | down | status) "$1" ;;
serve) serve ;;
run)
    shift
    (($#)) || usage
    services_own "$(date +%Y%m%d-%H%M%S)-$$"
    "$@"
    ;;
*) usage ;;
esac
