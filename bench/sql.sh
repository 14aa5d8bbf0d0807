#!/usr/bin/env bash
# A 1,000,000-row x 5-column PostgreSQL query turned into JSON three ways, on the
# same server in the same run: task-runner (rows streamed into the XCom file),
# `psql` with the server doing the JSON (`json_agg`), and Airflow's own
# SQLExecuteQueryOperator (apache-airflow from PyPI, in a venv under /tmp)
# followed by `json.dump` of its result, which is what a pod's XCom needs.
# Reports the median wall time of RUNS runs and the peak RSS (GNU time %M).
#
#   bash bench/sql.sh                 (needs the test servers: bash scripts/services.sh up)
#   RUNS=5 ROWS=1000000 bash bench/sql.sh
#   SKIP_AIRFLOW=1 bash bench/sql.sh  (no PyPI access)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
ROWS=${ROWS:-1000000}
AIRFLOW_VENV=${AIRFLOW_VENV:-/tmp/task-runner-bench-airflow}
# shellcheck disable=SC1091
source target/test-env.sh
target=${TR_MUSL_TARGET:-x86_64-unknown-linux-musl}
cargo build --release --locked --target "$target" --quiet || { echo "$0: cargo build failed" >&2; exit 1; }
bin="${TR_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/$target/release/task-runner}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

query="SELECT g AS id, g * 1.25 AS amount, 'customer-' || g AS name, timestamp '2024-01-01' + g * interval '1 second' AS created_at, g % 3 = 0 AS flag FROM generate_series(1, $ROWS) AS g"

cat > "$work/spec.yaml" <<SPEC
operator: sql
conn_id: bench
sql: "$query"
max_xcom_bytes: 4000000000
SPEC

cat > "$work/airflow_task.py" <<'PY'
import json, sys
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
op = SQLExecuteQueryOperator(task_id="bench", conn_id="bench", sql=sys.argv[1])
result = op.execute(context={})
with open(sys.argv[2], "w") as f:
    json.dump(result, f, default=str)
PY

if [[ -z ${SKIP_AIRFLOW:-} && ! -x $AIRFLOW_VENV/bin/python ]]; then
    echo "installing apache-airflow 2.10.5 + postgres provider into $AIRFLOW_VENV (once)" >&2
    python3 -m venv "$AIRFLOW_VENV"
    "$AIRFLOW_VENV/bin/pip" install -q "apache-airflow==2.10.5" \
        apache-airflow-providers-postgres apache-airflow-providers-common-sql >&2
fi

export AIRFLOW_CONN_BENCH=$TR_PG_URL AIRFLOW_HOME=$work/airflow-home
export AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING

# Runs "$@" once to warm up (and to fail loudly), then RUNS times;
# prints "median_seconds max_rss_kib".
measure() {
    local i t m times=() rss=0
    "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; echo "failed: $*" >&2; exit 1; }
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>&1
        read -r t m <"$work/time"
        times+=("$t")
        ((m > rss)) && rss=$m
    done
    printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")" "$rss"
}

# /usr/bin/time must see the real process, not a shell function.
cat > "$work/psql.sh" <<SH
#!/bin/sh
exec psql "$TR_PG_URL" -XAtq -o "$work/psql.json" -c "SELECT json_agg(json_build_array(id, amount, name, created_at, flag)) FROM ($query) s"
SH
chmod +x "$work/psql.sh"

declare -A result
result[runner]=$(measure "$bin" run --config "$work/spec.yaml" --xcom-path "$work/xcom/return.json" --logical-date 2024-06-01)
result[psql]=$(measure "$work/psql.sh")
if [[ -z ${SKIP_AIRFLOW:-} ]]; then
    result[airflow]=$(measure "$AIRFLOW_VENV/bin/python" "$work/airflow_task.py" "$query" "$work/airflow.json")
fi

check() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(len(v))' "$1"; }
echo "rows: task-runner $(check "$work/xcom/return.json"), psql $(check "$work/psql.json")${result[airflow]:+, airflow $(check "$work/airflow.json")}"
echo "JSON size: task-runner $(du -h "$work/xcom/return.json" | cut -f1), psql $(du -h "$work/psql.json" | cut -f1)"
echo
echo "| $ROWS rows x 5 columns -> JSON | wall time (median of $RUNS) | peak RSS |"
echo "|---|---|---|"
row() { read -r t m <<<"$2"; printf '| %s | %s s | %s MB |\n' "$1" "$t" "$(awk -v k="$m" 'BEGIN { printf "%.1f", k / 1024 }')"; }
row "task-runner (static binary, streamed XCom)" "${result[runner]}"
row "psql + server-side json_agg" "${result[psql]}"
[[ -n ${result[airflow]:-} ]] && row "Airflow 2.10.5 SQLExecuteQueryOperator + json.dump" "${result[airflow]}"
echo
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo), $(psql "$TR_PG_URL" -XAtc 'select version()' | cut -d' ' -f1-2)"
