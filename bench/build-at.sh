#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The static binary as it was at another commit, for a before/after table:
# prints its path (built once, kept under target/bench/at/<commit>/).
#
#   BIN=$(bash bench/build-at.sh 234484f) bash bench/table.sh bash icount
#
# The commit's tree is exported with git archive (no worktree is registered)
# and built with its own Cargo.lock and .cargo/config.toml in this checkout's
# target dir, so the dependencies compiled already are reused; the binary is
# copied out, and the next build of this checkout puts its own back.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_TAG=bench/build-at.sh
# shellcheck source=helpers/common.sh
source "$PWD/bench/helpers/common.sh"

(($# == 1)) || die "usage: bash bench/build-at.sh COMMIT"
need cargo "building needs the Rust toolchain"
sha=$(git rev-parse --verify --quiet "$1^{commit}") || die "$1 is not a commit of this repository"
sha=${sha:0:12}
target=x86_64-unknown-linux-musl
dir=${CARGO_TARGET_DIR:-$PWD/target}/bench/at/$sha
bin=$dir/task-runner
if [[ ! -x $bin ]]; then
    if [[ ! -f $dir/src/Cargo.toml ]]; then
        rm -rf "$dir/src"
        mkdir -p "$dir/src"
        git archive "$sha" | tar -x -C "$dir/src"
    fi
    shared=${CARGO_TARGET_DIR:-$PWD/target}
    echo "building $sha: cargo build --release --locked --target $target (target dir $shared)" >&2
    (cd "$dir/src" && CARGO_TARGET_DIR=$shared cargo build --release --locked --target "$target" >&2) ||
        die "cargo build at $sha failed"
    cp "$shared/$target/release/task-runner" "$bin.tmp"
    mv "$bin.tmp" "$bin"
    rm -rf "$dir/src"
fi
echo "$bin"
