// The benchmark page: LeNet-5 (the Theano tutorial's) trained and run at
// batch 500 by our SIMD128 and scalar WebAssembly builds, TensorFlow.js
// (cpu and wasm backends) and ConvNetJS, in this browser, one after the
// other; then training through the app's own Web Workers on real MNIST,
// on one worker and on every core (and, for the machine's own limit, as
// many workers training alone at once); what a message between workers
// costs; and on every core the fast preset's time to 99 % test accuracy
// and the Accurate preset's time to 0.60 % test error.
// Results accumulate in `window.__bench`; `window.__done` is set at the
// end. `?tta=0` skips the time-to-accuracy runs;
// `?only=ours|tfjs-wasm|tfjs-cpu|convnet|ort|workers|messages|tta|accurate` runs one part;
// `?ort-threads=N` runs ONNX Runtime Web on N threads (a cross-origin
// isolated page only: run.mjs loads one for it);
// `?preset=fast` has the app rows train the fast preset, not the tutorial;
// `?fast={...}` overrides the fast preset's settings for the time to
// accuracy, and `?runs=N` runs it N times.

import initSimd, * as simd from "/target/bench/simd/lenet.js";
import initScalar, * as scalar from "/target/bench/scalar/lenet.js";
import initRelaxed, * as relaxed from "/target/bench/relaxed/lenet.js";

const BATCH = 500;
const params = new URLSearchParams(location.search);
const results = (window.__bench = []);
window.__done = false;
const out = document.getElementById("out");
const log = (line) => { out.textContent = (out.textContent === "running ..." ? "" : out.textContent) + line + "\n"; };
const tick = () => new Promise((r) => setTimeout(r, 0));

/// Best images/s of at least `runs` timed calls of `f` (each handling
/// `images`), and of as many more as fit in `runsMs`, after `warmup` calls
/// and at least `warmupMs` (engines compile wasm in tiers, the optimised
/// tier in the background, later in a busy browser). A shared machine
/// only ever adds time, so the best call is the one to keep.
async function measure(f, images, { warmup = 2, runs = 3, warmupMs = 0, runsMs = 0 } = {}) {
  let started = performance.now();
  for (let i = 0; i < warmup || performance.now() - started < warmupMs; i++) { await f(); await tick(); }
  let best = Infinity;
  started = performance.now();
  for (let i = 0; i < runs || performance.now() - started < runsMs; i++) {
    const t = performance.now();
    await f();
    best = Math.min(best, performance.now() - t);
    await tick();
  }
  return (images / best) * 1000;
}

/// A build's ceiling in GFLOP/s (see `simd_peak_flops`): the best burst
/// of 12 chains over `ms`.
function ceiling(ms, module = simd) {
  module.simd_peak_flops(1e6);
  let best = 0;
  for (const started = performance.now(); performance.now() - started < ms;) {
    const t = performance.now();
    const flops = module.simd_peak_flops(2e7);
    best = Math.max(best, flops / ((performance.now() - t) / 1000) / 1e9);
  }
  return best;
}

function record(name, kind, value, note = "") {
  results.push({ name, kind, value, note });
  const shown = typeof value === "number" ? value.toFixed(1) : typeof value === "object" ? JSON.stringify(value) : value;
  log(`${name} ${kind}: ${shown} ${note}`);
}

/// The smallest step of this page's clock (ms): Firefox's moves in whole
/// milliseconds unless the page is cross-origin isolated.
function clockStep() {
  let step = Infinity;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    let u = t;
    while (u === t) u = performance.now();
    step = Math.min(step, u - t);
  }
  return step;
}

