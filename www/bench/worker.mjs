// A Web Worker of the benchmark page running the app's training worker
// code (lead or helper, as its messages say), from the build its URL
// names (`?build=simd|relaxed`, SIMD128 by default). Helpers are started
// with the lead's own URL, so a team runs one build.
const build = new URLSearchParams(location.search).get("build") === "relaxed" ? "relaxed" : "simd";
const { default: init, worker_main } = await import(`/target/bench/${build}/lenet.js`);

await init({ module_or_path: `/target/bench/${build}/lenet_bg.wasm` });
worker_main();
