// A Web Worker of the benchmark page that trains alone (noise images,
// batch 500, the build its URL names as `worker.mjs` does): several at
// once share nothing, so their sum is the most that this machine lets
// workers do together.
const build = new URLSearchParams(location.search).get("build") === "relaxed" ? "relaxed" : "simd";
const { default: init, Bench } = await import(`/target/bench/${build}/lenet.js`);

await init({ module_or_path: `/target/bench/${build}/lenet_bg.wasm` });
onmessage = ({ data: { seconds, batch } }) => {
  const bench = new Bench(batch);
  for (let i = 0; i < 3; i++) bench.train_batch();
  const start = performance.now();
  let batches = 0;
  while (performance.now() - start < seconds * 1000) {
    bench.train_batch();
    batches++;
  }
  postMessage((batches * batch) / ((performance.now() - start) / 1000));
  bench.free();
};
postMessage("ready");
