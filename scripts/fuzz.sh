#!/usr/bin/env bash
# A bounded fuzz run of every target in fuzz/ (README "Fuzzing"; scripts/test.sh
# calls it after `cargo test`). Installs cargo-fuzz into target/tools once (a
# warm CI run reuses it), builds the targets with the stable toolchain
# (RUSTC_BOOTSTRAP=1 lets stable take the -Z flags cargo-fuzz passes: ASan and
# the coverage instrumentation), then runs each target, one at a time, for
# FUZZ_SECONDS from its committed seeds (fuzz/corpus-seeds/<target>) and what
# earlier runs found (fuzz/corpus/<target>, not committed).
#
# Fails on any crash (a panic or a sanitizer report), any input taking over
# FUZZ_TIMEOUT seconds, a process over FUZZ_RSS_MB, or one allocation over
# FUZZ_MALLOC_MB (8 times the largest documented limit, 64 MiB: past it a size
# check is missing). The input is left in fuzz/artifacts/<target>/: minimize it
# with `cargo fuzz tmin`, keep it in tests/fuzz_regressions/<target>/ and give
# it an expectation in tests/fuzz_regressions.rs.
#
#   FUZZ_SECONDS=600 FUZZ_TARGETS="render" bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_MALLOC_MB=${FUZZ_MALLOC_MB:-512}
FUZZ_TARGETS=${FUZZ_TARGETS:-spec_load context_payload connection render sql_split}
CARGO_FUZZ_VERSION=0.13.2

# The longest input each target is given: a spec or payload of some pages,
# a connection, a template or a script (the 64 MiB caps are tested directly).
max_len() {
    case $1 in
        spec_load | context_payload) echo 16384 ;;
        sql_split) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

tools=$PWD/target/tools
if [[ $("$tools/bin/cargo-fuzz" --version 2>/dev/null) != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION into target/tools"
    cargo install --root "$tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
export PATH=$tools/bin:$PATH
export RUSTC_BOOTSTRAP=1
# The fuzz crate is its own workspace; its build goes under target/ with the
# rest of the cache (an instrumented build is slow: ~11 min cold on 2 cores).
unset CARGO_TARGET_DIR
fuzz_target_dir=$PWD/target/fuzz
# The bundled SQLite's amalgamation has function-local statics of one name
# that ASan's ODR check takes for duplicate globals: a false positive.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

# -O: release, as the runner ships; --debug-assertions: overflow checks too.
build=(-O --debug-assertions --target-dir "$fuzz_target_dir")
echo "==> building the fuzz targets (cargo fuzz build, stable + RUSTC_BOOTSTRAP=1)"
(cd fuzz && cargo fuzz build "${build[@]}")

failed=()
for target in $FUZZ_TARGETS; do
    echo "==> fuzzing $target for ${FUZZ_SECONDS}s"
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log=fuzz/artifacts/$target.log
    status=0
    (cd fuzz && cargo fuzz run "${build[@]}" "$target" \
        "corpus/$target" "corpus-seeds/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
        -rss_limit_mb="$FUZZ_RSS_MB" -malloc_limit_mb="$FUZZ_MALLOC_MB" \
        -max_len="$(max_len "$target")" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/") >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    echo "$target: ${runs:-?} execs in ${FUZZ_SECONDS}s; $last"
    if ((status != 0)); then
        echo "error: fuzzing $target failed (exit $status); the end of $log:" >&2
        grep -v -E '^(#|INFO|\s+NEW_FUNC)' "$log" | tail -40 >&2
        ls "fuzz/artifacts/$target" >&2
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "error: fuzz findings in: ${failed[*]}" >&2
    exit 1
fi
echo "ok: no crash, timeout or out-of-memory in: $FUZZ_TARGETS"
