# shellcheck shell=bash
# One MariaDB server in a directory of its own: mariadb-install-db, a test
# user with a password for every host, started on a port it is given, run as
# user mysql. scripts/lib/services.sh decides where, on which port and for how
# long. Needs scripts/lib/common.sh and root.

readonly MY_USER=taskrunner MY_PASSWORD=tr-my-Secret-42 MY_DB=taskrunner

my_bins() {
    MY_SERVER=$(command -v mariadbd || command -v mysqld) ||
        die "mariadb: server binary (mariadbd/mysqld) not found (run scripts/test-deps.sh)"
    MY_CLIENT=$(command -v mariadb || command -v mysql) ||
        die "mariadb: client binary (mariadb/mysql) not found (run scripts/test-deps.sh)"
    MY_INSTALL_DB=$(command -v mariadb-install-db || command -v mysql_install_db) ||
        die "mariadb: mariadb-install-db not found (run scripts/test-deps.sh)"
}

# my_init DIR: a new data dir DIR/data; the server's log will be DIR/error.log
# and its socket DIR/mysqld.sock (so DIR must be short).
my_init() {
    local dir=$1
    my_bins
    mkdir -p "$dir"
    chown mysql:mysql "$dir"
    chmod 750 "$dir"
    "$MY_INSTALL_DB" --no-defaults --datadir="$dir/data" --user=mysql \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        >"$dir/install-db.log" 2>&1 || die "mariadb: mariadb-install-db failed:
$(tail -n 30 "$dir/install-db.log")"
    touch "$dir/error.log"
    chown -R mysql:mysql "$dir"
}

# my_launch DIR PORT [SETPRIV_ARG...]: as pg_launch. Sets MY_PID.
my_launch() {
    local dir=$1 port=$2
    shift 2
    my_bins
    : >"$dir/error.log" # my_wait reads this attempt's log only
    # --no-defaults: ignore /etc/mysql/* (port 3306, /run/mysqld socket, ...).
    (cd / && exec setsid setpriv --reuid=mysql --regid=mysql --init-groups "$@" -- \
        "$MY_SERVER" --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
        --socket="$dir/mysqld.sock" --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" \
        --skip-name-resolve --max-connections=200 --innodb-buffer-pool-size=128M \
        --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_general_ci) </dev/null >>"$dir/error.log" 2>&1 &
    MY_PID=$!
}

my_root() {
    "$MY_CLIENT" --no-defaults --protocol=SOCKET --socket="$1/mysqld.sock" -u root "${@:2}"
}

# my_wait DIR: 0 once the server MY_PID answers on its socket (the TCP port is
# bound before the socket: both in network_init), 2 if it could not bind its
# port (try another), else 1.
my_wait() {
    local dir=$1 i
    for ((i = 0; i < 600; i++)); do
        if ! pid_alive "$MY_PID"; then
            wait "$MY_PID" 2>/dev/null || true
            grep -q 'Bind on TCP/IP port\|Address already in use' "$dir/error.log" && return 2
            return 1
        fi
        my_root "$dir" -N -B -e 'select 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# my_provision DIR: the test user (every privilege, a password, for every
# host) and database; no anonymous users.
my_provision() {
    local dir=$1 h sql
    sql="CREATE DATABASE \`$MY_DB\` CHARACTER SET utf8mb4;
DROP USER IF EXISTS ''@'localhost';
DROP USER IF EXISTS ''@'$(cat /proc/sys/kernel/hostname)';"
    for h in '%' localhost 127.0.0.1; do
        sql+="
CREATE USER '$MY_USER'@'$h' IDENTIFIED BY '$MY_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$MY_USER'@'$h' WITH GRANT OPTION;"
    done
    my_root "$dir" -e "$sql"
}

# my_check PORT: the test user logs in over TCP, and a wrong password does not.
my_check() {
    local port=$1 out
    my_bins
    local tcp=("$MY_CLIENT" --no-defaults --connect-timeout=5 --protocol=TCP -h 127.0.0.1 -P "$port" -u "$MY_USER" -N -B)
    out=$("${tcp[@]}" --password="$MY_PASSWORD" -e 'select @@port' "$MY_DB" 2>&1) || true
    [[ $out == "$port" ]] || die "mariadb: login as $MY_USER on 127.0.0.1:$port failed: $out"
    if "${tcp[@]}" --password=wrong-password -e 'select 1' "$MY_DB" >/dev/null 2>&1; then
        die "mariadb: a login with a wrong password succeeded"
    fi
    "${tcp[@]}" --password="$MY_PASSWORD" -e 'select version()' "$MY_DB"
}
