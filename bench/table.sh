#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Issue #11's table in one run: every row measured interleaved against its
# peer (bench/helpers/interleave.py: rounds in rotated order after warm-ups,
# medians of the per-round ratios), the runner's instruction count under
# callgrind, and one markdown table at the end (row, runner, peer, ratio or
# delta, goal, met?), which is what the README's Benchmarks section holds.
#
#   bash bench/table.sh                     # every row, full size
#   QUICK=1 bash bench/table.sh             # 100k SQL rows, 10 MB of output, fewer rounds: a few minutes
#   bash bench/table.sh bash icount python sql output rss    # only these groups (sql = pg sqlite mariadb)
#   BIN=/path/to/task-runner bash bench/table.sh   # measure another build (before/after), no cargo build
#   ROUNDS=20 WARMUP=3 bash bench/table.sh  # the same rounds for every group
#
# Needs: python3, GNU time (/usr/bin/time), valgrind (icount), psql, sqlite3
# and mariadb (sql, rss), the test servers (bash scripts/services.sh up),
# python3.11 and python2.7: TR_PG_URL, TR_MYSQL_URL, TR_PYTHON3 and TR_PYTHON27
# from the environment, else from target/test-env.sh (PYTHON3/PYTHON27 win).
# The XComs and outputs go to a temp dir ($TMPDIR, the "disk" rows) and to
# /dev/shm (the "tmpfs" rows); bash's and the shim's temp dirs to $TMPDIR.
# Fixtures that are slow to make (the SQL tables, a SQLite file, a python3
# venv) are made once and reused: tables tr_bench_rows_<N> in the test
# databases and files under target/bench/. The final table is also written to
# target/bench/table.md, the detailed per-group tables to target/bench/groups.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
BENCH_TAG=bench/table.sh
# shellcheck source=helpers/common.sh
source "$repo/bench/helpers/common.sh"

all_groups=(bash icount python pg sqlite mariadb output rss)
groups=()
for g in "${@:-${all_groups[@]}}"; do
    case $g in
        sql) groups+=(pg sqlite mariadb) ;;
        bash | icount | python | pg | sqlite | mariadb | output | rss) groups+=("$g") ;;
        *) die "unknown row group '$g' (use: bash icount python sql pg sqlite mariadb output rss)" ;;
    esac
done
want() { [[ " ${groups[*]} " == *" $1 "* ]]; }

# The knobs given, for the command line under the table.
given=()
for knob in QUICK ROUNDS WARMUP ROWS OUT_BYTES LINE_BYTES BIN; do
    [[ -n ${!knob:-} ]] && given+=("$knob=${!knob}")
done
QUICK=${QUICK:-}
if [[ -n $QUICK ]]; then
    ROWS=${ROWS:-100000} OUT_BYTES=${OUT_BYTES:-10000000}
    declare -A rounds=([bash]=20 [python]=10 [sql]=5 [output]=5)
else
    ROWS=${ROWS:-1000000} OUT_BYTES=${OUT_BYTES:-100000000}
    declare -A rounds=([bash]=60 [python]=30 [sql]=7 [output]=10)
fi
WARMUP=${WARMUP:-2}
# A line with no newline longer than the runner's 16 MiB limit: it fails the
# task by design (exit 73); this row is about the memory that takes.
LINE_BYTES=${LINE_BYTES:-100000000}
rounds_of() { echo "${ROUNDS:-${rounds[$1]}}"; }

# ---------------------------------------------------------------- tools
need python3 "the harness (bench/helpers/interleave.py) is Python 3"
need_gnu_time
want icount && need valgrind "the instruction count runs under callgrind (apt-get install valgrind)"
if want pg || want mariadb || want rss || want python; then load_test_env; fi
# Fail before measuring anything when a server or client is missing.
if want pg || want rss; then pg_fixture; fi
if want mariadb; then my_fixture; fi

