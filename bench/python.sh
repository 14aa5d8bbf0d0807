#!/usr/bin/env bash
# Runner overhead for a trivial Python callable (python3 and python2.7) and a
# trivial Ruby script, beside the bare interpreter doing the same work (call a
# function, write its JSON result to a file). Uses the static release binary.
#   bash bench/python.sh     (needs hyperfine; interpreters from target/test-env.sh
#                             or PYTHON3 / PYTHON27 / RUBY, else python3/python2.7/ruby on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f target/test-env.sh ] && source target/test-env.sh
py3=${PYTHON3:-${TR_PYTHON3:-$(command -v python3)}}
py27=${PYTHON27:-${TR_PYTHON27:-$(command -v python2.7 || true)}}
# A pyenv shim may exist without a usable 2.7 behind it: skip rather than fail.
[ -n "$py27" ] && ! "$py27" -c '' 2>/dev/null && py27=
rb=${RUBY:-${TR_RUBY:-$(command -v ruby)}}
target=x86_64-unknown-linux-musl
command -v hyperfine >/dev/null || { echo "$0: hyperfine not found (apt-get install hyperfine)" >&2; exit 1; }
[ -x "$py3" ] || { echo "$0: no python3 (set PYTHON3)" >&2; exit 1; }
[ -x "$rb" ] || { echo "$0: no ruby (set RUBY)" >&2; exit 1; }
cargo build --release --locked --target "$target" --quiet || { echo "$0: cargo build failed" >&2; exit 1; }
bin="${CARGO_TARGET_DIR:-$PWD/target}/$target/release/task-runner"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/context.json" <<'CTX'
{"dag_id": "bench", "task_id": "t", "run_id": "manual__2024-06-01T00:00:00+00:00",
 "logical_date": "2024-06-01T00:00:00+00:00", "params": {"n": 41},
 "xcom": [{"task_id": "up", "value": [1, 2, 3]}]}
CTX
python_spec() {
    cat > "$work/$1.yaml" <<SPEC
operator: python
python: $2
python_callable: fn
python_source: |
  def fn(params):
      return {"answer": params["n"] + 1}
SPEC
}
run() { echo "$bin run --config $work/$1.yaml --context $work/context.json --xcom-path $work/xcom/return.json"; }
# The same run with the shim installed and precompiled (`task-runner install-shims`,
# a Dockerfile step), so Python imports its bytecode instead of compiling it.
"$bin" install-shims --dir "$work/shims" --python "$py3" ${py27:+--python "$py27"} >/dev/null
run_installed() { echo "env TASK_RUNNER_SHIM_DIR=$work/shims $(run "$1")"; }
# The same work without the runner: define, call, write the JSON result.
bare_py='import json
def fn(params):
    return {"answer": params["n"] + 1}
with open("'$work'/bare.json", "w") as f:
    f.write(json.dumps(fn({"n": 41})))'
bare_rb='require "json"; File.write("'$work'/bare.json", JSON.generate({"answer" => 41 + 1}))'

cmds=()
python_spec py3 "$py3"
cmds+=("$py3 -c '$bare_py'" "$(run py3)" "$py3 -c '$bare_py'" "$(run_installed py3)")
if [ -n "$py27" ]; then
    python_spec py27 "$py27"
    cmds+=("$py27 -c '$bare_py'" "$(run py27)" "$py27 -c '$bare_py'" "$(run_installed py27)")
fi
cat > "$work/rb.yaml" <<SPEC
operator: ruby
ruby: $rb
ruby_script: '{"answer" => params["n"] + 1}'
SPEC
cmds+=("$rb -e '$bare_rb'" "$(run rb)")
for c in "${cmds[@]}"; do
    if [[ $c == *" run --config "* ]]; then
        $c >/dev/null 2>&1 || { echo "failed: $c" >&2; $c; exit 1; }
    fi
done
hyperfine -N --warmup 5 --runs "${RUNS:-60}" --export-json "$work/python.json" "${cmds[@]}" >/dev/null
# Wall-clock median and minimum (robust on a busy machine) and CPU time
# (user + system), then the runner's overhead over the bare interpreter.
python3 - "$work/python.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
print("| command | median ms | min ms | CPU ms (user+sys) |")
print("|---|---:|---:|---:|")
rows = []
for r in results:
    cmd = r["command"]
    label = ("task-runner run, " + cmd.split("--config ")[1].split()[0].rsplit("/", 1)[-1]
             + (" (installed shim)" if "TASK_RUNNER_SHIM_DIR" in cmd else "")
             if " run --config " in cmd else cmd.split()[0].rsplit("/", 1)[-1] + " alone")
    cpu = (r["user"] + r["system"]) * 1000
    rows.append((label, r["median"] * 1000, r["min"] * 1000, cpu))
    print("| %s | %.1f | %.1f | %.1f |" % rows[-1])
print()
for bare, runner in zip(rows[0::2], rows[1::2]):
    print("overhead of %s: median %+.1f ms, min %+.1f ms, CPU %+.1f ms"
          % (runner[0], runner[1] - bare[1], runner[2] - bare[2], runner[3] - bare[3]))
PY
