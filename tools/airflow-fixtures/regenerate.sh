#!/usr/bin/env bash
# Rebuild fixtures/templates/expected/airflow-{2,3}.json with REAL Airflow from PyPI.
#
#   tools/airflow-fixtures/regenerate.sh            # both profiles
#   tools/airflow-fixtures/regenerate.sh 2          # only Airflow 2.10
#   tools/airflow-fixtures/regenerate.sh 3          # only Airflow 3.x
#
# Environment:
#   FIXTURE_VENVS  where the virtualenvs live (default /tmp/airflow-fixture-venvs; never inside the repo)
#   PYTHON         interpreter for the venvs (default: python3.11, else python3; Airflow 2.10 needs 3.8-3.12)
#   UNPINNED=1     ignore requirements-*.txt and let pip resolve apache-airflow==$AIRFLOW2/$AIRFLOW3 afresh
#   AIRFLOW2 / AIRFLOW3   versions used with UNPINNED=1 (default 2.10.5 / 3.3.2)
#   REINSTALL=1    delete and rebuild the venvs
#   VENV2 / VENV3  an existing Airflow 2 / 3 virtualenv to use as it is, nothing installed
#                  (e.g. the provider tests' target/airflow-venvs/airflow-2.10 and airflow-3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venvs="${FIXTURE_VENVS:-/tmp/airflow-fixture-venvs}"
case "$venvs" in "$repo"|"$repo"/*) echo "FIXTURE_VENVS must be outside the repository" >&2; exit 2;; esac
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"
profiles="${*:-2 3}"
mkdir -p "$venvs"

setup_venv() {  # $1 = 2|3
    local v="$venvs/airflow$1" req spec given
    if [ "$1" = 2 ]; then given="${VENV2:-}"; else given="${VENV3:-}"; fi
    if [ -n "$given" ]; then
        [ -x "$given/bin/python" ] || { echo "no $given/bin/python" >&2; exit 2; }
        echo "$given"
        return
    fi
    if [ "$1" = 2 ]; then req="$here/requirements-2.10.txt"; spec="apache-airflow==${AIRFLOW2:-2.10.5}";
    else req="$here/requirements-3.txt"; spec="apache-airflow==${AIRFLOW3:-3.3.2}"; fi
    [ "${REINSTALL:-0}" = 1 ] && rm -rf "$v"
    if [ ! -x "$v/bin/python" ] || [ ! -f "$v/.fixture-installed" ] || ! cmp -s "$req" "$v/.fixture-installed"; then
        rm -rf "$v"
        "$py" -m venv "$v"
        "$v/bin/python" -m pip install -q --upgrade pip >&2 || true
        if [ "${UNPINNED:-0}" = 1 ]; then
            echo "== installing $spec (unpinned) into $v" >&2
            "$v/bin/python" -m pip install -q "$spec" >&2
        else
            echo "== installing pinned $(basename "$req") into $v" >&2
            "$v/bin/python" -m pip install -q -r "$req" >&2
        fi
        cp "$req" "$v/.fixture-installed"
    fi
    echo "$v"
}

for p in $profiles; do
    v="$(setup_venv "$p")"
    home="$(mktemp -d "${TMPDIR:-/tmp}/airflow-fixture-home.XXXXXX")"
    echo "== Airflow $("$v/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null) (AIRFLOW_HOME=$home)" >&2
    AIRFLOW_HOME="$home" "$v/bin/python" "$here/generate.py" \
        --cases "$repo/fixtures/templates/cases.yaml" \
        --out "$repo/fixtures/templates/expected/airflow-$p.json"
    rm -rf "$home"
done
