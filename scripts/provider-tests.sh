#!/usr/bin/env bash
# scripts/provider-tests.sh -- run the provider's pytest suite (provider/tests)
# under both pinned Airflow venvs, Airflow 2.10 then Airflow 3, with
# target/test-env.sh (PostgreSQL URL, python2.7, ruby, ...) and
# target/provider-env.sh (venv pythons, example images, static binary) exported.
#
#   scripts/provider-tests.sh                       # both Airflows
#   TR_AIRFLOW=3 scripts/provider-tests.sh          # only Airflow 3 (or 2)
#   scripts/provider-tests.sh -k fitness -x         # extra args go to pytest
#
# Needs what scripts/test.sh sets up: run it once, or scripts/test-deps.sh,
# the static binary, scripts/airflow-venvs.sh and scripts/build-images.sh.
# Every Airflow is run even if an earlier one fails; the exit code is non-zero
# if any failed.
set -Eeuo pipefail
LOG_TAG=provider-tests
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

TESTS=${TR_PROVIDER_TESTS:-$REPO/provider/tests}
# The servers of the run that called us (scripts/test.sh exports their URLs)
# win over whatever pair target/test-env.sh names now.
run_pg=${TR_PG_URL:-} run_mysql=${TR_MYSQL_URL:-}
for f in "$REPO/target/test-env.sh" "$PROVIDER_ENV"; do
    [[ -f $f ]] || die "$f is missing: run scripts/test.sh (or scripts/test-deps.sh, scripts/services.sh up, scripts/airflow-venvs.sh, scripts/build-images.sh)"
    set -a
    # shellcheck source=/dev/null
    source "$f"
    set +a
done
[[ -n $run_pg ]] && export TR_PG_URL=$run_pg
[[ -n $run_mysql ]] && export TR_MYSQL_URL=$run_mysql
[[ -d $TESTS ]] || die "$TESTS not found (the provider's test suite)"

profiles=(${TR_AIRFLOW:-2 3})
for p in "${profiles[@]}"; do
    v=TR_AIRFLOW${p}_PYTHON
    [[ -n ${!v:-} ]] || die "$v is not set in $PROVIDER_ENV: run scripts/airflow-venvs.sh"
    [[ -x ${!v} ]] || die "$v=${!v} is not executable: run scripts/airflow-venvs.sh"
done
for v in TR_IMAGE_PY3RUBY TR_IMAGE_PY27 TR_IMAGE_SCRATCH TR_STATIC_BIN; do
    [[ -n ${!v:-} ]] || die "$v is not set in $PROVIDER_ENV: run scripts/build-images.sh"
done
[[ -x $TR_STATIC_BIN ]] || die "TR_STATIC_BIN=$TR_STATIC_BIN is missing: build the static binary (scripts/test.sh)"

failed=()
for p in "${profiles[@]}"; do
    v=TR_AIRFLOW${p}_PYTHON
    ver=TR_AIRFLOW${p}_VERSION
    echo "==> provider tests under Airflow ${!ver:-$p} (${!v})"
    t0=$SECONDS
    # A private AIRFLOW_HOME per run: no shared airflow.cfg or sqlite DB.
    home=$(mktemp -d "${TMPDIR:-/tmp}/tr-provider-airflow$p.XXXXXX")
    if (cd "$REPO" && AIRFLOW_HOME=$home "${!v}" -m pytest "$TESTS" -q -p no:cacheprovider "$@"); then
        echo "ok: provider tests under Airflow ${!ver:-$p} ($((SECONDS - t0))s)"
    else
        rc=$?
        if ((rc == 5)); then
            echo "FAILED: provider tests under Airflow ${!ver:-$p}: pytest collected no tests in $TESTS"
        else
            echo "FAILED: provider tests under Airflow ${!ver:-$p} (pytest exit $rc)"
        fi
        failed+=("Airflow ${!ver:-$p}")
    fi
    rm -rf "$home"
done
((${#failed[@]} == 0)) || die "provider tests failed under: ${failed[*]}"
