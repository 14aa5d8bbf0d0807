#!/bin/sh
# First start (an empty $PGDATA): initdb with the password read from the
# secret file (never from the environment or the command line, so it shows in
# no log and no `docker inspect`), the warehouse database, init.sql. Then the
# server, in the foreground, as PID 1.
set -eu
PWFILE=${PG_PASSWORD_FILE:-/run/secrets/pg_password}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    [ -r "$PWFILE" ] || { echo "pg-entrypoint: cannot read the password file $PWFILE" >&2; exit 1; }
    initdb --username=etl --pwfile="$PWFILE" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    # initdb allows TCP from localhost only; the tasks come from the compose network.
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    # Seed over the Unix socket only, so no client sees a half-made database.
    pg_ctl -w -o "-c listen_addresses='' -c unix_socket_directories=/tmp" start >/dev/null
    psql -q -v ON_ERROR_STOP=1 -h /tmp -U etl -d postgres -c 'CREATE DATABASE warehouse'
    psql -q -v ON_ERROR_STOP=1 -h /tmp -U etl -d warehouse -f /docker/init.sql
    pg_ctl -w stop >/dev/null
    echo "pg-entrypoint: database warehouse initialised"
fi

exec postgres -c listen_addresses='*' -c unix_socket_directories=/tmp
