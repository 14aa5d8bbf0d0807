#!/usr/bin/env bash
# A 1,000,000-row x 5-column SQLite table (int, md5-like text, real,
# timestamp text, bool int) from a file database, read by task-runner into
# its XCom file and by the sqlite3 CLI into a CSV file (the floor, issue #11),
# interleaved: each round runs every command once, in an order rotated each
# round. Reports the median wall and CPU time, the median of the per-round
# ratios to the CLI, and the peak RSS (GNU time %M). Uses the static release
# binary; BASE_BIN=path adds another build (say, main's) to the same rounds
# and checks that its XCom is byte-identical to this one's.
#
#   bash bench/sqlite.sh            (needs sqlite3 and GNU time: apt-get install sqlite3 time)
#   ROUNDS=9 ROWS=1000000 BASE_BIN=/tmp/task-runner-main bash bench/sqlite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
ROWS=${ROWS:-1000000}
target=x86_64-unknown-linux-musl
if [[ -z ${TR_BIN:-} ]]; then
    cargo build --release --locked --target "$target" >/dev/null 2>&1
fi
bin=${TR_BIN:-$PWD/target/$target/release/task-runner}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The table is built once per ROWS and kept (about 90 MB for 1M rows).
db=${BENCH_DB:-${TMPDIR:-/tmp}/task-runner-bench-$ROWS.sqlite}
if [[ ! -s $db ]]; then
    sqlite3 "$db.tmp" <<SQL
CREATE TABLE t (id INTEGER, name TEXT, amount REAL, created_at TEXT, flag INTEGER);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
INSERT INTO t SELECT x, lower(hex(randomblob(16))), round(x * 1.25 + 0.01, 2),
    strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || x || ' seconds'), x % 3 = 0 FROM c;
SQL
    mv "$db.tmp" "$db"
fi
query="SELECT id, name, amount, created_at, flag FROM t"

cat > "$work/spec.yaml" <<SPEC
operator: sql
conn_id: bench
sql: "$query"
max_xcom_bytes: 4000000000
SPEC
export AIRFLOW_CONN_BENCH="sqlite:///$db"

# /usr/bin/time must see the real process, not a shell function.
cat > "$work/cli" <<SH
#!/bin/sh
exec sqlite3 -csv "$db" ".output $work/cli.csv" "$query"
SH
cat > "$work/runner" <<SH
#!/bin/sh
exec "$bin" run --config "$work/spec.yaml" --xcom-path "$work/runner.json" --logical-date 2024-06-01
SH
names=(cli runner)
if [[ -n ${BASE_BIN:-} ]]; then
    cat > "$work/base" <<SH
#!/bin/sh
exec "$BASE_BIN" run --config "$work/spec.yaml" --xcom-path "$work/base.json" --logical-date 2024-06-01
SH
    names+=(base)
fi
chmod +x "$work"/cli "$work"/runner "$work"/base 2>/dev/null || true

# One run: appends "wall_ms cpu_ms rss_kib" to $work/$name.runs.
once() {
    local name=$1 start end
    start=$(date +%s%N)
    /usr/bin/time -o "$work/time" -f '%U %S %M' "$work/$name" >/dev/null 2>"$work/$name.err" \
        || { cat "$work/$name.err" >&2; echo "failed: $name" >&2; exit 1; }
    end=$(date +%s%N)
    read -r user sys rss <"$work/time"
    echo "$(((end - start) / 1000000)) $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }') $rss" >>"$work/$name.runs"
}

for name in "${names[@]}"; do once "$name"; : >"$work/$name.runs"; done # warm the page cache
for ((r = 0; r < ROUNDS; r++)); do
    n=${#names[@]}
    for ((k = 0; k < n; k++)); do once "${names[$(((k + r) % n))]}"; done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{ print $c }' "$work/$1.runs"; }
ratio() { paste -d' ' <(col "$1" 1) <(col cli 1) | awk '{ printf "%.3f\n", $1 / $2 }' | median; }

echo "rows: $ROWS from $db; JSON $(stat -c %s "$work/runner.json") bytes, CSV $(stat -c %s "$work/cli.csv") bytes"
if [[ -n ${BASE_BIN:-} ]]; then
    if cmp -s "$work/runner.json" "$work/base.json"; then echo "XCom byte-identical to BASE_BIN's"; else echo "XCom DIFFERS from BASE_BIN's"; fi
fi
echo
echo "| $ROWS rows x 5 columns, $ROUNDS rounds interleaved | wall median ms | CPU median ms | peak RSS MB | ratio to sqlite3 -csv |"
echo "|---|---:|---:|---:|---:|"
label() {
    case $1 in
        cli) echo '`sqlite3 -csv db ".output f" "select ..."`' ;;
        runner) echo "task-runner ($bin)" ;;
        base) echo "task-runner ($BASE_BIN)" ;;
    esac
}
for name in "${names[@]}"; do
    printf '| %s | %s | %s | %s | %s |\n' "$(label "$name")" "$(col "$name" 1 | median)" "$(col "$name" 2 | median)" \
        "$(col "$name" 3 | sort -n | tail -1 | awk '{ printf "%.1f", $1 / 1024 }')" "$(ratio "$name")"
done
echo
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(sqlite3 --version | cut -d' ' -f1)"