/// The profile's rounds: how many of each kernel, and how long one lasts:
/// 100 steps of the clock (at least 20 ms), so that a step errs by 1 % at
/// most, and as many rounds as make a second of each kernel, so that the
/// profile spans the same time in every browser (about 11 s): 10 rounds
/// of 20 ms fell within one slow spell of this shared machine, which put
/// every kernel 45 % slow. Recorded as the page starts, for run.mjs to say.
const CLOCK_STEP = clockStep();
const ROUND_MS = Math.max(20, 100 * CLOCK_STEP);
const PROFILE = { rounds: Math.max(10, Math.ceil(1000 / ROUND_MS)), round_ms: ROUND_MS };

async function ours(label, module, dir) {
  const bench = new module.Bench(BATCH);
  record(label, "train", await measure(() => bench.train_batch(), BATCH, { warmup: 3, runs: 3, warmupMs: 3000, runsMs: 4000 }));
  record(label, "infer", await measure(() => bench.infer_batch(), BATCH, { warmup: 3, runs: 5, warmupMs: 2000, runsMs: 3000 }));
  if (dir !== "scalar") {
    const profile = module.kernel_profile(PROFILE.rounds, PROFILE.round_ms);
    record(`profile (ms per 50-image step), ${dir}`, "profile", profile.trim().replaceAll("\n", "; "));
  }
  bench.free();
}

/// ONNX Runtime Web (npm, pinned in package.json), its wasm backend on
/// `threads` threads, running our own exported model (`lenet export
/// --onnx`, target/bench/lenet5.onnx) at batch 500: inference only, as
/// ONNX Runtime Web does not train. Its own module, loaded here, so that
/// a failure says why and the other rows still run.
async function onnxRuntime(threads) {
  const label = `onnxruntime-web wasm, ${threads === 1 ? "1 thread" : `${threads} threads`}`;
  try {
    const ort = await import("/www/bench/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs");
    record("onnxruntime-web", "version", ort.env.versions?.web ?? "unknown");
    ort.env.wasm.wasmPaths = "/www/bench/node_modules/onnxruntime-web/dist/";
    ort.env.wasm.numThreads = threads;
    const model = await fetch("/target/bench/lenet5.onnx");
    if (!model.ok) throw new Error(`/target/bench/lenet5.onnx: HTTP ${model.status}`);
    const session = await ort.InferenceSession.create(new Uint8Array(await model.arrayBuffer()), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const input = new ort.Tensor("float32", Float32Array.from({ length: BATCH * 784 }, () => Math.random()), [BATCH, 1, 28, 28]);
    record(label, "infer", await measure(() => session.run({ image: input }), BATCH, { warmup: 3, runs: 5, warmupMs: 2000, runsMs: 3000 }));
  } catch (e) {
    record(label, "infer", "n/a", `(${e.message})`);
  }
}

function tfModel() {
  const model = tf.sequential();
  // Conv bias before max-pooling equals the tutorial's bias after it (max(x+b) = max(x)+b).
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 20, kernelSize: 5 }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.activation({ activation: "tanh" }));
  model.add(tf.layers.conv2d({ filters: 50, kernelSize: 5 }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.activation({ activation: "tanh" }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 500, activation: "tanh" }));
  model.add(tf.layers.dense({ units: 10, activation: "softmax" }));
  model.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy" });
  return model;
}

