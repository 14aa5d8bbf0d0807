#!/usr/bin/env bash
# The one test command (README "Tests"; CI runs it through .ci/run).
# Installs everything the tests need, starts this run's database servers,
# builds the static binary and checks it is static, makes the pinned Airflow
# venvs and the example images, then runs every test: unit, integration (real
# bash, PostgreSQL, MariaDB, python3, python2.7, ruby, Docker), the shim
# tests, and the provider's pytest suite under Airflow 2.10 and Airflow 3.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-deps.sh
# PostgreSQL and MariaDB for this run alone: target/test-services/<run>, free
# ports, their URLs in target/test-env.sh; stopped when this script exits,
# fails or is interrupted (scripts/lib/services.sh).
# shellcheck source=lib/services.sh
source scripts/lib/services.sh
services_own "$(date +%Y%m%d-%H%M%S)-$$"
# shellcheck disable=SC1091
source target/test-env.sh

echo "==> building the static binary ($TR_MUSL_TARGET)"
cargo build --release --locked --target "$TR_MUSL_TARGET"
# Where cargo put it: CARGO_TARGET_DIR or a config may move the target dir.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
TR_STATIC_BIN="$TARGET_DIR/$TR_MUSL_TARGET/release/task-runner"
if [[ ! -x $TR_STATIC_BIN ]]; then
    echo "error: the static binary $TR_STATIC_BIN was not built" >&2
    exit 1
fi
if ! readelf -lW "$TR_STATIC_BIN" >/dev/null; then
    echo "error: readelf cannot read $TR_STATIC_BIN" >&2
    exit 1
fi
if readelf -lW "$TR_STATIC_BIN" | grep -q 'Requesting program interpreter'; then
    echo "error: $TR_STATIC_BIN is dynamically linked" >&2
    exit 1
fi
if readelf -dW "$TR_STATIC_BIN" 2>/dev/null | grep -q NEEDED; then
    echo "error: $TR_STATIC_BIN needs shared libraries" >&2
    exit 1
fi
echo "ok: static binary, $(du -h "$TR_STATIC_BIN" | cut -f1)"
export TR_STATIC_BIN

echo "==> Airflow venvs for the provider tests (scripts/airflow-venvs.sh)"
bash scripts/airflow-venvs.sh
echo "==> the case tables made by real Airflow are current (tools/shim-binding, tools/xcom-pull)"
python3 tools/shim-binding/generate.py --check
python3 tools/xcom-pull/generate.py --check
echo "==> example team images (scripts/build-images.sh)"
bash scripts/build-images.sh

echo "==> shim tests (python3, python2.7, ruby)"
bash runners/tests/run_tests.sh

echo "==> cargo test"
cargo test --locked --all-targets -- --test-threads="${TEST_THREADS:-4}"

echo "==> fuzzing (scripts/fuzz.sh, ${FUZZ_SECONDS:-30}s per target)"
bash scripts/fuzz.sh

echo "==> provider tests under Airflow 2.10 and 3 (scripts/provider-tests.sh)"
bash scripts/provider-tests.sh
