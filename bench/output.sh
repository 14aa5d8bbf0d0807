#!/usr/bin/env bash
# Output forwarding: 100 MB of task output lines (40 bytes each) through the
# runner into a pipe, beside `cat | cat` moving the same bytes, and the
# runner's peak RSS doing it. Masking stays on (the context holds a secret).
# Uses the static release binary.
#   bash bench/output.sh             (needs hyperfine and GNU time: apt-get install hyperfine time)
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
produce="yes 'a line of task output, 40 bytes long..' | head -c 100000000"
cat > "$work/spec.yaml" <<SPEC
operator: bash
bash_command: "$produce"
do_xcom_push: false
SPEC
cat > "$work/context.json" <<'CTX'
{"dag_id": "bench", "task_id": "t", "run_id": "manual__2024-06-01T00:00:00+00:00", "logical_date": "2024-06-01T00:00:00+00:00",
 "connections": {"warehouse": "postgres://u:bench-secret@db:5432/dw"}}
CTX
run_task=("$bin" run --config "$work/spec.yaml" --context "$work/context.json")
hyperfine --warmup 1 --runs 10 --export-markdown "$work/output.md" \
    "bash -c \"$produce | cat | cat > /dev/null\"" \
    "${run_task[*]} 2>/dev/null | cat > /dev/null" >/dev/null
cat "$work/output.md"
echo
echo "peak RSS, runner process (KiB): $(/usr/bin/time -f %M "${run_task[@]}" 2>&1 >/dev/null | tail -1)"
