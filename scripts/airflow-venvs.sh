#!/usr/bin/env bash
# scripts/airflow-venvs.sh -- the two pinned Airflow virtualenvs the provider
# tests run under, cached under $REPO/target/airflow-venvs/:
#
#   airflow-2.10/  apache-airflow 2.10.5  pins: provider/requirements/airflow-2.10.txt
#   airflow-3/     apache-airflow 3.3.2   pins: provider/requirements/airflow-3.txt
#
# each with the docker, cncf-kubernetes, postgres and common-sql providers,
# pytest, and the provider package installed editable from provider/.
# Writes TR_AIRFLOW2_PYTHON / TR_AIRFLOW3_PYTHON (the venvs' python) and
# TR_AIRFLOW2_VERSION / TR_AIRFLOW3_VERSION into target/provider-env.sh.
#
#   scripts/airflow-venvs.sh          # both
#   scripts/airflow-venvs.sh 3        # only Airflow 3
#
# Idempotent: a venv is reused while its key -- the sha256 of its pin file, the
# interpreter's path and full version, and this script's recipe version -- is
# unchanged; a changed pin (or interpreter) rebuilds it from scratch. A change
# of provider/pyproject.toml only re-runs the editable install. A build that
# fails leaves no key behind, so the next run starts over.  Both venvs are
# built in parallel (mostly downloads).  Runs are serialised with flock.
#
# Environment (optional):
#   TR_AIRFLOW_PYTHON  interpreter for the venvs (default: pyenv's 3.11.7,
#                      else the newest pyenv 3.11.x, else python3.11 on PATH)
#   TR_AIRFLOW_VENVS   where the venvs live (default $REPO/target/airflow-venvs)
#   TR_PROVIDER_DIR    the provider checkout to install editable (default $REPO/provider)
#   REBUILD=1          delete and rebuild the venvs
set -Eeuo pipefail
LOG_TAG=airflow-venvs
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
trap 'printf "[%s] error: exit %s at line %s: %s\n" "$LOG_TAG" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Bump when the way a venv is built changes (forces a rebuild everywhere).
readonly RECIPE=1
readonly VENVS=${TR_AIRFLOW_VENVS:-$REPO/target/airflow-venvs}
readonly PROVIDER_DIR=${TR_PROVIDER_DIR:-$REPO/provider}
readonly REQ_DIR=$REPO/provider/requirements
# The pip cache survives between builds; a cold CI machine simply starts empty.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=${PIP_DEFAULT_TIMEOUT:-120} PIP_RETRIES=${PIP_RETRIES:-5}

# profile -> venv dir name, pin file, expected Airflow version
declare -A NAME=([2]=airflow-2.10 [3]=airflow-3)
declare -A AIRFLOW=([2]=2.10.5 [3]=3.3.2)
readonly PROVIDERS=(airflow.providers.docker airflow.providers.cncf.kubernetes
    airflow.providers.postgres airflow.providers.common.sql pytest)

find_python() {
    if [[ -n ${TR_AIRFLOW_PYTHON:-} ]]; then
        [[ -x $TR_AIRFLOW_PYTHON ]] || die "TR_AIRFLOW_PYTHON=$TR_AIRFLOW_PYTHON is not executable"
        echo "$TR_AIRFLOW_PYTHON"; return
    fi
    local root c
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-/root/.pyenv}")
    for c in "$root/versions/3.11.7/bin/python3.11" \
             $(printf '%s\n' "$root"/versions/3.11.*/bin/python3.11 | sort -rV) \
             "$(command -v python3.11 || true)"; do
        [[ -n $c && -x $c ]] || continue
        # Resolve pyenv shims to the real interpreter.
        c=$("$c" -c 'import sys; assert sys.version_info[:2] == (3, 11); print(sys.executable)' 2>/dev/null) || continue
        echo "$c"; return
    done
    die "no CPython 3.11 found (looked for \$(pyenv root)/versions/3.11.*/bin/python3.11 and python3.11 on PATH); set TR_AIRFLOW_PYTHON"
}

provider_key() {
    local f
    for f in pyproject.toml setup.cfg setup.py; do
        if [[ -f $PROVIDER_DIR/$f ]]; then echo "$f"; cat "$PROVIDER_DIR/$f"; fi
    done | sha256
}

