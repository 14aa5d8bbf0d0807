# shellcheck shell=bash
# One PostgreSQL server in a directory of its own: initdb, password auth
# (scram-sha-256) and TLS on TCP, started on a port it is given, run as user
# postgres. scripts/lib/services.sh decides where, on which port and for how
# long. Needs scripts/lib/common.sh and root.

readonly PG_USER=taskrunner PG_PASSWORD=tr-pg-Secret-42 PG_DB=taskrunner
# Ambient client settings must not change what our psql connects to.
readonly PG_CLIENT_ENV=(-u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGPASSWORD -u PGDATABASE
    -u PGSERVICE -u PGSSLMODE -u PGOPTIONS -u PGPASSFILE)

# The newest server installed by apt (postgresql-NN).
pg_bin() {
    local b
    b=$(printf '%s\n' /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n1)
    [[ -x $b ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (run scripts/test-deps.sh)"
    dirname "$b"
}

# pg_init DIR: a new cluster in DIR/data, its log DIR/postgres.log, and its
# socket in DIR (so DIR must be short: socket paths end at 107 bytes).
pg_init() {
    local dir=$1 bin data=$1/data
    bin=$(pg_bin)
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    # -N: no fsync, the data is thrown away with the run.
    (cd / && runuser -u postgres -- "$bin/initdb" -N -D "$data" -U postgres -E UTF8 --locale=C \
        --auth-local=peer --auth-host=scram-sha-256) >"$dir/initdb.log" 2>&1 ||
        die "postgresql: initdb failed:
$(tail -n 30 "$dir/initdb.log")"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
        -keyout "$data/server.key" -out "$data/server.crt" >/dev/null 2>&1 ||
        die "postgresql: openssl could not create a self-signed certificate"
    chmod 600 "$data/server.key"
    cat >>"$data/postgresql.conf" <<'EOF'

# scripts/lib/postgres.sh: the port comes from the command line (-p).
listen_addresses = '127.0.0.1'
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
    # Password auth on TCP, so the auth tests are real.
    cat >"$data/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 peer
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
EOF
    chown -R postgres:postgres "$dir"
}

# pg_launch DIR PORT [SETPRIV_ARG...]: start the server in the background of
# this shell (so it is this shell's child) in a session of its own (so a
# terminal's ctrl-C reaches it only through our trap). Sets PG_PID.
pg_launch() {
    local dir=$1 port=$2 bin
    shift 2
    bin=$(pg_bin)
    : >"$dir/postgres.log" # pg_wait reads this attempt's log only
    (cd / && exec setsid setpriv --reuid=postgres --regid=postgres --init-groups "$@" -- \
        "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir") </dev/null >>"$dir/postgres.log" 2>&1 &
    PG_PID=$!
}

# pg_wait DIR: 0 once the server PG_PID is ready (its postmaster.pid says so:
# what pg_ctl -w reads), 2 if it could not bind its port (try another), else 1.
pg_wait() {
    local dir=$1 i pidfile=$1/data/postmaster.pid
    for ((i = 0; i < 600; i++)); do
        if ! pid_alive "$PG_PID"; then
            wait "$PG_PID" 2>/dev/null || true
            grep -q 'could not bind\|could not create any TCP/IP sockets' "$dir/postgres.log" && return 2
            return 1
        fi
        if [[ -f $pidfile && $(sed -n 1p "$pidfile") == "$PG_PID" && $(sed -n 8p "$pidfile") == ready* ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# pg_provision DIR PORT: the test role (superuser, password) and database.
pg_provision() {
    local dir=$1 port=$2 bin
    bin=$(pg_bin)
    (cd / && runuser -u postgres -- env "${PG_CLIENT_ENV[@]}" "$bin/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$dir" -p "$port" -U postgres -d postgres) <<EOF
CREATE ROLE $PG_USER WITH LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
CREATE DATABASE $PG_DB OWNER $PG_USER;
EOF
}

# pg_check URL: the URL logs in, over TLS too, and a wrong password does not.
pg_check() {
    local url=$1 psql out
    psql=(env "${PG_CLIENT_ENV[@]}" PGCONNECT_TIMEOUT=5 "$(pg_bin)/psql" -XAt)
    out=$("${psql[@]}" "$url?sslmode=require" -c \
        'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>&1) || true
    [[ $out == t ]] || die "postgresql: a TLS login (sslmode=require) with $url failed: $out"
    if "${psql[@]}" "${url/$PG_PASSWORD/wrong-password}" -c 'select 1' >/dev/null 2>&1; then
        die "postgresql: a login with a wrong password succeeded (password auth not enforced)"
    fi
    "${psql[@]}" "$url" -c 'show server_version' | cut -d' ' -f1
}
