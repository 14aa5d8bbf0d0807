#!/usr/bin/env bash
# scripts/test-deps.sh -- install, start and verify everything the
# task-runner integration tests need, on a Debian 12 machine where we are root.
#
#   * apt packages (musl-tools, ruby, postgresql, mariadb, debootstrap, strace, ...)
#   * the x86_64-unknown-linux-musl rustup target
#   * python3 + python2.7 (pyenv) + ruby interpreters (located, not installed)
#   * a private PostgreSQL server on 127.0.0.1:55432 (scram-sha-256, TLS on)
#   * a private MariaDB server on 127.0.0.1:53306
#   * a docker base image task-runner-test-base:bookworm (debootstrap + import)
#   * $REPO/target/test-env.sh with the TR_* variables the tests read
#
# Idempotent: every step first checks whether its result is already there, so
# a warm run only performs the checks (a few seconds).  It also recovers from
# servers that were killed (stale pid/lock/socket files are detected and
# removed).  Any missing piece makes the script exit non-zero with a message
# naming it.  Runs of this script are serialised with flock.
#
# Environment knobs (all optional):
#   TR_SERVICES_DIR    where the server data dirs live
#                      (default: $REPO/target/test-services, see below)
#   TR_DEBIAN_MIRROR   Debian mirror for debootstrap (default: taken from apt)
#   TR_PYTHON27        explicit path of a python2.7 interpreter
set -Eeuo pipefail
shopt -s nullglob

# ----------------------------------------------------------------- constants
readonly PG_PORT=55432
readonly PG_USER=taskrunner
readonly PG_PASSWORD=tr-pg-Secret-42
readonly PG_DB=taskrunner
readonly MY_PORT=53306
readonly MY_USER=taskrunner
readonly MY_PASSWORD=tr-my-Secret-42
readonly MY_DB=taskrunner
readonly DOCKER_IMAGE=task-runner-test-base:bookworm
readonly MUSL_TARGET=x86_64-unknown-linux-musl
TR_PG_URL="postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/${PG_DB}"
TR_MYSQL_URL="mysql://${MY_USER}:${MY_PASSWORD}@127.0.0.1:${MY_PORT}/${MY_DB}"
readonly APT_PACKAGES=(musl-tools ruby postgresql postgresql-client mariadb-server
    mariadb-client util-linux bash procps debootstrap coreutils sqlite3 openssl strace)
# Machine-wide fallback location for the server data dirs (see choose_services_dir).
readonly FALLBACK_SERVICES_DIR=/var/tmp/task-runner-test-services

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
readonly REPO
readonly ENV_FILE="$REPO/target/test-env.sh"

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
# Make sure ambient client settings cannot change what we connect to.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSSLMODE \
      PGOPTIONS PGPASSFILE MYSQL_HOST MYSQL_TCP_PORT MYSQL_PWD MYSQL_UNIX_PORT || true
# Non-interactive CI shells often lack ~/.cargo/bin and pyenv on PATH.
for d in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
    [[ -d $d && ":$PATH:" != *":$d:"* ]] && PATH="$PATH:$d"
done
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH

# ------------------------------------------------------------------- helpers
log()  { printf '[test-deps] %s\n' "$*" >&2; }
die()  { printf '\n[test-deps] FATAL: %s\n\n' "$*" >&2; exit 1; }
on_err() { printf '[test-deps] error: command failed (exit %s) at line %s: %s\n' "$1" "$2" "$3" >&2; }
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

have() { command -v "$1" >/dev/null 2>&1; }

# Run a command as another user from a directory that user can read.
# fd 9 (the flock) is closed so servers started this way don't hold the lock.
as_user() { local u=$1; shift; (cd / && runuser -u "$u" -- "$@" 9>&-); }

