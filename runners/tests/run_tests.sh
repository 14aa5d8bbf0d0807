#!/usr/bin/env bash
# Runs the shim fixture suites against real interpreters, exactly as task-runner invokes
# them (see ../PROTOCOL.md), the Python shim's argument binding against the table real
# Airflow produced (binding.py), both shims' xcom_pull against real Airflow's table
# (xcom_pull.py, xcom_pull.rb), and the Python shim's stand-ins for json and re against
# the real modules (lean.py). A missing interpreter is a failure, never a skip.
#
#   PYTHON3        Python 3 (default: python3 on PATH); also runs the harness
#   PYTHON2        Python 2.7 (default: python2.7 on PATH, else the newest pyenv 2.7.x)
#   RUBY           Ruby (default: ruby on PATH)
#   EXTRA_PYTHONS  more Pythons to run the Python suite with, space-separated,
#                  e.g. "$(pyenv root)/versions/3.6.15/bin/python3.6"
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "run_tests.sh: FATAL: $*" >&2
  exit 2
}

# python_major INTERP -> 2 or 3 on stdout; fails if INTERP does not run.
python_major() {
  "$1" -c 'import sys; print(sys.version_info[0])' 2>/dev/null
}

# First candidate that runs as Python 2 (pyenv shims on PATH may exist but not run).
find_python2() {
  local root candidate
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for candidate in "$(command -v python2.7)" $(ls -d "$root"/versions/2.7*/bin/python2.7 2>/dev/null | sort -rV); do
    if [ -n "$candidate" ] && [ "$(python_major "$candidate")" = 2 ]; then
      echo "$candidate"
      return
    fi
  done
}

PYTHON3=${PYTHON3:-$(command -v python3 || true)}
PYTHON2=${PYTHON2:-$(find_python2)}
RUBY=${RUBY:-$(command -v ruby || true)}

[ -n "$PYTHON3" ] || die "python3 not found (set PYTHON3=/path/to/python3)"
[ -n "$PYTHON2" ] || die "python2.7 not found (set PYTHON2=/path/to/python2.7, or pyenv install 2.7.18)"
[ -n "$RUBY" ] || die "ruby not found (set RUBY=/path/to/ruby, or apt-get install ruby)"
[ "$(python_major "$PYTHON3")" = 3 ] || die "PYTHON3=$PYTHON3 does not run as Python 3"
[ "$(python_major "$PYTHON2")" = 2 ] || die "PYTHON2=$PYTHON2 does not run as Python 2"
"$RUBY" -e 'exit 0' 2>/dev/null || die "RUBY=$RUBY does not run"

echo "python3: $PYTHON3 ($("$PYTHON3" --version 2>&1))"
echo "python2: $PYTHON2 ($("$PYTHON2" --version 2>&1))"
echo "ruby:    $RUBY ($("$RUBY" --version))"

failed=()
run() {
  local what=$1
  shift
  "$PYTHON3" "$here/check.py" "$@" || failed+=("$what")
}

# The shim's argument binding against real Airflow's (fixtures/binding_cases.json).
binding() {
  "$1" "$here/binding.py" || failed+=("binding table ($1)")
}

# The shim's _json and hand-written matchers against json and re.
lean() {
  "$1" "$here/lean.py" || failed+=("json/re stand-ins ($1)")
}

run "python suite ($PYTHON3)" suite python python3 "$PYTHON3"
run "python suite ($PYTHON2)" suite python python2 "$PYTHON2"
binding "$PYTHON3"
binding "$PYTHON2"
lean "$PYTHON3"
lean "$PYTHON2"
# xcom_pull against real Airflow's (fixtures/xcom_pull.json, at the repo root).
xcom_table() {
  "$@" || failed+=("xcom_pull table ($1)")
}
xcom_table "$PYTHON3" "$here/xcom_pull.py"
xcom_table "$PYTHON2" "$here/xcom_pull.py"
xcom_table "$RUBY" "$here/xcom_pull.rb"
for extra in ${EXTRA_PYTHONS:-}; do
  major=$(python_major "$extra") || die "EXTRA_PYTHONS: $extra does not run"
  run "python suite ($extra)" suite python "python$major" "$extra"
  binding "$extra"
  lean "$extra"
  xcom_table "$extra" "$here/xcom_pull.py"
done
run "ruby suite ($RUBY)" suite ruby ruby "$RUBY"
run "chain python3 -> python2.7 -> ruby" chain "$PYTHON3" "$PYTHON2" "$RUBY"

echo
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all shim tests passed"