bench_binary
out_dir=${CARGO_TARGET_DIR:-$repo/target}/bench
fx=$out_dir/fixtures
mkdir -p "$fx"
work=$(mktemp -d)
shm=$(mktemp -d /dev/shm/tr-bench.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
work_fs=$(df --output=fstype "$work" | tail -n 1)
: >"$work/rows.tsv"
: >"$out_dir/groups.md"

# The interpreter itself, not a pyenv shim (a shell script that rewrites PATH).
harness_py=$(python3 -c 'import sys; print(sys.executable)')
# Every command runs with only PATH, HOME and TMPDIR of this environment (plus
# its own --env), as in a container.
interleave() { "$harness_py" "$repo/bench/helpers/interleave.py" --clean-env "$@" | tee -a "$out_dir/groups.md"; }
# row LABEL KIND JSON NAME GOAL: one line of the final table (bench/helpers/table.py).
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$work/rows.tsv"; }

cat >"$work/bash.yaml" <<'SPEC'
operator: bash
bash_command: echo hi
SPEC
# A connection password in the context: the masker has a secret to look for.
cat >"$work/context.json" <<'CTX'
{"dag_id": "bench", "task_id": "t", "run_id": "manual__2024-06-01T00:00:00+00:00", "logical_date": "2024-06-01T00:00:00+00:00",
 "connections": {"warehouse": "postgres://u:bench-secret-5f3a@db:5432/dw"}}
CTX
mkdir -p "$work/xcom" "$shm/xcom"
bash_task="$bin run --config $work/bash.yaml --logical-date 2024-06-01"

# ---------------------------------------------------------------- bash
if want bash; then
    interleave --title "bash task vs bash -c" -n "$(rounds_of bash)" -w "$WARMUP" --json "$work/bash.json" \
        --cmd "bash -c" "bash -c 'echo hi'" \
        --cmd "runner, XCom on $work_fs" "$bash_task --xcom-path $work/xcom/return.json" \
        --cmd "runner, XCom on tmpfs" "$bash_task --xcom-path $shm/xcom/return.json" \
        --setup "runner, XCom on $work_fs" "rm -f $work/xcom/return.json" \
        --setup "runner, XCom on tmpfs" "rm -f $shm/xcom/return.json"
    row "bash \`echo hi\` task vs \`bash -c 'echo hi'\`, XCom on $work_fs" ratio "$work/bash.json" "runner, XCom on $work_fs" "<= 2.0"
    row "the same, XCom on tmpfs" ratio "$work/bash.json" "runner, XCom on tmpfs" "<= 2.0"
fi

# ---------------------------------------------------------------- icount
# Instructions the runner process itself executes for the bash task (its
# children run natively: --trace-children=no), beside bash's own.
if want icount; then
    callgrind_ir() {
        local out=$work/callgrind.out pid
        rm -f "$out".*
        env -i PATH="$PATH" HOME="$HOME" ${TMPDIR:+TMPDIR="$TMPDIR"} \
            valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$out.%p" "$@" \
            >/dev/null 2>"$work/valgrind.log" &
        pid=$!
        wait "$pid" || { cat "$work/valgrind.log" >&2; die "callgrind failed: $*"; }
        # "summary:" is the total of the event (Ir) over the whole run.
        awk '/^summary:/ { print $2 }' "$out.$pid" | grep . || die "no summary in $out.$pid"
    }
    rm -f "$work/xcom/return.json"
    runner_ir=$(callgrind_ir "$bin" run --config "$work/bash.yaml" --logical-date 2024-06-01 --xcom-path "$work/xcom/return.json")
    bash_ir=$(callgrind_ir bash -c 'echo hi')
    printf '{"runner": %s, "peer": %s}\n' "$runner_ir" "$bash_ir" >"$work/icount.json"
    printf '### instructions (callgrind, the process only)\n\nrunner %s, bash -c %s\n\n' "$runner_ir" "$bash_ir" |
        tee -a "$out_dir/groups.md"
    row "runner instructions for that task (callgrind, runner process only) vs bash's own" icount "$work/icount.json" - "<= 400000"
fi

# ---------------------------------------------------------------- python
if want python; then
    py3=${PYTHON3:-${TR_PYTHON3:-}}
    py27=${PYTHON27:-${TR_PYTHON27:-}}
    [[ -n $py3 && -x $py3 ]] || die "no python3.11: set PYTHON3 or run bash scripts/test-deps.sh (TR_PYTHON3)"
    [[ -n $py27 && -x $py27 ]] || die "no python2.7: set PYTHON27 or run bash scripts/test-deps.sh (TR_PYTHON27)"
    # A venv without pip: the interpreter's own site-packages may hold .pth
    # files that import half the standard library at every start (re, enum,
    # pathlib), which would hide what the shim itself imports.
    venv=$fx/py3-venv
    if [[ ! -x $venv/bin/python3 || $(readlink -f "$venv/bin/python3") != $(readlink -f "$py3") ]]; then
        rm -rf "$venv"
        "$py3" -m venv --without-pip "$venv" || die "cannot make a venv with $py3"
    fi
    py3=$venv/bin/python3
    "$bin" install-shims --dir "$shm/shims" --python "$py3" --python "$py27" >/dev/null ||
        die "$bin install-shims failed"
    for v in py3 py27; do
        cat >"$work/$v.yaml" <<SPEC
operator: python
python: ${!v}
python_callable: f
python_source: |
  def f():
      return 1
SPEC
    done
    bare=$'def f():\n    return 1\nprint(f())'
    run_py() { echo "$bin run --config $work/$1.yaml --logical-date 2024-06-01 --xcom-path $shm/xcom/$1.json"; }
    interleave --title "python callable vs python -c" -n "$(rounds_of python)" -w "$WARMUP" --json "$work/python.json" \
        --cmd "python3.11 -c" "$py3 -c '$bare'" \
        --cmd "runner py3.11, installed shim" "$(run_py py3)" \
        --cmd "runner py3.11, embedded shim" "$(run_py py3)" \
        --cmd "python2.7 -c" "$py27 -c '$bare'" \
        --cmd "runner py2.7, installed shim" "$(run_py py27)" \
        --cmd "runner py2.7, embedded shim" "$(run_py py27)" \
        --env "runner py3.11, installed shim" "TASK_RUNNER_SHIM_DIR=$shm/shims" \
        --env "runner py2.7, installed shim" "TASK_RUNNER_SHIM_DIR=$shm/shims" \
        --vs "runner py2.7, installed shim" "python2.7 -c" \
        --vs "runner py2.7, embedded shim" "python2.7 -c" \
        --setup '*' "rm -f $shm/xcom/py3.json $shm/xcom/py27.json"
    row "Python \`def f(): return 1\`, 3.11, installed shim, over \`python -c\`" delta "$work/python.json" "runner py3.11, installed shim" "<= 5"
    row "the same, 2.7, installed shim" delta "$work/python.json" "runner py2.7, installed shim" "<= 5"
    row "the same, 3.11, embedded shim" delta "$work/python.json" "runner py3.11, embedded shim" "<= 8"
    row "the same, 2.7, embedded shim" delta "$work/python.json" "runner py2.7, embedded shim" "<= 8"
fi

# ---------------------------------------------------------------- SQL
table=$(bench_table)
cols=$bench_cols
sql_spec() {
    cat >"$work/$1.yaml" <<SPEC
operator: sql
conn_id: $2
sql: SELECT $cols FROM $table
max_xcom_bytes: 4000000000
SPEC
}
run_sql() { echo "$bin run --config $work/$1.yaml --logical-date 2024-06-01 --xcom-path $work/xcom/$1.json"; }
sql_rows=$(echo "$ROWS" | sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta')
# check_rows XCOM FILE: the last runs' outputs hold ROWS rows each (the XCom
# a JSON list, FILE one line a row), so no figure comes from a broken run.
check_rows() {
    local got
    got=$("$harness_py" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$1") ||
        die "$1 is not a JSON list"
    [[ $got == "$ROWS" ]] || die "$1 has $got rows, not $ROWS"
    got=$(wc -l <"$2")
    [[ $got == "$ROWS" ]] || die "$2 has $got lines, not $ROWS"
}

# ---------------------------------------------------------------- PostgreSQL
if want pg || want rss; then sql_spec pg tr_bench_pg; fi
if want pg; then
    interleave --title "PostgreSQL $sql_rows rows vs psql COPY csv" -n "$(rounds_of sql)" -w "$WARMUP" --json "$work/pg.json" \
        --cmd "psql COPY csv" "psql $TR_PG_URL -XAtq -o $work/psql.csv -c 'COPY (SELECT $cols FROM $table) TO STDOUT (FORMAT csv)'" \
        --cmd "runner" "$(run_sql pg)" \
        --env runner "AIRFLOW_CONN_TR_BENCH_PG=$TR_PG_URL" \
        --setup "psql COPY csv" "rm -f $work/psql.csv" --setup runner "rm -f $work/xcom/pg.json"
    check_rows "$work/xcom/pg.json" "$work/psql.csv"
    row "PostgreSQL $sql_rows rows × 5 cols vs \`psql -XAtq -o f -c \"COPY (...) TO STDOUT (FORMAT csv)\"\`" ratio "$work/pg.json" runner "<= 1.0"
fi

# ---------------------------------------------------------------- SQLite
if want sqlite; then
    lite_db=$fx/$table.sqlite3
    lite_fixture "$lite_db"
    sql_spec lite tr_bench_lite
    interleave --title "SQLite $sql_rows rows vs sqlite3 -csv" -n "$(rounds_of sql)" -w "$WARMUP" --json "$work/lite.json" \
        --cmd "sqlite3 -csv" "sqlite3 -csv $lite_db '.output $work/lite.csv' 'SELECT $cols FROM $table'" \
        --cmd "runner" "$(run_sql lite)" \
        --env runner "AIRFLOW_CONN_TR_BENCH_LITE={\"conn_type\": \"sqlite\", \"host\": \"$lite_db\"}" \
        --setup "sqlite3 -csv" "rm -f $work/lite.csv" --setup runner "rm -f $work/xcom/lite.json"
    check_rows "$work/xcom/lite.json" "$work/lite.csv"
    row "SQLite $sql_rows rows vs \`sqlite3 -csv db \".output f\" \"select ...\"\`" ratio "$work/lite.json" runner "<= 1.0"
fi

# ---------------------------------------------------------------- MariaDB
if want mariadb; then
    sql_spec my tr_bench_my
    interleave --title "MariaDB $sql_rows rows vs mariadb -B -N" -n "$(rounds_of sql)" -w "$WARMUP" --json "$work/my.json" \
        --cmd "mariadb -B -N" "mariadb ${my_args[*]} -B -N -e 'SELECT $cols FROM $table'" \
        --cmd "runner" "$(run_sql my)" \
        --stdout "mariadb -B -N" "$work/my.tsv" \
        --env "mariadb -B -N" "MYSQL_PWD=$MYSQL_PWD" \
        --env runner "AIRFLOW_CONN_TR_BENCH_MY=$TR_MYSQL_URL" \
        --setup runner "rm -f $work/xcom/my.json"
    check_rows "$work/xcom/my.json" "$work/my.tsv"
    row "MariaDB $sql_rows rows vs \`mariadb -B -N -e \"select ...\" > f\`" ratio "$work/my.json" runner "<= 1.1"
fi

# ---------------------------------------------------------------- output
out_mb=$((OUT_BYTES / 1000000))
if want output; then
    produce="yes 'a line of task output, 40 bytes long..' | head -c $OUT_BYTES"
    cat >"$work/output.yaml" <<SPEC
operator: bash
bash_command: "$produce"
do_xcom_push: false
SPEC
    # The runner stands where the first cat stands: between the task and a pipe.
    interleave --title "$out_mb MB of output lines vs cat | cat" -n "$(rounds_of output)" -w "$WARMUP" --json "$work/output.json" \
        --cmd "cat | cat" "bash -c \"$produce | cat | cat >/dev/null\"" \
        --cmd "runner | cat" "bash -c '$bin run --config $work/output.yaml --context $work/context.json 2>/dev/null | cat >/dev/null'"
    row "$out_mb MB of output lines forwarded vs \`cat | cat\` (masking on: a secret in the context)" ratio "$work/output.json" "runner | cat" "<= 3.0"
fi

# ---------------------------------------------------------------- peak RSS
# From the warm-up runs (GNU time, at least 3); one timed round only, whatever ROUNDS says.
if want rss; then
    cat >"$work/line.yaml" <<SPEC
operator: bash
bash_command: "head -c $LINE_BYTES /dev/zero | tr '\\\\0' a"
SPEC
    interleave --title "peak RSS" -n 1 -w "$((WARMUP > 3 ? WARMUP : 3))" --json "$work/rss.json" \
        --cmd "bash -c" "bash -c 'echo hi'" \
        --cmd "runner bash task" "$bash_task --xcom-path $work/xcom/return.json" \
        --cmd "psql COPY csv" "psql $TR_PG_URL -XAtq -o $work/psql.csv -c 'COPY (SELECT $cols FROM $table) TO STDOUT (FORMAT csv)'" \
        --cmd "runner PostgreSQL" "$(run_sql pg)" \
        --cmd "runner long line" "$bin run --config $work/line.yaml --logical-date 2024-06-01 --xcom-path $work/xcom/line.json" \
        --env "runner PostgreSQL" "AIRFLOW_CONN_TR_BENCH_PG=$TR_PG_URL" \
        --vs "runner PostgreSQL" "psql COPY csv" \
        --vs "psql COPY csv" "psql COPY csv" \
        --vs "runner long line" "runner long line" \
        --exit "runner long line" 73 \
        --setup '*' "rm -f $work/psql.csv $work/xcom/return.json $work/xcom/pg.json"
    row "peak RSS: bash task (beside bash -c)" rss "$work/rss.json" "runner bash task" "<= 8"
    row "peak RSS: $sql_rows-row SQL, PostgreSQL (beside psql)" rss "$work/rss.json" "runner PostgreSQL" "<= 16"
    row "peak RSS: a $((LINE_BYTES / 1000000)) MB line without newline (fails by design, exit 73)" rss "$work/rss.json" "runner long line" "<= 40"
fi

# ---------------------------------------------------------------- the table
loads=$(python3 - "$work"/*.json <<'PY'
import json, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
print(", ".join(r["meta"]["load_before"].split()[0] for r in runs if "meta" in r))
PY
)
cmdline="${given[*]:+${given[*]} }bash bench/table.sh${*:+ $*}"
run_rounds=()
want bash && run_rounds+=("bash $(rounds_of bash)")
want python && run_rounds+=("python $(rounds_of python)")
if want pg || want sqlite || want mariadb; then run_rounds+=("SQL $(rounds_of sql)"); fi
want output && run_rounds+=("output $(rounds_of output)")
rounds_line=$(printf '%s, ' "${run_rounds[@]}")
rounds_line=${rounds_line%, }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo
    python3 "$repo/bench/helpers/table.py" "$work/rows.tsv" \
        "\`$cmdline\`, $(date +%F), binary $built; $(nproc) CPUs ($cpu), load average (1 min) at the groups' starts: ${loads:-n/a}." \
        "Rounds: ${rounds_line:-none}, each after $WARMUP warm-up runs; the ratio is the median of per-round ratios, the delta the median of per-round differences; peak RSS from GNU time (the largest process of the tree)."
} | tee "$out_dir/table.md"
