#!/usr/bin/env bash
# Where a training step's time goes inside the browser, function by
# function: builds the library for the page (relaxed SIMD by default),
# trains the benchmark's noise minibatches (`Bench`, as the "1 worker"
# rows do) in headless Chromium under Linux `perf`, with V8 writing a
# jitdump so that perf names each WebAssembly function, and prints the
# busiest symbols. The shares are of everything the process ran in that
# time, start-up included.
#
# usage: www/bench/perf.sh [relaxed|simd128] [seconds]   (default: relaxed 15)
#
# Needs perf, Chromium, python3, the wasm32 target and wasm-bindgen (what
# `cargo xtask bench` sets up). Chromium runs without its sandbox, as
# the jitdump needs: run it only on pages of your own.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
build=${1:-relaxed}
seconds=${2:-15}
case $build in
  relaxed) features=(--features relaxed-simd) ;;
  simd128) features=() ;;
  *) echo "usage: www/bench/perf.sh [relaxed|simd128] [seconds]" >&2; exit 2 ;;
esac
out=$root/target/perf
rm -rf "$out"
mkdir -p "$out"
cargo build -q --lib --release --target wasm32-unknown-unknown ${features[@]+"${features[@]}"}
wasm-bindgen --target web --out-dir "$out/pkg" "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/lenet.wasm"
cat >"$out/index.html" <<EOF
<!doctype html><script type="module">
import init, { Bench } from "./pkg/lenet.js";
await init();
const bench = new Bench(500);
for (let i = 0; i < 3; i++) bench.train_batch();
const start = performance.now();
while (performance.now() - start < $seconds * 1000) bench.train_batch();
</script>
EOF
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$out" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 1
# V8 writes its jitdump where the browser runs.
(cd "$out" && timeout $((seconds + 10)) perf record -q -k 1 -o "$out/perf.data" -- \
  chromium --headless=new --no-sandbox --no-zygote --single-process \
  --js-flags="--perf-prof --no-write-protect-code-memory" \
  "http://127.0.0.1:$port/index.html" >/dev/null 2>&1) || true
perf inject --jit -i "$out/perf.data" -o "$out/perf.jit.data"
echo "Chromium, $build build, $seconds s of training minibatches of 500 (perf report: $out/perf.jit.data):"
perf report -q -i "$out/perf.jit.data" --no-children -F overhead,sym 2>/dev/null |
  sed -E 's/::h[0-9a-f]{16}//; s/-[0-9]+-(turbofan|liftoff)/ (\1)/; s/ +$//' | head -25
