#!/usr/bin/env bash
# Regenerates runners/python_shim.bytecode from runners/python_shim.py with
# every CPython under $(pyenv root)/versions (2.7 and 3.6 on), or with the
# interpreters given. Run it after any change to the shim: a unit test
# (runner::python::tests) fails while the bytecode is older than the shim, and
# the runner meanwhile stages the source only (compiled on every run).
#
#   bash scripts/shim-bytecode.sh                 # every pyenv version
#   bash scripts/shim-bytecode.sh python2.7 python3.11
set -euo pipefail
cd "$(dirname "$0")/.."
pythons=("$@")
if [[ ${#pythons[@]} -eq 0 ]]; then
    root=$(pyenv root 2>/dev/null) || { echo "shim-bytecode: no pyenv; name the interpreters" >&2; exit 1; }
    for p in "$root"/versions/*/bin/python; do
        [[ -x $p ]] && pythons+=("$p")
    done
fi
python3 scripts/helpers/shim_bytecode.py runners/python_shim.py runners/python_shim.bytecode "${pythons[@]}"
