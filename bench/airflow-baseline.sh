#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The old way, for the README's Benchmarks: a container with Python and
# Airflow in it running the operator (what a KubernetesPodOperator or
# DockerOperator image with Airflow did), beside task-runner doing the same
# task in the same container, interleaved (bench/helpers/interleave.py):
#
#   BashOperator(bash_command="echo hi").execute()
#   SQLExecuteQueryOperator 1,000,000 rows x 5 columns from PostgreSQL, then
#     json.dump of the result to a file (what a pod's XCom needs)
#
# Wall time (median) and peak RSS. This is the operator alone: no
# `airflow tasks run`, no DAG parsing, no metadata database, so the real old
# way costs more than this.
#
#   bash bench/airflow-baseline.sh        # in Docker (an image made once, see below)
#   HOST=1 bash bench/airflow-baseline.sh # on the host, no Docker
#   QUICK=1 ...                           # 100k rows, fewer rounds
#   ROWS=... ROUNDS=... BIN=...           # as in bench/table.sh
#
# The image, task-runner-bench/airflow-2.10:local, is the test base image
# (scripts/test-deps.sh) with the Airflow 2.10 venv (scripts/airflow-venvs.sh)
# less the task-runner provider, its CPython prefix (without site-packages),
# the shared libraries they need that the base lacks, and GNU time copied in
# (a few minutes, once). It is made again only when one of those changes (label org.task-runner.inputs). The binary and the harness
# are mounted at run time.
#
# Needs: docker (unless HOST=1), GNU time, the PostgreSQL test server
# (bash scripts/services.sh up), the venv (bash scripts/airflow-venvs.sh 2).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
BENCH_TAG=bench/airflow-baseline.sh
# shellcheck source=helpers/common.sh
source "$repo/bench/helpers/common.sh"

QUICK=${QUICK:-}
if [[ -n $QUICK ]]; then
    ROWS=${ROWS:-100000} bash_rounds=${ROUNDS:-5} sql_rounds=${ROUNDS:-2}
else
    ROWS=${ROWS:-1000000} bash_rounds=${ROUNDS:-10} sql_rounds=${ROUNDS:-3}
fi
HOST=${HOST:-}
image=task-runner-bench/airflow-2.10:local
readonly RECIPE=2

need python3 "the harness (bench/helpers/interleave.py) is Python 3"
need_gnu_time
load_test_env
[[ -f target/provider-env.sh ]] ||
    die "target/provider-env.sh is missing: make the Airflow venv with bash scripts/airflow-venvs.sh 2"
# shellcheck disable=SC1091
source target/provider-env.sh
venv_py=${TR_AIRFLOW2_PYTHON:-}
[[ -n $venv_py && -x $venv_py ]] ||
    die "no Airflow 2 venv (TR_AIRFLOW2_PYTHON in target/provider-env.sh): bash scripts/airflow-venvs.sh 2"
venv=$(cd "$(dirname "$venv_py")/.." && pwd -P)
airflow_version=$("$venv_py" -c 'from importlib.metadata import version; print(version("apache-airflow"))') ||
    die "$venv_py cannot tell its apache-airflow version"
if [[ -z $HOST ]]; then
    need docker "the baseline runs in a container (or set HOST=1 to run it on the host)"
    timeout 60 docker info >/dev/null 2>&1 || die "the docker daemon does not answer ('docker info'); HOST=1 runs on the host"
    base=${TR_DOCKER_BASE_IMAGE:-task-runner-test-base:bookworm}
    docker image inspect "$base" >/dev/null 2>&1 || die "base image $base not found: bash scripts/test-deps.sh"
