#!/usr/bin/env bash
# Start-up overhead and peak memory of the runner around a trivial bash task,
# beside plain `bash -c` doing the same. Uses the static release binary.
#   bash bench/startup.sh            (needs hyperfine and GNU time: apt-get install hyperfine time)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
for tool in hyperfine /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install hyperfine time)" >&2; exit 1; }
done
cargo build --release --locked --target "$target" --quiet || { echo "$0: cargo build failed" >&2; exit 1; }
bin="${CARGO_TARGET_DIR:-$PWD/target}/$target/release/task-runner"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/spec.yaml" <<'SPEC'
operator: bash
bash_command: echo {{ ds }}
SPEC
cat > "$work/context.json" <<'CTX'
{"dag_id": "bench", "task_id": "t", "run_id": "manual__2024-06-01T00:00:00+00:00", "logical_date": "2024-06-01T00:00:00+00:00",
 "connections": {"warehouse": "postgres://u:bench-secret@db:5432/dw"}}
CTX
run_task=("$bin" run --config "$work/spec.yaml" --context "$work/context.json" --xcom-path "$work/xcom/return.json")
echo "binary: $(du -h "$bin" | cut -f1) static ($(readelf -lW "$bin" | grep -c 'program interpreter') interpreters)"
hyperfine --warmup 20 --runs 300 -N --export-markdown "$work/startup.md" \
    "bash -c 'echo 2024-06-01'" \
    "${run_task[*]}" >/dev/null
cat "$work/startup.md"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo
echo "peak RSS, runner process alone (KiB): $(/usr/bin/time -f %M "${run_task[@]}" 2>&1 >/dev/null | tail -1)"
echo "peak RSS, bash -c alone (KiB):         $(rss bash -c 'echo 2024-06-01')"