async function tensorflow(backend) {
  const label = `TensorFlow.js ${tf.version.tfjs} ${backend}`;
  // Each measurement on its own, so that one failing says why and the other still runs.
  const attempt = async (kind, f) => {
    try {
      record(label, kind, await f());
    } catch (e) {
      record(label, kind, "n/a", `(${e.message})`);
    }
  };
  let ready = false;
  await attempt("backend", async () => {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} could not start`);
    await tf.ready();
    ready = true;
    return backend === "wasm"
      ? `SIMD ${await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")}, threads ${await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")}`
      : "plain JavaScript";
  });
  if (!ready) return;
  const model = tfModel();
  const x = tf.randomUniform([BATCH, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), "int32"), 10);
  await attempt("train", () => measure(() => model.trainOnBatch(x, y), BATCH, { warmup: 1, runs: 2 }));
  await attempt("infer", () => measure(async () => { const p = model.predict(x); await p.data(); p.dispose(); }, BATCH, { warmup: 2, runs: 3 }));
  model.dispose(); x.dispose(); y.dispose();
}

function convnet() {
  const label = "ConvNetJS 0.3";
  const net = new convnetjs.Net();
  net.makeLayers([
    { type: "input", out_sx: 28, out_sy: 28, out_depth: 1 },
    { type: "conv", sx: 5, filters: 20, stride: 1, pad: 0 },
    { type: "pool", sx: 2, stride: 2 },
    { type: "tanh" },
    { type: "conv", sx: 5, filters: 50, stride: 1, pad: 0 },
    { type: "pool", sx: 2, stride: 2 },
    { type: "tanh" },
    { type: "fc", num_neurons: 500, activation: "tanh" },
    { type: "softmax", num_classes: 10 },
  ]);
  const trainer = new convnetjs.Trainer(net, { method: "sgd", learning_rate: 0.1, batch_size: BATCH, l2_decay: 0, momentum: 0 });
  const vols = Array.from({ length: BATCH }, () => {
    const v = new convnetjs.Vol(28, 28, 1, 0.0);
    for (let i = 0; i < 784; i++) v.w[i] = Math.random();
    return v;
  });
  return { label, trainAll: () => vols.forEach((v, i) => trainer.train(v, i % 10)), inferAll: () => vols.forEach((v) => net.forward(v)) };
}

/// `count` workers that each train alone (noise images, batch 500);
/// `run(n, seconds)` has the first `n` train at once and gives their
/// summed images/s: the machine's own limit for `n` workers, with no
/// messages between them.
async function soloWorkers(count) {
  const workers = await Promise.all(Array.from({ length: count }, () => new Promise((resolve, reject) => {
    const w = new Worker(`/www/bench/solo.mjs?build=${pageBuild.dir}`, { type: "module" });
    w.onmessage = (e) => e.data === "ready" && resolve(w);
    w.onerror = (e) => reject(new Error(`a worker failed to start: ${e.message}`));
  })));
  return {
    async run(n, seconds) {
      const rates = await Promise.all(workers.slice(0, n).map((w) => new Promise((resolve) => {
        w.onmessage = (e) => resolve(e.data);
        w.postMessage({ seconds, batch: BATCH });
      })));
      return rates.reduce((a, b) => a + b, 0);
    },
    close: () => workers.forEach((w) => w.terminate()),
  };
}

/// Milliseconds per round trip of a 1.7 MB buffer (transferred both ways)
/// between two workers: through a MessagePort the page hands out, and
/// between a worker and one it started (what the app's lead does).
async function messageCost(rounds = 200) {
  const spawn = () => new Promise((resolve) => {
    const w = new Worker("/www/bench/relay.js");
    w.onmessage = () => resolve(w);
  });
  const answer = (w, message, transfer = []) => new Promise((resolve) => {
    w.onmessage = (e) => resolve(e.data);
    w.postMessage(message, transfer);
  });
  const [a, b] = [await spawn(), await spawn()];
  try {
    const channel = new MessageChannel();
    b.postMessage({ role: "echo", port: channel.port2 }, [channel.port2]);
    record("round trip of 1.7 MB, MessagePort from the page", "ms", await answer(a, { role: "port", port: channel.port1, rounds }, [channel.port1]));
    const c = await spawn();
    record("round trip of 1.7 MB, worker to a worker it started", "ms", await answer(c, { role: "nested", rounds }));
    c.terminate();
  } finally {
    a.terminate();
    b.terminate();
  }
}

/// A message to the app's worker, as the page packs it (`web::js::pack`),
/// and the message in one from it.
const send = (worker, message) => worker.postMessage({ message });
const head = (e) => e.data.message ?? {};

/// The app's training worker, as the page makes it; it starts `count - 1`
/// helper workers of its own.
async function appWorkers(count) {
  const lead = await new Promise((resolve, reject) => {
    const w = new Worker(`/www/bench/worker.mjs?build=${pageBuild.dir}`, { type: "module" });
    w.onmessage = (e) => head(e).type === "Ready" && resolve(w);
    w.onerror = (e) => reject(new Error(`a worker failed to start: ${e.message}`));
  });
  return {
    lead,
    /// Loads MNIST and starts the helpers, resolving once the data is in.
    load: () => new Promise((resolve, reject) => {
      lead.onmessage = (e) => head(e).type === "DataReady" ? resolve() : head(e).type === "Error" && reject(new Error(head(e).message));
      send(lead, { type: "Load", data_url: "/www/data/", workers: count });
    }),
    /// Starts a run of `settings` on MNIST; `onMessage` sees the lead's messages.
    start(settings, onMessage) {
      lead.onmessage = (e) => onMessage(head(e));
      send(lead, { type: "Start", settings, data_url: "/www/data/", workers: count });
    },
    close: () => lead.terminate(),
  };
}

/// One window of the tutorial's settings (batch 500) on an app team and
/// real MNIST: images/s over `seconds` of minibatches, after a few to warm
/// up (the first run also hands the data to the helpers), and the lead's
/// `StepTimes` summed over those seconds. An epoch's end may fall in the
/// window (on two workers here, an epoch takes about as long as a
/// window): the time of its validation and test passes is left out, so
/// that the window holds `seconds` of training and the rate is training
/// alone, as one worker's windows, which end before the epoch does, are.
/// Resolves once the run stopped.
function appRun(team, seconds) {
  return new Promise((resolve, reject) => {
    let from = null, result = null;
    const sum = { steps: 0, images: 0, own: 0, helpers: 0, handling: 0, wait: 0, in_flight: 0, taking: 0, rest: 0, evaluating: 0 };
    const settings = simd.preset_settings(params.get("preset") ?? "tutorial");
    team.start(settings, (m) => {
      if (m.type === "Error") reject(new Error(m.message));
      if (m.type === "Stopped" && result) resolve(result);
      if (m.type !== "Progress" || result) return;
      const now = performance.now();
      if (from === null) {
        if (m.iterations >= 3) from = { t: now, it: m.iterations };
        return;
      }
      for (const k in sum) sum[k] += m.steps[k];
      // Seconds of training since the window opened.
      const training = (now - from.t - sum.evaluating) / 1000;
      if (training > seconds) {
        result = { rate: ((m.iterations - from.it) * settings.batch_size) / training, steps: sum };
        send(team.lead, { type: "Stop" });
      }
    });
  });
}

/// Training on every core against one, and the machine's own limit for
/// it, measured in turns so that a slow spell of this shared machine
/// falls on both sides: `rounds` windows each of the app's workers (one,
/// then all) and of independent workers (one, then all); the best window
/// of each is recorded.
async function scaling(cores, rounds = 5, seconds = 8) {
  const counts = cores > 1 ? [1, cores] : [1];
  const apps = await Promise.all(counts.map(appWorkers));
  const solo = await soloWorkers(cores);
  const app = counts.map(() => null), alone = counts.map(() => 0);
  try {
    for (let r = 0; r < rounds; r++) {
      for (const i of counts.keys()) {
        const run = await appRun(apps[i], seconds);
        if (!app[i] || run.rate > app[i].rate) app[i] = run;
      }
      for (const [i, n] of counts.entries()) alone[i] = Math.max(alone[i], await solo.run(n, seconds));
    }
  } finally {
    apps.forEach((a) => a.close());
    solo.close();
  }
  const workers = (n) => `${n} worker${n > 1 ? "s" : ""}`;
  record("scaling windows", "windows", { rounds, seconds });
  counts.forEach((n, i) => recordApp(`lenet ${pageBuild.label}, app, ${workers(n)}`, n, app[i]));
  counts.forEach((n, i) => record(`lenet ${pageBuild.label}, independent, ${workers(n)}`, "train", alone[i]));
}

/// Records an app training run: its rate, and where a step's time went
/// (the lead's `StepTimes`, per step).
function recordApp(name, workers, { rate, steps: s }) {
  record(name, "train", rate);
  const per = (ms) => (ms / s.steps).toFixed(1);
  const each = (ms) => (ms / s.steps / (workers - 1)).toFixed(1);
  const helpers = workers > 1
    ? `, each helper's chunks ${each(s.helpers)} ms (and ${each(s.handling)} ms taking them in and answering), the lead's wait for the helpers ${per(s.wait)} ms (of which messages on their way ${per(s.in_flight)} ms), its copying their gradient sums out of the replies and adding them ${per(s.taking)} ms`
    : "";
  const evaluated = s.evaluating > 0 ? `; validation and test passes ${(s.evaluating / 1000).toFixed(2)} s, left out of the rate` : "";
  record(name, "steps", `${s.steps} steps of ${(s.images / s.steps).toFixed(0)} images: the lead's own chunks ${per(s.own)} ms${helpers}, the rest of the lead's step ${per(s.rest)} ms${evaluated}`);
}

/// Time to accuracy: `preset` on `count` app workers and real MNIST, as a
/// user of the page would run it: seconds from Start until a new best
/// model's test error is at most `target` % (data already downloaded and
/// parsed). `runs` runs, each on a fresh team; the best is recorded and
/// every run is listed, so that a slow spell of this shared machine shows.
async function timeToAccuracy(preset, target, count, runs) {
  const name = `${preset} preset to ${target.toFixed(2)} % test error, ${count} workers, ${pageBuild.label}`;
  // `?fast={"lr_decay":0.5}` overrides fields of the fast preset: a sweep in the browser's own build.
  const overrides = preset === "fast" ? JSON.parse(params.get("fast") ?? "{}") : {};
  const settings = { ...simd.preset_settings(preset), ...overrides };
  const done = [];
  for (let r = 0; r < runs; r++) {
    const team = await appWorkers(count);
    try {
      await team.load();
      done.push(await ttaRun(team, settings, target));
    } finally {
      send(team.lead, { type: "Stop" });
      team.close();
    }
  }
  const s = settings;
  const f32 = (x) => Number(x.toPrecision(6)); // the settings are f32s
  const each = done.map((d) => `${d.seconds.toFixed(0)} s${d.reached ? "" : " (not reached)"} with validation passes at ${d.validated.join(", ")} s and about ${d.evaluated.toFixed(1)} s in evaluation passes`);
  const best = done.filter((d) => d.reached).sort((x, y) => x.seconds - y.seconds)[0] ?? done[0];
  // As `--augment` spells them: the kinds switched on.
  const kinds = Object.entries(s.augment ?? {}).filter(([k, v]) => v && !(k === "elastic_sigma" && !s.augment.elastic)).map(([k, v]) => `${k}=${f32(v)}`);
  const distortions = kinds.length ? `, distortions ${kinds.join(",")}` : "";
  const detail = `lr ${f32(s.learning_rate)}, momentum ${f32(s.momentum)}, ${s.schedule === "cosine" ? "cosine schedule" : `decay ${f32(s.lr_decay)}`}, batch ${s.batch_size}, ${s.epochs} epochs${distortions}; test error of the best model ${best.error?.toFixed(2)} % at epoch ${best.epoch}, ${best.iterations} iterations; runs: ${each.join("; ")}`;
  record(name, "seconds", best.reached ? best.seconds : "not reached", `(${detail})`);
}

/// One run of `settings` on `team` until a best model's test error is at
/// most `target` %, or the run's end.
function ttaRun(team, settings, target) {
  const start = performance.now();
  // When each validation pass came, and the time spent in evaluation passes.
  const validated = [];
  let evaluating = null, evaluated = 0, last = null, iterations = 0;
  return new Promise((resolve, reject) => {
    const end = (reached) => resolve({ reached, seconds: (performance.now() - start) / 1000, ...last, iterations, validated, evaluated: evaluated / 1000 });
    team.start(settings, (m) => {
      if (m.type === "Error") reject(new Error(m.message));
      if (m.type === "Progress") {
        const now = performance.now();
        if (m.evaluating && evaluating === null) evaluating = now;
        if (!m.evaluating && evaluating !== null) [evaluated, evaluating] = [evaluated + now - evaluating, null];
        for (const _ of m.validations) validated.push(((now - start) / 1000).toFixed(1));
        iterations = m.iterations;
        for (const [epoch, error] of m.tests) {
          last = { epoch, error };
          if (error <= target) end(true);
        }
      }
      if (m.type === "Finished") end(false);
    });
  });
}

const only = params.get("only");
/// The worker build the page picks in this browser (`page::worker_build`).
let pageBuild = { dir: "simd", label: "SIMD128" };
const part = (name) => only === null || only === name;
/// Every part `?only` allows, in turn.
async function everything() {
  record("profile rounds", "clock", { step: CLOCK_STEP, ...PROFILE });
  await initSimd({ module_or_path: "/target/bench/simd/lenet_bg.wasm" });
  // Measured at the start and at the end: a slow spell rarely spans both.
  const firstCeiling = ceiling(2000);
  // Relaxed SIMD, where the browser validates it (as the page checks).
  const relaxedOk = await initRelaxed({ module_or_path: "/target/bench/relaxed/lenet_bg.wasm" }).then(() => true, () => false);
  const firstRelaxedCeiling = relaxedOk ? ceiling(2000, relaxed) : 0;
  // The app's rows run the build the page would start here.
  pageBuild = relaxedOk ? { dir: "relaxed", label: "relaxed SIMD" } : { dir: "simd", label: "SIMD128" };
  if (part("ours")) {
    await ours("lenet SIMD128, 1 worker", simd, "simd");
    if (relaxedOk) await ours("lenet relaxed SIMD, 1 worker", relaxed, "relaxed");
    await initScalar({ module_or_path: "/target/bench/scalar/lenet_bg.wasm" });
    await ours("lenet scalar, 1 worker", scalar, "scalar");
  }
  tf.wasm.setWasmPaths("/www/bench/node_modules/@tensorflow/tfjs-backend-wasm/dist/");
  if (part("tfjs-wasm")) await tensorflow("wasm");
  if (part("tfjs-cpu")) await tensorflow("cpu");
  if (part("convnet")) {
    const c = convnet();
    record(c.label, "train", await measure(c.trainAll, BATCH, { warmup: 1, runs: 2 }));
    record(c.label, "infer", await measure(c.inferAll, BATCH, { warmup: 1, runs: 3 }));
  }
  if (part("ort")) await onnxRuntime(1);
  const cores = Math.max(1, Math.min(16, navigator.hardwareConcurrency || 1));
  if (part("workers")) await scaling(cores);
  if (part("messages")) await messageCost();
  const tta = params.get("tta") !== "0";
  if (part("tta") && tta) await timeToAccuracy("fast", 1.0, cores, Number(params.get("runs") ?? 2));
  // About five minutes a run: one.
  if (part("accurate") && tta) await timeToAccuracy("accurate", 0.6, cores, 1);
  record("simd128 ceiling", "gflops", Math.max(firstCeiling, ceiling(2000)));
  if (relaxedOk) record("relaxed-simd ceiling", "gflops", Math.max(firstRelaxedCeiling, ceiling(2000, relaxed)));
}

try {
  record("browser", "agent", navigator.userAgent);
  // run.mjs's cross-origin isolated page: ONNX Runtime Web on many threads, alone.
  if (params.has("ort-threads")) await onnxRuntime(Number(params.get("ort-threads")));
  else await everything();
} catch (e) {
  record("error", "error", String(e && e.stack || e));
}
window.__done = true;
log("done");