fi
pg_fixture
bench_binary
table=$(bench_table)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- the image
# The interpreter the venv was made with (pyvenv.cfg's home), copied to the
# same path so the venv's bin/python link still resolves.
py_home=$(awk -F' = ' '$1 == "home" { print $2 }' "$venv/pyvenv.cfg")
py_prefix=$(cd "$py_home/.." && pwd -P)
[[ -x $py_home/python3 ]] || die "$venv/pyvenv.cfg names home = $py_home, which has no python3"
make_image() {
    local ctx=$work/image inputs cur base_id old
    base_id=$(docker image inspect -f '{{.Id}}' "$base")
    inputs=$( {
        echo "recipe $RECIPE base $base_id venv $venv prefix $py_prefix"
        cat "$venv/.tr-venv-key" 2>/dev/null || "$venv_py" -m pip freeze
        "$py_home/python3" -c 'import sys; print(sys.version)'
        sha256sum /usr/bin/time
    } | sha256sum | cut -d' ' -f1)
    cur=$(docker image inspect -f '{{index .Config.Labels "org.task-runner.inputs"}}' "$image" 2>/dev/null || true)
    if [[ $cur == "$inputs" ]]; then
        echo "image $image is up to date" >&2
        return
    fi
    echo "making $image (once; copies the venv and its interpreter)" >&2
    mkdir -p "$ctx/prefix" "$ctx/libs"
    need rsync "copying the interpreter into the image's context (apt-get install rsync)"
    # The standard library without site-packages: the interpreter's own
    # site-packages may start imports through .pth files; a venv ignores it anyway.
    rsync -a --exclude '/lib/python3.*/site-packages/*' --exclude '/lib/python3.*/test/' \
        --exclude '/lib/python3.*/idlelib/' --exclude '/lib/python3.*/tkinter/' --exclude '_tkinter*' \
        --exclude '/include/' --exclude '/share/' "$py_prefix/" "$ctx/prefix/"
    cp -a "$venv" "$ctx/venv"
    cp /usr/bin/time "$ctx/time"
    docker run --rm --entrypoint ldconfig "$base" -p | awk 'NR > 1 { print $1 }' | sort -u >"$work/base-libs"
    find "$ctx/prefix" "$ctx/venv" /usr/bin/time -type f \( -name '*.so' -o -name '*.so.*' -o -path '*/bin/python3*' -o -name time \) -print0 |
        { xargs -0 ldd 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
        while read -r so path; do
            grep -qxF "$so" "$work/base-libs" && continue
            cp -L "$path" "$ctx/libs/$so"
        done
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY prefix/ $py_prefix/
COPY libs/ /usr/local/lib/bench/
COPY time /usr/bin/time
RUN echo /usr/local/lib/bench > /etc/ld.so.conf.d/bench.conf && ldconfig
COPY venv/ $venv/
# The old way had no task-runner provider: drop the editable install the test
# venv has (its entry point would also point at a checkout not in the image).
RUN rm -rf $venv/lib/python3.*/site-packages/__editable__.airflow_provider_task_runner* \
    $venv/lib/python3.*/site-packages/airflow_provider_task_runner-*.dist-info
ENV AIRFLOW_HOME=/opt/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING
# The first import of Airflow writes its airflow.cfg: in the image, as a real one has it.
RUN $venv/bin/python -c 'import airflow.operators.bash, airflow.providers.common.sql.operators.sql' \
 && /usr/bin/time -f %M true
LABEL org.task-runner.inputs=$inputs
DOCKERFILE
    old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    docker build -q -t "$image" "$ctx" >/dev/null || die "docker build of $image failed"
    [[ -z $old ]] || docker rmi "$old" >/dev/null 2>&1 || true
    rm -rf "$ctx"
}
[[ -z $HOST ]] && make_image

# ---------------------------------------------------------------- the tasks
cat >"$work/bash_operator.py" <<'PY'
from airflow.operators.bash import BashOperator

BashOperator(task_id="bench", bash_command="echo hi").execute(context={})
PY
cat >"$work/sql_operator.py" <<'PY'
import json
import sys

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

op = SQLExecuteQueryOperator(task_id="bench", conn_id="tr_bench_pg", sql=sys.argv[1])
result = op.execute(context={})
with open(sys.argv[2], "w") as f:
    json.dump(result, f, default=str)
PY
printf 'operator: bash\nbash_command: echo hi\n' >"$work/bash.yaml"
query="SELECT $bench_cols FROM $table"
printf 'operator: sql\nconn_id: tr_bench_pg\nsql: %s\nmax_xcom_bytes: 4000000000\n' "$query" >"$work/sql.yaml"
mkdir -p "$work/out" "$work/airflow-home"
chmod -R a+rwX "$work"

# Paths as the harness sees them: the same on the host; /w, /bin and /bench
# mounts in the container.
if [[ -n $HOST ]]; then
    w=$work runner=$bin harness=$repo/bench/helpers/interleave.py python=python3
    export AIRFLOW_HOME=$work/airflow-home AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING
    where="on the host"
else
    w=/w runner=/usr/local/bin/task-runner harness=/bench/interleave.py python=$py_home/python3
    where="in a container ($image: Debian bookworm, CPython $("$py_home/python3" -c 'import platform; print(platform.python_version())'))"
fi
harness() {
    if [[ -n $HOST ]]; then
        "$python" "$harness" "$@"
    else
        docker run --rm --network host -v "$work:/w" -v "$bin:$runner:ro" \
            -v "$repo/bench/helpers/interleave.py:$harness:ro" -w /w \
            -e AIRFLOW_CONN_TR_BENCH_PG="$TR_PG_URL" "$image" "$python" "$harness" "$@"
    fi
}
export AIRFLOW_CONN_TR_BENCH_PG=$TR_PG_URL

harness --title "BashOperator echo hi vs task-runner, $where" -n "$bash_rounds" -w 2 --json "$w/bash.json" \
    --cmd "Airflow BashOperator" "$venv/bin/python $w/bash_operator.py" \
    --cmd "task-runner" "$runner run --config $w/bash.yaml --logical-date 2024-06-01 --xcom-path $w/out/bash.json" \
    --setup "task-runner" "rm -f $w/out/bash.json"
harness --title "SQLExecuteQueryOperator $ROWS rows + json.dump vs task-runner, $where" -n "$sql_rounds" -w 1 --json "$w/sql.json" \
    --cmd "Airflow SQLExecuteQueryOperator" "$venv/bin/python $w/sql_operator.py '$query' $w/out/airflow.json" \
    --cmd "task-runner" "$runner run --config $w/sql.yaml --logical-date 2024-06-01 --xcom-path $w/out/sql.json" \
    --setup '*' "rm -f $w/out/airflow.json $w/out/sql.json"

python3 - "$work/bash.json" "$work/sql.json" "$airflow_version" "$ROWS" <<'PY'
import json, sys
bash, sql = (json.load(open(p)) for p in sys.argv[1:3])
version, rows = sys.argv[3], int(sys.argv[4])
def fig(s):
    t = s["wall_ms"]
    m = s["rss_mb"]
    return ("%.2f s" % (t / 1000) if t >= 1000 else "%.1f ms" % t) + (" / %.0f MB" if m >= 20 else " / %.1f MB") % m
print()
print("| task | Airflow %s: Python + the operator | task-runner | Airflow / task-runner |" % version)
print("|---|---:|---:|---:|")
for label, run in (("BashOperator `echo hi`", bash),
                   ("SQLExecuteQueryOperator {:,} rows \u00d7 5 cols + `json.dump`".format(rows), sql)):
    airflow, runner = run["summary"]
    print("| %s | %s | %s | %.0f\u00d7 |" % (label, fig(airflow), fig(runner), 1 / runner["ratio"]))
print()
print("Wall time (median) / peak RSS (GNU time); the last column is the median of the per-round ratios; load average %s (bash) and %s (SQL) at the start."
      % (bash["meta"]["load_before"].split()[0], sql["meta"]["load_before"].split()[0]))
PY
echo "\`bash bench/airflow-baseline.sh\`${HOST:+ (HOST=1)}, $(date +%F), binary $built, $where; rounds: bash $bash_rounds, SQL $sql_rounds"
