// A Web Worker of the benchmark page running the app's training worker
// code (lead or helper, as its messages say), from the SIMD128 build.
import init, { worker_main } from "/target/bench/simd/lenet.js";

await init({ module_or_path: "/target/bench/simd/lenet_bg.wasm" });
worker_main();
