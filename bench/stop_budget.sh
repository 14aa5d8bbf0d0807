#!/usr/bin/env bash
# The stop budget with a database that stops answering: SIGTERM during a
# long statement, then neither the cancel request nor ROLLBACK is answered.
# Prints the time from SIGTERM to the runner's exit (it must stay inside
# grace_period, 5 s by default, so Docker's SIGKILL never comes first).
#
#   bash bench/stop_budget.sh        # needs the test services (scripts/services.sh up)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source target/test-env.sh
BIN=${BIN:-target/release/task-runner}
RUNS=${RUNS:-5}
[[ -x $BIN ]] || { echo "$0: $BIN not found: cargo build --release (or set BIN=)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$proxy" 2>/dev/null || true; rm -rf "$work"' EXIT
port=55999
upstream=${TR_PG_URL##*:}
upstream=${upstream%%/*}
python3 bench/helpers/freeze_proxy.py "$port" "$upstream" "$work/frozen" &
proxy=$!
sleep 0.5
url=$(sed -E "s#@[^/]+/#@127.0.0.1:$port/#" <<<"$TR_PG_URL")
printf 'operator: sql\nconn_id: db\nsql: SELECT pg_sleep(30)\n' >"$work/spec.yaml"
for i in $(seq "$RUNS"); do
    rm -f "$work/frozen"
    AIRFLOW_CONN_DB=$url "$BIN" run --config "$work/spec.yaml" \
        --xcom-path "$work/xcom/return.json" 2>"$work/log" &
    runner=$!
    sleep 1.5
    touch "$work/frozen"
    t0=$(date +%s%N)
    kill -TERM "$runner"
    rc=0
    wait "$runner" || rc=$?
    t1=$(date +%s%N)
    echo "run $i: exit $rc, $(( (t1 - t0) / 1000000 )) ms from SIGTERM to exit"
done