# Quick check (every run, < 1 s): the installed distributions are the pinned
# Airflow and the providers, and the provider is an editable install of
# $PROVIDER_DIR.  With "full" also (after a build or install): imports of
# Airflow and the providers, and pip check.
check_venv() {
    local p=$1 mode=${2:-quick} v=$VENVS/${NAME[$1]} got
    got=$("$v/bin/python" - "${AIRFLOW[$p]}" "$PROVIDER_DIR" <<'PY' 2>&1
import json, os, sys
from importlib import metadata
want, provider = sys.argv[1], os.path.realpath(sys.argv[2])
errors = []
try:
    have = metadata.version("apache-airflow")
    if have != want:
        errors.append("apache-airflow is %s, expected %s" % (have, want))
except metadata.PackageNotFoundError:
    errors.append("apache-airflow is not installed")
for d in ("apache-airflow-providers-docker", "apache-airflow-providers-cncf-kubernetes",
          "apache-airflow-providers-postgres", "apache-airflow-providers-common-sql", "pytest"):
    try:
        metadata.version(d)
    except metadata.PackageNotFoundError:
        errors.append(d + " is not installed")
editable = []
for dist in metadata.distributions():
    raw = dist.read_text("direct_url.json")
    if not raw:
        continue
    info = json.loads(raw)
    if info.get("dir_info", {}).get("editable") and info.get("url", "").startswith("file://"):
        editable.append((dist.metadata["Name"], os.path.realpath(info["url"][len("file://"):])))
if not any(path == provider for _, path in editable):
    errors.append("the provider is not installed editable from %s (editable installs: %s)"
                  % (provider, ", ".join("%s -> %s" % e for e in editable) or "none"))
if errors:
    sys.exit("; ".join(errors))
PY
    ) || die "${NAME[$p]}: $got (delete $v or run with REBUILD=1)"
    [[ $mode == full ]] || return 0
    got=$("$v/bin/python" -c "
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
" airflow "${PROVIDERS[@]}" 2>&1) || die "${NAME[$p]}: an import of airflow ${PROVIDERS[*]} fails: $(tail -n 3 <<<"$got")"
    got=$("$v/bin/python" -m pip check 2>&1) || die "${NAME[$p]}: pip check: $got"
}

# Build (or reuse) one venv; all output to $VENVS/<name>.log.
build_venv() {
    local p=$1 v=$VENVS/${NAME[$1]} req=$REQ_DIR/${NAME[$1]}.txt key pkey t0=$SECONDS check=quick
    key=$( { echo "recipe $RECIPE"; echo "$v"; echo "$PY"; "$PY" -c 'import sys; print(sys.version)'; cat "$req"; } | sha256)
    pkey=$(provider_key)
    if [[ ${REBUILD:-0} == 1 || ! -x $v/bin/python || $(cat "$v/.tr-venv-key" 2>/dev/null) != "$key" ]]; then
        [[ -e $v ]] && log "${NAME[$p]}: pins, interpreter or recipe changed (or REBUILD=1): rebuilding"
        rm -rf "$v"
        log "${NAME[$p]}: creating venv with $PY and installing $(grep -c '^[^#]' "$req") pinned packages"
        "$PY" -m venv "$v"
        "$v/bin/python" -m pip install -q -r "$req" ||
            die "${NAME[$p]}: pip install -r $req failed"
        echo "$key" >"$v/.tr-venv-key"
        rm -f "$v/.tr-provider-key"
        check=full
    fi
    if [[ $(cat "$v/.tr-provider-key" 2>/dev/null) != "$pkey" ]]; then
        log "${NAME[$p]}: pip install -e $PROVIDER_DIR"
        # -c: the provider's own dependencies resolve to the pinned versions;
        # a dependency the pins lack is an error of the pin file (pip check).
        "$v/bin/python" -m pip install -q -c "$req" -e "$PROVIDER_DIR" ||
            die "${NAME[$p]}: pip install -e $PROVIDER_DIR failed"
        echo "$pkey" >"$v/.tr-provider-key"
        check=full
    fi
    check_venv "$p" "$check"
    echo "ok: ${NAME[$p]}: Airflow ${AIRFLOW[$p]}, $v/bin/python ($((SECONDS - t0))s)"
}

# =================================================================== main
profiles=("$@")
((${#profiles[@]})) || profiles=(2 3)
for p in "${profiles[@]}"; do
    [[ -n ${NAME[$p]:-} ]] || die "unknown profile '$p' (use 2 and/or 3)"
    [[ -f $REQ_DIR/${NAME[$p]}.txt ]] || die "pin file $REQ_DIR/${NAME[$p]}.txt is missing"
done
[[ -f $PROVIDER_DIR/pyproject.toml ]] ||
    die "$PROVIDER_DIR/pyproject.toml is missing: the provider package must exist to be installed (pip install -e provider) into the Airflow venvs"
case "$VENVS/" in "$REPO"/target/*) ;; "$REPO"/*) die "TR_AIRFLOW_VENVS=$VENVS is inside the git tree (only target/ is ignored)";; esac

mkdir -p "$VENVS"
exec 9>"$VENVS/.lock"
if ! flock -n 9; then
    log "another airflow-venvs.sh run is in progress; waiting for it (max 30 min)"
    flock -w 1800 9 || die "timed out waiting for $VENVS/.lock"
fi
PY=$(find_python)
START=$SECONDS

pids=()
for p in "${profiles[@]}"; do
    ( build_venv "$p" ) >"$VENVS/${NAME[$p]}.log" 2>&1 &
    pids+=("$!")
done
failed=()
for i in "${!pids[@]}"; do
    p=${profiles[$i]}
    if wait "${pids[$i]}"; then
        cat "$VENVS/${NAME[$p]}.log"
    else
        failed+=("${NAME[$p]}")
        printf '[%s] %s FAILED; its log (%s):\n' "$LOG_TAG" "${NAME[$p]}" "$VENVS/${NAME[$p]}.log" >&2
        tail -n 40 "$VENVS/${NAME[$p]}.log" | sed 's/^/    | /' >&2
    fi
done
((${#failed[@]} == 0)) || die "venv build failed: ${failed[*]}"

vars=()
for p in "${profiles[@]}"; do
    vars+=("TR_AIRFLOW${p}_PYTHON" "$VENVS/${NAME[$p]}/bin/python" "TR_AIRFLOW${p}_VERSION" "${AIRFLOW[$p]}")
done
env_file_set "${vars[@]}"
echo "ok: Airflow venvs ready in $((SECONDS - START))s; env: $PROVIDER_ENV"
