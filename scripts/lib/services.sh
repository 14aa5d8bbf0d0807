# shellcheck shell=bash source-path=SCRIPTDIR
# PostgreSQL and MariaDB for one run of the tests, owned by the shell that
# starts them. A run has a directory of its own, target/test-services/<run>,
# two ports that were free when it started, and its URLs in
# target/test-env.sh (TR_PG_URL, TR_MYSQL_URL).
#
#   services_own RUN   from the shell that is to own the servers (not from a
#                      subshell or $(...)): starts them as its children, and
#                      sets the traps that stop them when it exits, fails or
#                      is interrupted. If it dies without running a trap
#                      (SIGKILL), the kernel signals the servers
#                      (setpriv --pdeathsig), so nothing outlives the owner.
#   services_down RUN  stops the servers and deletes the directory; its URLs
#                      in target/test-env.sh make way for another live run's
#                      (an interactive pair's), or are removed.
#
# scripts/test.sh owns one run; scripts/services.sh up starts a detached
# shell that owns one for interactive use. Needs root.

LOG_TAG=${LOG_TAG:-services}
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=postgres.sh
source "$REPO/scripts/lib/postgres.sh"
# shellcheck source=mariadb.sh
source "$REPO/scripts/lib/mariadb.sh"

readonly SERVICES_ROOT=$REPO/target/test-services
readonly TEST_ENV=$REPO/target/test-env.sh

# free_port [NOT...]: a port nothing listens on, not one of NOT. From 20000-32767,
# below Linux's ephemeral range (32768-60999), so outgoing connections do not
# take it; a server that loses the race for it anyway is started again on
# another (svc_ready).
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12768))
        [[ " $* " != *" $p "* ]] || continue
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    die "no free port found in 20000-32767"
}

# A process's start time (clock ticks after boot): with its pid, it names the
# process even after the pid is reused.
proc_start() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    awk '{print $20}' <<<"$stat"
}

# svc_record KEY VALUE: append to the run's state file (read by svc_state:
# the last line for a key wins).
svc_record() { printf '%s=%q\n' "$1" "$2" >>"$RUN_DIR/state"; }

# svc_stop PID SIGNAL MATCH: stop one of our servers, and only if its command
# line contains MATCH (its data dir), so a reused pid is never signalled.
svc_stop() {
    local pid=$1 sig=$2 match=$3 i
    [[ -n $pid ]] && pid_alive "$pid" || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        log "pid $pid did not stop within 30s of SIG$sig; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true # reaped, if it is this shell's child
}

