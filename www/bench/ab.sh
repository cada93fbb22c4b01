#!/usr/bin/env bash
# Measures a change to the kernels: builds the worker of git revision A
# and of B (default: the working tree, uncommitted changes included) and
# runs their `kernel_profile`s in turns in one page, in each browser
# (www/bench/ab.html, driven by www/bench/ab.mjs).
#
# usage: www/bench/ab.sh A [B] [chromium] [firefox]
#   AB_FEATURES=relaxed-simd (the default) or AB_FEATURES= for SIMD128;
#   AB_ROUNDS=6 (the default): rounds of each build's profile, taken in turns.
# e.g.   www/bench/ab.sh 82df738~1 82df738 chromium firefox
#
# Needs what `cargo xtask bench` sets up (the wasm32 target, wasm-bindgen,
# the browsers and their drivers).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
[ $# -ge 1 ] || { echo "usage: www/bench/ab.sh A [B] [chromium] [firefox]" >&2; exit 2; }
a=$1
shift
b=
if [ $# -gt 0 ] && git rev-parse -q --verify "$1^{commit}" >/dev/null; then
  b=$1
  shift
fi
features=${AB_FEATURES-relaxed-simd}

# build REV OUT: REV's library (the working tree's if REV is empty) into target/ab/OUT.
build() {
  local src=$root
  if [ -n "$1" ]; then
    src=$root/target/ab/tree
    git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
    git worktree prune
    git worktree add -q --detach "$src" "$1"
  fi
  (cd "$src" && CARGO_TARGET_DIR="$root/target/ab/cargo" cargo build -q --lib --release \
    --target wasm32-unknown-unknown ${features:+--features "$features"})
  wasm-bindgen --target web --out-dir "target/ab/$2" target/ab/cargo/wasm32-unknown-unknown/release/lenet.wasm
  if [ -n "$1" ]; then git worktree remove --force "$src"; fi
}

echo "A: $a; B: ${b:-the working tree}; features: ${features:-none (SIMD128)}" >&2
build "$a" a
build "$b" b
node www/bench/ab.mjs "$@"
