# shellcheck shell=bash
# Helpers for bench/table.sh and bench/airflow-baseline.sh: loud failures, the
# binary to measure, and the SQL fixture tables, made once and reused.
# Source it from the checkout root after `set -euo pipefail`; set BENCH_TAG
# (the script's name, for messages) first.

# A command that fails under set -e says where, instead of ending the run
# without a word.
set -E
trap 'printf "%s: failed (exit %s) at line %s: %s\n" "${BENCH_TAG:-bench}" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

die() { printf '%s: %s\n' "${BENCH_TAG:-bench}" "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }

need_gnu_time() {
    { /usr/bin/time --version 2>&1 || true; } | grep -q GNU ||
        die "GNU time not found at /usr/bin/time (apt-get install time): it measures peak RSS"
}

# The servers' URLs and the interpreters (TR_PG_URL, TR_MYSQL_URL,
# TR_PYTHON3, TR_PYTHON27): from the environment when it has them (e.g. another
# checkout's target/test-env.sh, sourced), else from target/test-env.sh, which
# scripts/test-deps.sh and scripts/services.sh up write. Each group checks the
# variables it needs.
load_test_env() {
    if [[ -z ${TR_PG_URL:-} && -f target/test-env.sh ]]; then
        # shellcheck disable=SC1091
        source target/test-env.sh
    fi
}

# bench_binary: sets bin (the static binary to measure) and built (what it
# is, for the table's footer). BIN= measures a given binary without building.
bench_binary() {
    local target=x86_64-unknown-linux-musl
    if [[ -n ${BIN:-} ]]; then
        [[ -x $BIN ]] || die "BIN=$BIN is not an executable"
        bin=$(readlink -f "$BIN")
        # shellcheck disable=SC2034 # for the scripts that source this file
        built="BIN=$BIN ($("$bin" --version))"
    else
        need cargo "building the binary needs the Rust toolchain (or set BIN=)"
        echo "building: cargo build --release --locked --target $target" >&2
        cargo build --release --locked --target "$target" >&2 || die "cargo build failed"
        bin=${CARGO_TARGET_DIR:-$PWD/target}/$target/release/task-runner
        # The last commit that changed what goes into the binary.
        built="built from $(git log -1 --format=%h -- src runners Cargo.toml Cargo.lock .cargo)"
        git diff --quiet HEAD -- src runners Cargo.toml Cargo.lock .cargo || built+=" with uncommitted changes"
    fi
    "$bin" --version >/dev/null || die "$bin does not run"
}

# The 5-column table every SQL client reads, ROWS rows of int, md5 text,
# numeric(12,2), timestamp, bool, named apart from the tests' tables.
bench_table() { echo "tr_bench_rows_$ROWS"; }
# shellcheck disable=SC2034 # for the scripts that source this file
bench_cols="id, name, amount, created_at, flag"

pg_fixture() {
    local table
    table=$(bench_table)
    need psql "PostgreSQL rows need the psql client (apt-get install postgresql-client)"
    [[ -n ${TR_PG_URL:-} ]] ||
        die "TR_PG_URL is not set: bash scripts/services.sh up writes it into target/test-env.sh (or source another checkout's)"
    psql "$TR_PG_URL" -XAtqc 'select 1' >/dev/null ||
        die "PostgreSQL at TR_PG_URL does not answer (bash scripts/services.sh up)"
    if [[ $(psql "$TR_PG_URL" -XAtqc "select count(*) from $table" 2>/dev/null) != "$ROWS" ]]; then
        echo "making $table in PostgreSQL (once)" >&2
        psql "$TR_PG_URL" -XAtq -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "cannot make $table in PostgreSQL"
SET client_min_messages = warning;
DROP TABLE IF EXISTS $table;
CREATE TABLE $table AS SELECT g AS id, md5(g::text) AS name, (g * 1.25)::numeric(12,2) AS amount,
    timestamp '2024-01-01' + g * interval '1 second' AS created_at, g % 3 = 0 AS flag
    FROM generate_series(1, $ROWS) AS g;
VACUUM ANALYZE $table;
SQL
    fi
}

# Sets my_args (the mariadb client's connection arguments) and exports
# MYSQL_PWD.
my_fixture() {
    local table
    table=$(bench_table)
    need mariadb "MariaDB rows need the mariadb client (apt-get install mariadb-client)"
    [[ -n ${TR_MYSQL_URL:-} ]] ||
        die "TR_MYSQL_URL is not set: bash scripts/services.sh up writes it into target/test-env.sh (or source another checkout's)"
    [[ $TR_MYSQL_URL =~ ^mysql://([^:]+):([^@]+)@([^:/]+):([0-9]+)/([^?]+) ]] ||
        die "TR_MYSQL_URL is not mysql://user:password@host:port/db"
    # shellcheck disable=SC2034 # for the scripts that source this file
    my_args=(-h "${BASH_REMATCH[3]}" -P "${BASH_REMATCH[4]}" -u "${BASH_REMATCH[1]}" "${BASH_REMATCH[5]}")
    export MYSQL_PWD=${BASH_REMATCH[2]}
    mariadb "${my_args[@]}" -BNe 'select 1' >/dev/null ||
        die "MariaDB at TR_MYSQL_URL does not answer (bash scripts/services.sh up)"
    if [[ $(mariadb "${my_args[@]}" -BNe "select count(*) from $table" 2>/dev/null) != "$ROWS" ]]; then
        echo "making $table in MariaDB (once)" >&2
        # seq_1_to_N: MariaDB's SEQUENCE engine.
        mariadb "${my_args[@]}" <<SQL || die "cannot make $table in MariaDB"
DROP TABLE IF EXISTS $table;
CREATE TABLE $table (id INT PRIMARY KEY, name CHAR(32), amount DECIMAL(12,2), created_at DATETIME, flag BOOL)
    SELECT seq AS id, md5(seq) AS name, seq * 1.25 AS amount,
        timestamp '2024-01-01 00:00:00' + interval seq second AS created_at, seq % 3 = 0 AS flag
    FROM seq_1_to_$ROWS;
SQL
    fi
}

# lite_fixture FILE: the same table in a SQLite file.
lite_fixture() {
    local table db=$1
    table=$(bench_table)
    need sqlite3 "SQLite rows need the sqlite3 CLI (apt-get install sqlite3)"
    if [[ $(sqlite3 "$db" "select count(*) from $table" 2>/dev/null) != "$ROWS" ]]; then
        echo "making $db (once)" >&2
        rm -f "$db"
        sqlite3 "$db" <<SQL || die "cannot make $db"
CREATE TABLE $table (id INTEGER PRIMARY KEY, name TEXT, amount REAL, created_at TEXT, flag INTEGER);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $ROWS)
INSERT INTO $table SELECT g, lower(hex(randomblob(16))), round(g * 1.25, 2),
    datetime('2024-01-01', '+' || g || ' seconds'), g % 3 = 0 FROM s;
SQL
    fi
}