# svc_base DIR: where the servers' files go. DIR itself when users postgres and
# mysql can reach it and it is short enough for the sockets (107 bytes); else
# (a checkout under /root, mode 700, or a deep path) a directory under /tmp,
# linked as DIR/srv.
svc_base() {
    local dir=$1 base
    if ((${#dir} <= 80)) && (cd / && runuser -u postgres -- test -x "$dir" && runuser -u mysql -- test -x "$dir"); then
        echo "$dir"
        return 0
    fi
    base=$(mktemp -d /tmp/task-runner-services.XXXXXX)
    chmod 755 "$base"
    ln -s "$base" "$dir/srv"
    echo "$base"
}

# svc_ready KIND DIR SETPRIV_ARG...: wait for the server KIND (pg or my)
# launched on port ${KIND}_PORT; if another process bound that port first,
# launch it again on another (5 tries).
svc_ready() {
    local kind=$1 dir=$2 port_var pid_var rc i
    shift 2
    port_var=${kind^^}_PORT pid_var=${kind^^}_PID
    for ((i = 1; ; i++)); do
        rc=0
        "${kind}_wait" "$dir" || rc=$?
        ((rc == 2 && i < 5)) || return "$rc"
        log "$([[ $kind == pg ]] && echo postgresql || echo mariadb): port ${!port_var} was taken before the server bound it; trying another"
        printf -v "$port_var" %s "$(free_port "$PG_PORT" "$MY_PORT")"
        svc_record "${kind}_port" "${!port_var}"
        "${kind}_launch" "$dir" "${!port_var}" "$@"
        svc_record "${kind}_pid" "${!pid_var}"
    done
}

# services_up RUN: start the pair, as children of this shell.
services_up() {
    local run=$1 base t0=$SECONDS a b rc=0 pg_ver my_ver
    RUN_DIR=$SERVICES_ROOT/$run
    [[ $(id -u) -eq 0 ]] || die "must run as root (the servers run as users postgres and mysql)"
    pg_bin >/dev/null
    my_bins
    services_sweep
    mkdir -p "$SERVICES_ROOT"
    # mkdir fails if the directory exists: then it is not ours to remove.
    mkdir "$RUN_DIR" 2>/dev/null || die "$RUN_DIR already exists (scripts/services.sh down $run)"
    SERVICES_RUN=$run # what services_own's traps stop
    local me=$BASHPID # (inside $(...) it would be the subshell's)
    # One write, so a sweep never sees an owner without its start time.
    printf 'owner=%q\nowner_start=%q\n' "$me" "$(proc_start "$me")" >"$RUN_DIR/state"
    base=$(svc_base "$RUN_DIR")
    svc_record base "$base"
    log "run $run: initialising PostgreSQL and MariaDB in $base"
    # initdb and mariadb-install-db side by side (a few seconds each).
    pg_init "$base/pg" &
    a=$!
    my_init "$base/mariadb" &
    b=$!
    SVC_INIT_PIDS="$a $b"
    wait "$a" || rc=1
    wait "$b" || rc=1
    SVC_INIT_PIDS=""
    ((rc == 0)) || die "initialising the servers failed (above)"

    PG_PORT=$(free_port) MY_PORT=""
    MY_PORT=$(free_port "$PG_PORT")
    svc_record pg_port "$PG_PORT"
    svc_record my_port "$MY_PORT"
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM is MariaDB's shutdown.
    pg_launch "$base/pg" "$PG_PORT" --pdeathsig INT
    svc_record pg_pid "$PG_PID"
    my_launch "$base/mariadb" "$MY_PORT" --pdeathsig TERM
    svc_record my_pid "$MY_PID"
    svc_ready pg "$base/pg" --pdeathsig INT ||
        die "postgresql: the server did not start; log tail ($base/pg/postgres.log):
$(tail -n 30 "$base/pg/postgres.log" | sed 's/^/    | /')"
    svc_ready my "$base/mariadb" --pdeathsig TERM ||
        die "mariadb: the server did not start; log tail ($base/mariadb/error.log):
$(tail -n 30 "$base/mariadb/error.log" | sed 's/^/    | /')"
    pg_provision "$base/pg" "$PG_PORT" || die "postgresql: could not create role and database $PG_USER"
    my_provision "$base/mariadb" || die "mariadb: could not create user and database $MY_USER"

    TR_PG_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
    TR_MYSQL_URL=mysql://$MY_USER:$MY_PASSWORD@127.0.0.1:$MY_PORT/$MY_DB
    export TR_PG_URL TR_MYSQL_URL
    pg_ver=$(pg_check "$TR_PG_URL") || exit 1
    my_ver=$(my_check "$MY_PORT") || exit 1
    env_file_edit "$TEST_ENV" TR_PG_URL "$TR_PG_URL" TR_MYSQL_URL "$TR_MYSQL_URL"
    svc_record pg_url "$TR_PG_URL"
    svc_record my_url "$TR_MYSQL_URL"
    echo "ok: postgresql $pg_ver on 127.0.0.1:$PG_PORT (scram-sha-256, TLS), mariadb $my_ver on 127.0.0.1:$MY_PORT; run $run, up in $((SECONDS - t0))s"
}

# services_down RUN: stop the run's servers (if running) and remove its files.
# If target/test-env.sh has its URLs, they make way for another live run's
# (an interactive pair under a finished test run), or are removed.
services_down() {
    local run=$1 dir=$SERVICES_ROOT/$1 state=$SERVICES_ROOT/$1/state base pg_url my_url other p
    [[ -f $state ]] || return 0
    # Interrupted while initialising: let initdb and mariadb-install-db end
    # (they got the ctrl-C too) before their files are removed.
    for p in ${SVC_INIT_PIDS:-}; do wait "$p" 2>/dev/null || true; done
    base=$(svc_state "$state" base)
    if [[ -n $base ]]; then
        svc_stop "$(svc_state "$state" pg_pid)" INT "$base/pg/data"
        svc_stop "$(svc_state "$state" my_pid)" TERM "$base/mariadb/data"
    fi
    pg_url=$(svc_state "$state" pg_url)
    if [[ -n $pg_url && -f $TEST_ENV ]] && grep -qxF "export TR_PG_URL=$(printf %q "$pg_url")" "$TEST_ENV"; then
        pg_url="" my_url=""
        for other in "$SERVICES_ROOT"/*/state; do
            if [[ $other != "$state" ]] && svc_live "$other"; then
                pg_url=$(svc_state "$other" pg_url) my_url=$(svc_state "$other" my_url)
                break
            fi
        done
        env_file_edit "$TEST_ENV" TR_PG_URL "$pg_url" TR_MYSQL_URL "$my_url"
    fi
    # Never fails: it runs in EXIT traps, where a failure would replace the exit status.
    if [[ -n $base && $base != "$dir" && $base == /tmp/task-runner-services.* ]]; then
        rm -rf --one-file-system "$base" || log "run $run: could not remove $base"
    fi
    # The state file goes last: while it is there, the next sweep retries.
    if find "$dir" -mindepth 1 -maxdepth 1 ! -name state -exec rm -rf --one-file-system {} + &&
        rm -rf "$dir"; then
        log "run $run: servers stopped, $dir removed"
    else
        log "run $run: servers stopped; could not remove $dir (the next run removes it)"
    fi
}

# svc_state STATE KEY: the value of KEY in a state file (the last one).
svc_state() { (eval "$(grep "^$2=" "$1" | tail -n1)" && echo "${!2:-}"); }

# svc_owner_alive STATE: is the run's owner alive (the same process, not a
# reused pid)?
svc_owner_alive() {
    local owner
    owner=$(svc_state "$1" owner)
    pid_alive "$owner" && [[ $(proc_start "$owner") == "$(svc_state "$1" owner_start)" ]]
}

# svc_live STATE: is the run's owner alive and are its servers up?
svc_live() { svc_owner_alive "$1" && [[ -n $(svc_state "$1" my_url) ]]; }

# services_sweep: remove the runs whose owner is gone (killed by SIGKILL, so
# no trap ran: its servers were signalled by the kernel and are gone too).
services_sweep() {
    local state run
    for state in "$SERVICES_ROOT"/*/state; do
        if [[ ! -f $state ]] || svc_owner_alive "$state"; then continue; fi
        run=$(basename "$(dirname "$state")")
        log "run $run: its owner (pid $(svc_state "$state" owner)) is gone; removing what is left"
        services_down "$run"
    done
}

# services_own RUN: services_up RUN, stopped by services_down RUN when this
# shell exits (errexit and die included) or gets INT, TERM or HUP.
services_own() {
    SERVICES_RUN=""
    trap '[[ -z $SERVICES_RUN ]] || services_down "$SERVICES_RUN"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    services_up "$1"
}