# Is something accepting TCP connections on 127.0.0.1:$1 ?
port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# PIDs of processes listening on TCP port $1 (via /proc, no iproute2 needed).
port_listener_pids() {
    local hexport inodes ino fd pid
    hexport=$(printf '%04X' "$1")
    inodes=$(awk -v p=":$hexport" '$4=="0A" && substr($2, length($2)-4)==p {print $10}' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
    [[ -n $inodes ]] || return 0
    for fd in /proc/[0-9]*/fd/*; do
        ino=$(readlink "$fd" 2>/dev/null) || continue
        for i in $inodes; do
            if [[ $ino == "socket:[$i]" ]]; then
                pid=${fd#/proc/}; echo "${pid%%/*}"
            fi
        done
    done | sort -u
}

describe_pids() {
    local p
    for p in "$@"; do
        printf '    pid %s: %s\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || echo '?')"
    done
}

# Is pid $1 alive (zombies count as dead: without a reaping init they linger,
# and kill -0 still succeeds on them) and is its name one of $2 (regex)?
pid_is() {
    local pid=$1 re=$2 comm stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != [ZX] ]] || return 1
    [[ $comm =~ ^($re)$ ]]
}

# Terminate a process that an earlier run of this script started, by pid.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
}

# A listener on our port that is a postgres/mariadb started by this script
# (from any checkout: its command line or cwd mentions a test-services dir)
# but that we could not use is stopped; anything else is a fatal conflict.
free_port_or_die() {
    local port=$1 what=$2 re=$3 pids p cmd cwd
    port_open "$port" || return 0
    pids=$(port_listener_pids "$port")
    for p in $pids; do
        cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
        cwd=$(readlink "/proc/$p/cwd" 2>/dev/null || true)
        if pid_is "$p" "$re" && [[ "$cmd $cwd" == *test-services* ]]; then
            log "$what: stopping unusable leftover server pid $p ($cmd)"
            stop_pid "$p"
        fi
    done
    if port_open "$port"; then
        # shellcheck disable=SC2046  # word-splitting the pid list is intended
        die "$what: 127.0.0.1:$port is already in use by something this script cannot use or stop:
$(describe_pids $(port_listener_pids "$port"))
Stop it (or free the port) and re-run."
    fi
}

# ------------------------------------------------------------------- locking
# Ports are machine-wide, so serialise runs machine-wide.
exec 9>/var/tmp/task-runner-test-deps.lock
if ! flock -n 9; then
    log "another test-deps.sh run is in progress; waiting for it (max 30 min)"
    flock -w 1800 9 || die "timed out waiting for /var/tmp/task-runner-test-deps.lock"
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs apt packages and starts servers)"

# --------------------------------------------------------------- 1. apt
pkg_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

apt_get() {
    apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@"
}

ensure_apt_packages() {
    local missing=() p i
    for p in "${APT_PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    if ((${#missing[@]})); then
        log "installing apt packages: ${missing[*]}"
        # apt-get update takes the lists lock, which DPkg::Lock::Timeout may not
        # cover on every apt version: retry while another apt holds it.
        for i in $(seq 1 60); do
            apt_get update -q >&2 && break
            ((i < 60)) || die "apt-get update kept failing (lock held or mirror unreachable)"
            log "apt-get update failed, retrying in 10s ($i/60)"; sleep 10
        done
        # Don't let the packages' maintainer scripts start the stock
        # postgres/mariadb services: we run our own instances.
        local rcd=/usr/sbin/policy-rc.d created_rcd=0
        if [[ ! -e $rcd ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$rcd"; chmod 755 "$rcd"; created_rcd=1
        fi
        apt_get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
            { ((created_rcd)) && rm -f "$rcd"; die "apt-get install failed for: ${missing[*]}"; }
        ((created_rcd)) && rm -f "$rcd"
        for p in "${missing[@]}"; do
            pkg_installed "$p" || die "apt package '$p' is still not installed after apt-get install"
        done
    fi
    echo "ok: apt packages (${#APT_PACKAGES[@]} checked${missing:+, installed ${missing[*]}})"
}

# ------------------------------------------------------- 2. rust musl target
ensure_musl_target() {
    have rustup || die "rustup not found (looked on PATH and in ~/.cargo/bin); needed for target $MUSL_TARGET"
    if ! (cd "$REPO" && rustup target list --installed) | grep -qx "$MUSL_TARGET"; then
        log "rustup target add $MUSL_TARGET"
        (cd "$REPO" && rustup target add "$MUSL_TARGET") ||
            die "rustup target add $MUSL_TARGET failed (static.rust-lang.org unreachable?)"
    fi
    local libdir
    libdir=$(cd "$REPO" && rustc --print target-libdir --target "$MUSL_TARGET")
    compgen -G "$libdir/libstd-*.rlib" >/dev/null ||
        die "rust std for $MUSL_TARGET missing in $libdir"
    echo "ok: rust target $MUSL_TARGET ($(cd "$REPO" && rustc --version))"
}

# --------------------------------------------------- 3. interpreters (find)
find_python3() {
    local c exe
    for c in "$(command -v python3 || true)" /usr/bin/python3 /usr/local/bin/python3; do
        [[ -n $c && -x $c ]] || continue
        # Resolve pyenv shims etc. to the real interpreter.
        exe=$("$c" -c 'import sys; assert sys.version_info[0] == 3; print(sys.executable)' 2>/dev/null) || continue
        [[ $exe == /* && -x $exe ]] && { echo "$exe"; return 0; }
    done
    return 1
}

find_python27() {
    if [[ -n ${TR_PYTHON27:-} ]]; then
        [[ -x $TR_PYTHON27 ]] && { echo "$TR_PYTHON27"; return 0; }
        log "TR_PYTHON27=$TR_PYTHON27 is not executable; searching pyenv"
    fi
    local roots=() r cands=() best
    have pyenv && r=$(pyenv root 2>/dev/null) && roots+=("$r")
    roots+=("${PYENV_ROOT:-}" /root/.pyenv "$HOME/.pyenv")
    for r in "${roots[@]}"; do
        [[ -n $r ]] || continue
        cands+=("$r"/versions/2.7.*/bin/python2.7)
    done
    if ((${#cands[@]})); then
        best=$(printf '%s\n' "${cands[@]}" | sort -uV | tail -n1)
        [[ -x $best ]] && { echo "$best"; return 0; }
    fi
    r=$(command -v python2.7 || true)
    [[ -n $r ]] && { echo "$r"; return 0; }
    return 1
}

# ---------------------------------------------------------- services dir
# Default: $REPO/target/test-services.  The postgres and mysql users must be
# able to traverse every parent of their data dirs; a checkout under /root
# (mode 700) would make that fail, and chmod-ing someone's home is not ours to
# do.  So if either user cannot reach the directory we use a fixed,
# world-traversable, machine-wide location instead: the servers listen on
# fixed ports, so there is only ever one instance per machine anyway.
choose_services_dir() {
    local want=${TR_SERVICES_DIR:-$REPO/target/test-services} u
    mkdir -p "$want"
    for u in postgres mysql; do
        if ! as_user "$u" test -x "$want" -a -r "$want"; then
            log "user $u cannot reach $want; using $FALLBACK_SERVICES_DIR"
            mkdir -p "$FALLBACK_SERVICES_DIR"; chmod 755 "$FALLBACK_SERVICES_DIR"
            echo "$FALLBACK_SERVICES_DIR"; return 0
        fi
    done
    (cd "$want" && pwd -P)
}

# ------------------------------------------------------------ 4. PostgreSQL
pg_env() {
    local v vs=()
    for v in /usr/lib/postgresql/*/bin/pg_ctl; do
        v=${v#/usr/lib/postgresql/}; vs+=("${v%%/*}")
    done
    PG_VERSION=$( ((${#vs[@]})) && printf '%s\n' "${vs[@]}" | sort -V | tail -n1 || true)
    [[ -n $PG_VERSION ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
    PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
    PG_DIR=$SERVICES_DIR/pg
    PG_DATA=$PG_DIR/data
    PG_LOG=$PG_DIR/postgres.log
    PG_SOCKDIR=/tmp  # short path (unix socket paths are limited to ~107 bytes)
}

# Usable = we can log in over TLS with the test credentials, and the server's
# data directory still exists (after `cargo clean` a server may still answer
# from deleted files; it is then stopped and re-created).
pg_login_ok() {
    local d
    d=$(PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" "$TR_PG_URL?sslmode=require" -XAtqc 'show data_directory' 2>/dev/null) || return 1
    [[ -n $d && -f $d/PG_VERSION ]] || { log "postgresql: running server's data dir '$d' is gone"; return 1; }
}

pg_tail_log() { tail -n 30 "$PG_LOG" 2>/dev/null | sed 's/^/    | /' || true; }

# Is the postmaster recorded in $PG_DATA/postmaster.pid alive and ours?
pg_ours_running() {
    local pid
    [[ -f $PG_DATA/postmaster.pid ]] || return 1
    pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 1
    pid_is "$pid" 'postgres|postmaster' || return 1
    # A postmaster's cwd is its data directory.
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(readlink -f "$PG_DATA")" ]]
}

pg_clean_stale() {
    local f pid data
    [[ -d $PG_DATA ]] || return 0
    data=$(readlink -f "$PG_DATA")
    # Backends orphaned by a killed postmaster keep the old shared memory
    # attached and make a new postmaster refuse to start; their cwd is the
    # data dir, which identifies them as ours.
    for f in /proc/[0-9]*/cwd; do
        pid=${f#/proc/}; pid=${pid%/cwd}
        if [[ $(readlink "$f" 2>/dev/null) == "$data" ]] && pid_is "$pid" 'postgres|postmaster'; then
            log "postgresql: killing orphaned server process $pid"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [[ -f $PG_DATA/postmaster.pid ]]; then
        log "postgresql: removing stale $PG_DATA/postmaster.pid"
        rm -f "$PG_DATA/postmaster.pid"
    fi
    f=$PG_SOCKDIR/.s.PGSQL.$PG_PORT.lock
    if [[ -f $f ]]; then
        pid=$(head -n1 "$f" 2>/dev/null || true)
        if ! pid_is "$pid" 'postgres|postmaster'; then
            log "postgresql: removing stale socket lock $f"
            rm -f "$f" "$PG_SOCKDIR/.s.PGSQL.$PG_PORT"
        fi
    fi
}

pg_init() {
    mkdir -p "$PG_DIR"
    chown postgres:postgres "$PG_DIR"; chmod 700 "$PG_DIR"
    if [[ -f $PG_DATA/PG_VERSION && $(cat "$PG_DATA/PG_VERSION") != "$PG_VERSION" ]]; then
        log "postgresql: data dir is for version $(cat "$PG_DATA/PG_VERSION"), recreating for $PG_VERSION"
        rm -rf "$PG_DATA"
    fi
    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        rm -rf "$PG_DATA"   # half-initialised leftovers make initdb refuse
        log "postgresql: initdb $PG_DATA"
        as_user postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
            --auth-local=peer --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
            die "postgresql: initdb failed:
$(tail -n 30 "$PG_DIR/initdb.log")"
    fi
    # (Re)written before every start, so config changes here take effect.
    if [[ ! -s $PG_DATA/server.key || ! -s $PG_DATA/server.crt ]]; then
        have openssl || die "openssl not found (needed for the PostgreSQL TLS certificate)"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
            -keyout "$PG_DATA/server.key" -out "$PG_DATA/server.crt" >/dev/null 2>&1 ||
            die "postgresql: openssl could not create a self-signed certificate"
    fi
    chown postgres:postgres "$PG_DATA/server.key" "$PG_DATA/server.crt"
    chmod 600 "$PG_DATA/server.key"
    cat >"$PG_DATA/task-runner.conf" <<EOF
# written by scripts/test-deps.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKDIR'
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
max_connections = 200
# test data is disposable: trade durability against an OS crash for speed
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    grep -qx "include = 'task-runner.conf'" "$PG_DATA/postgresql.conf" ||
        echo "include = 'task-runner.conf'" >>"$PG_DATA/postgresql.conf"
    cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# written by scripts/test-deps.sh -- password auth on TCP so auth tests are real
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 peer
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
EOF
    chown postgres:postgres "$PG_DATA/task-runner.conf" "$PG_DATA/pg_hba.conf"
}

pg_start() {
    log "postgresql: starting $PG_VERSION on 127.0.0.1:$PG_PORT (data: $PG_DATA)"
    touch "$PG_LOG"; chown postgres:postgres "$PG_LOG"
    as_user postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -o "-p $PG_PORT" start \
        >/dev/null 2>&1 || die "postgresql: server failed to start (pg_ctl -w, 60s limit); log tail ($PG_LOG):
$(pg_tail_log)"
}

pg_provision() {
    local psql=(as_user postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres)
    "${psql[@]}" <<EOF || die "postgresql: could not create role/database $PG_USER"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER;
  END IF;
END \$\$;
ALTER ROLE $PG_USER WITH LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
EOF
    if [[ $("${psql[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") != 1 ]]; then
        "${psql[@]}" -c "CREATE DATABASE $PG_DB OWNER $PG_USER" ||
            die "postgresql: could not create database $PG_DB"
    fi
}

ensure_postgres() {
    pg_env
    if ! pg_login_ok; then
        if pg_ours_running; then
            log "postgresql: server is running but login as $PG_USER failed; (re)provisioning"
        else
            pg_clean_stale
            free_port_or_die "$PG_PORT" postgresql 'postgres|postmaster'
            pg_init
            pg_start
        fi
        pg_provision
        pg_login_ok || die "postgresql: still cannot log in with TR_PG_URL (sslmode=require); log tail:
$(pg_tail_log)"
    fi
    local ver data
    ver=$("$PG_BIN/psql" "$TR_PG_URL" -XAtc 'show server_version' 2>/dev/null || true)
    data=$("$PG_BIN/psql" "$TR_PG_URL" -XAtc 'show data_directory' 2>/dev/null || true)
    echo "ok: postgresql ${ver%% *} on 127.0.0.1:$PG_PORT (scram-sha-256, TLS on; data: ${data:-?})"
}

# --------------------------------------------------------------- 5. MariaDB
my_env() {
    MY_DIR=$SERVICES_DIR/mariadb
    MY_DATA=$MY_DIR/data
    MY_PID=$MY_DIR/mariadbd.pid
    MY_LOG=$MY_DIR/error.log
    MY_SOCK=$MY_DIR/mysqld.sock
    # unix socket paths are limited to ~107 bytes
    ((${#MY_SOCK} < 100)) || MY_SOCK=/tmp/task-runner-mariadb-$MY_PORT.sock
    MY_SERVER=$(command -v mariadbd || command -v mysqld || true)
    [[ -n $MY_SERVER ]] || die "mariadb: server binary (mariadbd/mysqld) not found"
    MY_CLIENT=$(command -v mariadb || command -v mysql || true)
    [[ -n $MY_CLIENT ]] || die "mariadb: client binary (mariadb/mysql) not found"
    MY_INSTALL_DB=$(command -v mariadb-install-db || command -v mysql_install_db || true)
    [[ -n $MY_INSTALL_DB ]] || die "mariadb: mariadb-install-db not found"
}

# Usable = login works and the server's data dir still exists (see pg_login_ok).
my_login_ok() {
    local d
    d=$("$MY_CLIENT" --no-defaults --connect-timeout=5 --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" \
        -u "$MY_USER" --password="$MY_PASSWORD" -N -B -e 'select @@datadir' "$MY_DB" 2>/dev/null) || return 1
    [[ -n $d && -d $d/mysql ]] || { log "mariadb: running server's data dir '$d' is gone"; return 1; }
}

my_root() { "$MY_CLIENT" --no-defaults --protocol=SOCKET --socket="$MY_SOCK" -u root "$@"; }

my_tail_log() { tail -n 30 "$MY_LOG" 2>/dev/null | sed 's/^/    | /' || true; }

my_ours_pid() {
    local pid
    [[ -f $MY_PID ]] || return 1
    pid=$(head -n1 "$MY_PID" 2>/dev/null) || return 1
    pid_is "$pid" 'mariadbd|mysqld' || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--datadir=$MY_DATA" || return 1
    echo "$pid"
}

my_clean_stale() {
    if ! my_ours_pid >/dev/null; then
        [[ -e $MY_PID ]] && log "mariadb: removing stale pid file $MY_PID"
        rm -f "$MY_PID" "$MY_SOCK" "$MY_SOCK.lock"
    fi
}

my_init() {
    mkdir -p "$MY_DIR"
    chown mysql:mysql "$MY_DIR"; chmod 750 "$MY_DIR"
    if [[ ! -d $MY_DATA/mysql ]]; then
        rm -rf "$MY_DATA"
        log "mariadb: initialising $MY_DATA"
        "$MY_INSTALL_DB" --no-defaults --datadir="$MY_DATA" --user=mysql \
            --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
            >"$MY_DIR/install-db.log" 2>&1 || die "mariadb: mariadb-install-db failed:
$(tail -n 30 "$MY_DIR/install-db.log")"
    fi
    chown -R mysql:mysql "$MY_DIR"
}

my_start() {
    log "mariadb: starting on 127.0.0.1:$MY_PORT (data: $MY_DATA)"
    touch "$MY_LOG"; chown mysql:mysql "$MY_LOG"
    # --no-defaults: ignore /etc/mysql/* (port 3306, /run/mysqld socket, ...).
    # setsid + redirects: fully detached, survives this script and its caller.
    setsid "$MY_SERVER" --no-defaults --user=mysql --datadir="$MY_DATA" \
        --port="$MY_PORT" --bind-address=127.0.0.1 --socket="$MY_SOCK" \
        --pid-file="$MY_PID" --log-error="$MY_LOG" --skip-name-resolve \
        --max-connections=200 --innodb-buffer-pool-size=128M \
        --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_general_ci </dev/null >>"$MY_LOG" 2>&1 9>&- &
    local spid=$! i
    for i in $(seq 1 120); do   # 60 s
        if my_root -N -B -e 'select 1' >/dev/null 2>&1; then return 0; fi
        kill -0 "$spid" 2>/dev/null || die "mariadb: server exited during startup; log tail ($MY_LOG):
$(my_tail_log)"
        sleep 0.5
    done
    die "mariadb: server did not answer within 60s; log tail ($MY_LOG):
$(my_tail_log)"
}

my_provision() {
    local h sql
    sql="CREATE DATABASE IF NOT EXISTS \`$MY_DB\` CHARACTER SET utf8mb4;
DROP USER IF EXISTS ''@'localhost';
DROP USER IF EXISTS ''@'$(cat /proc/sys/kernel/hostname)';"
    for h in '%' localhost 127.0.0.1; do
        sql+="
CREATE OR REPLACE USER '$MY_USER'@'$h' IDENTIFIED BY '$MY_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$MY_USER'@'$h' WITH GRANT OPTION;"
    done
    sql+="
FLUSH PRIVILEGES;"
    my_root -e "$sql" || die "mariadb: could not create user/database $MY_USER"
}

ensure_mariadb() {
    my_env
    if ! my_login_ok; then
        if my_ours_pid >/dev/null && my_root -e 'select 1' >/dev/null 2>&1; then
            log "mariadb: server is running but login as $MY_USER failed; (re)provisioning"
        else
            local pid
            if pid=$(my_ours_pid); then
                log "mariadb: our server (pid $pid) does not answer; restarting it"
                stop_pid "$pid"
            fi
            my_clean_stale
            free_port_or_die "$MY_PORT" mariadb 'mariadbd|mysqld'
            my_init
            my_start
        fi
        my_provision
        my_login_ok || die "mariadb: still cannot log in with TR_MYSQL_URL; log tail:
$(my_tail_log)"
    fi
    local info
    info=$("$MY_CLIENT" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u "$MY_USER" \
        --password="$MY_PASSWORD" -N -B -e 'select version(), @@datadir' 2>/dev/null || true)
    echo "ok: mariadb ${info%%$'\t'*} on 127.0.0.1:$MY_PORT (data: ${info#*$'\t'})"
}

# ------------------------------------------------------- 6. docker base image
# debian_mirror: the machine's bookworm "main" mirror (shared with build-images.sh).
# shellcheck source=lib/debian.sh
source "$REPO/scripts/lib/debian.sh"

ROOTFS="" DEBOOTSTRAP_LOG=""
cleanup_rootfs() {
    if [[ -n $DEBOOTSTRAP_LOG ]]; then rm -f "$DEBOOTSTRAP_LOG"; DEBOOTSTRAP_LOG=""; fi
    [[ -n $ROOTFS && -d $ROOTFS ]] || return 0
    # debootstrap may leave proc/sys mounted inside the target on failure
    awk -v r="$ROOTFS/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$ROOTFS" || true
    ROOTFS=""
}

ensure_docker_image() {
    have docker || die "docker CLI not found on PATH"
    timeout 60 docker info >/dev/null 2>&1 ||
        die "docker daemon not reachable ('docker info' fails): $(timeout 30 docker info 2>&1 | tail -n 3 | tr '\n' ' ' || true)"
    if ! docker image inspect "$DOCKER_IMAGE" >/dev/null 2>&1; then
        have debootstrap || die "debootstrap not found"
        local mirror
        mirror=$(debian_mirror) || die "could not find a Debian bookworm 'main' mirror in /etc/apt/sources.list{,.d} (set TR_DEBIAN_MIRROR)"
        ROOTFS=$(mktemp -d /var/tmp/task-runner-rootfs.XXXXXX)
        DEBOOTSTRAP_LOG=$ROOTFS.log
        trap cleanup_rootfs EXIT
        log "docker: debootstrap --variant=minbase bookworm from $mirror (takes a few minutes)"
        debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" >"$DEBOOTSTRAP_LOG" 2>&1 || {
            local t; t=$(tail -n 30 "$DEBOOTSTRAP_LOG"; tail -n 20 "$ROOTFS/debootstrap/debootstrap.log" 2>/dev/null || true)
            die "docker: debootstrap of bookworm from $mirror failed:
$t"
        }
        rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/debootstrap
        log "docker: importing rootfs as $DOCKER_IMAGE"
        tar --numeric-owner -C "$ROOTFS" -c . |
            docker import \
                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                --change 'ENV LANG=C.UTF-8' \
                --change 'CMD ["/bin/bash"]' \
                - "$DOCKER_IMAGE" >/dev/null || die "docker: 'docker import' of the bookworm rootfs failed"
        cleanup_rootfs
    fi
    timeout 120 docker run --rm "$DOCKER_IMAGE" /bin/true ||
        die "docker: 'docker run --rm $DOCKER_IMAGE /bin/true' failed"
    echo "ok: docker image $DOCKER_IMAGE ($(docker image inspect -f '{{.Size}}' "$DOCKER_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# ----------------------------------------------------------- component runner
# Each component runs in a subshell with errexit active, so one failure is
# reported and the remaining components are still attempted (CI logs then show
# everything that is missing at once).
FAILED=()
component() {
    local name=$1 rc; shift
    trap - ERR; set +e
    ( trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR; set -e; "$@" )
    rc=$?
    set -e; trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
    if ((rc != 0)); then
        FAILED+=("$name")
        printf 'FAILED: %s\n' "$name"
    fi
}

# =================================================================== main
START=$(date +%s)

# apt first: everything else depends on it.
ensure_apt_packages

SERVICES_DIR=$(choose_services_dir)
component "rust target $MUSL_TARGET" ensure_musl_target
component postgresql ensure_postgres
component mariadb ensure_mariadb
component "docker image $DOCKER_IMAGE" ensure_docker_image

PY3=$(find_python3 || true)
PY27=$(find_python27 || true)
RUBY=$(command -v ruby || true)
[[ -n $RUBY && $RUBY != /* ]] && RUBY=$(readlink -f "$RUBY")
[[ -n $PY3 ]]  || { FAILED+=(python3); echo "FAILED: python3 (no python3 interpreter found on PATH or in /usr/bin)"; }
[[ -n $PY27 ]] || { FAILED+=(python2.7); echo "FAILED: python2.7 (not found under \$(pyenv root)/versions/2.7.*/bin/python2.7, /root/.pyenv, \$HOME/.pyenv; it cannot be downloaded here -- install it with pyenv on the machine image)"; }
[[ -n $RUBY ]] || { FAILED+=(ruby); echo "FAILED: ruby (not on PATH)"; }

# ----------------------------------------------------------- 7. test-env.sh
mkdir -p "$REPO/target"
tmp=$(mktemp "$REPO/target/.test-env.sh.XXXXXX")
{
    echo "# generated by scripts/test-deps.sh -- do not edit"
    printf 'export %s=%q\n' \
        TR_PG_URL "$TR_PG_URL" \
        TR_MYSQL_URL "$TR_MYSQL_URL" \
        TR_PYTHON3 "$PY3" \
        TR_PYTHON27 "$PY27" \
        TR_RUBY "$RUBY" \
        TR_DOCKER_BASE_IMAGE "$DOCKER_IMAGE" \
        TR_MUSL_TARGET "$MUSL_TARGET"
} >"$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$ENV_FILE"

# ------------------------------------------------------------- 8. verify
# Everything is checked through the values in the env file the tests read.
verify() {
    unset TR_PG_URL TR_MYSQL_URL TR_PYTHON3 TR_PYTHON27 TR_RUBY TR_DOCKER_BASE_IMAGE TR_MUSL_TARGET
    # shellcheck source=/dev/null
    source "$ENV_FILE"
    local v
    for v in TR_PG_URL TR_MYSQL_URL TR_PYTHON3 TR_PYTHON27 TR_RUBY TR_DOCKER_BASE_IMAGE TR_MUSL_TARGET; do
        [[ -n ${!v:-} ]] || die "verify: $v is empty in $ENV_FILE"
    done
    local out psql mysql_client
    psql=$(command -v psql || echo "$PG_BIN/psql")
    out=$(PGCONNECT_TIMEOUT=5 "$psql" "$TR_PG_URL" -XAtc 'select 1' 2>&1) && [[ $out == 1 ]] ||
        die "verify postgresql: psql \"\$TR_PG_URL\" -c 'select 1' failed: $out"
    out=$(PGCONNECT_TIMEOUT=5 "$psql" "$TR_PG_URL?sslmode=require" -XAtc 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>&1) && [[ $out == t ]] ||
        die "verify postgresql: TLS (sslmode=require) connection failed: $out"
    if PGCONNECT_TIMEOUT=5 "$psql" "${TR_PG_URL/$PG_PASSWORD/wrong-password}" -XAtc 'select 1' >/dev/null 2>&1; then
        die "verify postgresql: login with a WRONG password succeeded (password auth not enforced)"
    fi
    mysql_client=$(command -v mariadb || command -v mysql)
    out=$("$mysql_client" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u "$MY_USER" \
        --password="$MY_PASSWORD" -N -B -e 'select 1' "$MY_DB" 2>&1) && [[ $out == 1 ]] ||
        die "verify mariadb: select 1 on 127.0.0.1:$MY_PORT failed: $out"
    if "$mysql_client" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u "$MY_USER" \
        --password=wrong-password -N -B -e 'select 1' "$MY_DB" >/dev/null 2>&1; then
        die "verify mariadb: login with a WRONG password succeeded"
    fi
    # shellcheck disable=SC2015
    [[ -n $TR_PYTHON3 ]] && "$TR_PYTHON3" -c 'import sys; assert sys.version_info[0] == 3' ||
        die "verify python3: '$TR_PYTHON3' is not a working python 3"
    echo "ok: python3 $("$TR_PYTHON3" -c 'import platform; print(platform.python_version())') ($TR_PYTHON3)"
    # shellcheck disable=SC2015
    [[ -n $TR_PYTHON27 ]] && "$TR_PYTHON27" -c 'import sys; assert sys.version_info[:2]==(2,7)' ||
        die "verify python2.7: '$TR_PYTHON27' is not a working python 2.7"
    echo "ok: python2.7 $("$TR_PYTHON27" -c 'import platform; print(platform.python_version())') ($TR_PYTHON27)"
    [[ -n $TR_RUBY ]] && out=$("$TR_RUBY" -e 'require "json"; puts JSON.generate([1])' 2>&1) && [[ $out == '[1]' ]] ||
        die "verify ruby: '$TR_RUBY' cannot run the json check: $out"
    echo "ok: ruby $("$TR_RUBY" -e 'print RUBY_VERSION') ($TR_RUBY)"
    unshare --help >/dev/null 2>&1 || die "verify: 'unshare --help' failed (util-linux)"
    echo "ok: unshare ($(command -v unshare))"
    if have x86_64-linux-musl-gcc; then out=x86_64-linux-musl-gcc; else out=musl-gcc; fi
    "$out" --version >/dev/null 2>&1 || die "verify: neither x86_64-linux-musl-gcc nor musl-gcc works (musl-tools)"
    echo "ok: musl C compiler ($(command -v "$out"))"
    have sqlite3 || die "verify: sqlite3 not found"
    echo "ok: sqlite3 $(sqlite3 --version | awk '{print $1}')"
}
if ((${#FAILED[@]} == 0)); then
    pg_env; my_env   # sets PG_BIN / client paths for verify
    component verification verify
fi

if ((${#FAILED[@]})); then
    printf '\n[test-deps] FAILED components: %s\n' "$(IFS=,; echo "${FAILED[*]}")" >&2
    printf '[test-deps] %s written anyway, but the test environment is INCOMPLETE.\n' "$ENV_FILE" >&2
    exit 1
fi
echo "ok: all test dependencies ready in $(( $(date +%s) - START ))s; env: $ENV_FILE"
