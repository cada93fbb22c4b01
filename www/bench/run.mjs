// Drives www/bench/index.html in headless Chromium and Firefox over
// WebDriver, adds the native figures (target/bench/native.txt, from
// `lenet bench`), prints the table and writes it to www/bench/results.md.
// Run by `cargo xtask bench`, which builds everything it loads first.
//
// usage: node www/bench/run.mjs [chromium] [firefox] [--only PART] [--preset fast] [--fast JSON] [--runs N]

import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { BROWSERS, serve } from "../../tests/e2e/webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
// Per image, as our browser builds run it: forward 2.29 M multiply-adds;
// backward 1.68 M, the convolutions' from the pooled gradient (a quarter
// of their dense GEMMs' 3.49 M, see `simd128::conv2d_backward_pooled`),
// the dense layers' 0.81 M.
const TRAIN_MFLOP = 7.95;
const INFER_MFLOP = 4.59;

async function runIn(name, base, port, query = new URLSearchParams({ ...(only ? { only } : {}), ...(preset ? { preset } : {}), ...extra })) {
  const { driver: d, capabilities } = BROWSERS[name](port, join(ROOT, "target/bench"));
  try {
    // TensorFlow.js cpu and ConvNetJS hold the main thread for long stretches.
    await d.start(capabilities, 30 * 60 * 1000);
    await d.go(`${base}/www/bench/index.html?${query}`);
    await d.waitFor("the benchmark", () => d.js("return window.__done === true"), 40 * 60 * 1000);
    return await d.js("return window.__bench");
  } finally {
    await d.quit();
  }
}

const value = (rows, name, kind) => rows.find((r) => r.name === name && r.kind === kind)?.value;
const fmt = (v) => (typeof v === "number" ? v.toFixed(0) : v ?? "–");
const ratio = (a, b) => (typeof a === "number" && typeof b === "number" ? `${(a / b).toFixed(1)}x` : "–");

const args = process.argv.slice(2);
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : null;
const presetAt = args.indexOf("--preset");
const preset = presetAt >= 0 ? args.splice(presetAt, 2)[1] : null;
// Passed to the page as they are: `--fast '{"lr_decay":0.5}'`, `--runs 1`.
const extra = {};
for (const name of ["fast", "runs"]) {
  const at = args.indexOf(`--${name}`);
  if (at >= 0) extra[name] = args.splice(at, 2)[1];
}
const which = args.length ? args : ["chromium", "firefox"];
const server = await serve(ROOT);
const base = `http://127.0.0.1:${server.address().port}`;
// ONNX Runtime Web's threads need SharedArrayBuffer, so a cross-origin
// isolated page; the app's own page is not one, so the rest runs without.
const isolatedServer = await serve(ROOT, { isolated: true });
const isolatedBase = `http://127.0.0.1:${isolatedServer.address().port}`;
const ortThreads = cpus().length;
const browsers = {};
let port = 9600;
for (const name of which) {
  console.error(`benchmarking in ${name} ...`);
  browsers[name] = await runIn(name, base, port++);
  if (ortThreads > 1 && (!only || only === "ort")) {
    const rows = await runIn(name, isolatedBase, port++, new URLSearchParams({ "ort-threads": ortThreads }));
    browsers[name].push(...rows.filter((r) => r.name.startsWith("onnxruntime-web wasm") || r.kind === "error"));
  }
}
server.close();
isolatedServer.close();

const native = (await readFile(join(ROOT, "target/bench/native.txt"), "utf8")).trim().split("\n");
const lines = [];
const say = (s = "") => lines.push(s);
say(`# LeNet-5 benchmark`);
say();
say(`Machine: ${cpus().length} cores, ${cpus()[0].model}. Batch 500, images per second, best of a few runs after warm-up.`);
say(`Produced by \`cargo xtask bench\` on ${new Date().toISOString().slice(0, 10)}.`);
say();
const named = (part) => [...new Set(Object.values(browsers).flatMap((rows) => rows.filter((r) => r.name.startsWith("lenet ") && r.name.includes(part)).map((r) => r.name)))];
// The app's rows run the build the page picks in each browser.
const appRows = named(", app, ");
const independentRows = named(", independent, ");
const systems = [
  "lenet SIMD128, 1 worker",
  "lenet relaxed SIMD, 1 worker",
  "lenet scalar, 1 worker",
  ...appRows,
  ...independentRows,
  "onnxruntime-web wasm, 1 thread",
  ...(ortThreads > 1 ? [`onnxruntime-web wasm, ${ortThreads} threads`] : []),
  `TensorFlow.js 4.22.0 wasm`,
  `TensorFlow.js 4.22.0 cpu`,
  "ConvNetJS 0.3",
];
/// Browser `b`'s app rows: one worker's and every core's training rates
/// (with the latter's row name), and the independent workers' the same way.
function scalingOf(b) {
  const train = (part, one) => browsers[b].find((r) => r.kind === "train" && r.name.startsWith("lenet ") && r.name.includes(part) && r.name.endsWith(" 1 worker") === one && typeof r.value === "number");
  return { one: train(", app, ", true), all: train(", app, ", false), alone: train(", independent, ", true), together: train(", independent, ", false) };
}
/// Browser `b`'s GEMM rate in build `dir` (the profile's last figure, see
/// `bench::profile::kernel_profile`) and that build's ceiling, in GFLOP/s.
function gemmsOf(b, dir) {
  const profile = value(browsers[b], `profile (ms per 50-image step), ${dir}`, "profile");
  const gemms = Number(profile?.match(/gemms ([\d.]+)/)?.[1]);
  const roof = value(browsers[b], dir === "simd" ? "simd128 ceiling" : "relaxed-simd ceiling", "gflops");
  return { profile, gemms: Number.isFinite(gemms) ? gemms : null, roof: typeof roof === "number" ? roof : null };
}
/// How the app and independent rows were windowed, as the page says
/// (`scaling` in bench.mjs): "five 8-second windows".
function windowsText() {
  const w = Object.values(browsers).flat().find((r) => r.name === "scaling windows")?.value;
  const words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
  return w ? `${words[w.rounds] ?? w.rounds} ${w.seconds}-second windows` : "several windows";
}
say(`| system | ${which.map((b) => `${b} train | ${b} infer`).join(" | ")} |`);
say(`|---|${which.map(() => "---:|---:").join("|")}|`);
for (const s of systems) {
  say(`| ${s} | ${which.map((b) => `${fmt(value(browsers[b], s, "train"))} | ${fmt(value(browsers[b], s, "infer"))}`).join(" | ")} |`);
}
for (const line of native) say(`| ${line.split(":")[0]} | ${line.split(":").slice(1).join(":").trim()} |`);
say();
say(`"1 worker" rows run on the page's thread on noise images, as the peers do; "app" rows train through the app's own Web Workers on MNIST (the tutorial's settings), one worker and one per core, the minibatch's chunks shared out and summed in a fixed order; "independent" rows are that many workers each training alone on noise at once, their rates summed: the machine's own limit for parallel work, with nothing shared. The app and independent rows are the best of ${windowsText()}, taken in turns; an app window leaves out the time of any validation and test passes in it (an epoch's end), so that it rates training alone.`);
say();
say(`Ours (SIMD128, 1 worker) against each peer:`);
say();
for (const b of which) {
  const ours = (k) => value(browsers[b], systems[0], k);
  const parts = systems.filter((s) => !s.startsWith("lenet")).map((s) => `${s}: training ${ratio(ours("train"), value(browsers[b], s, "train"))}, inference ${ratio(ours("infer"), value(browsers[b], s, "infer"))}`);
  const ceiling = value(browsers[b], "simd128 ceiling", "gflops");
  const share = (img, mflop) => (typeof img === "number" && typeof ceiling === "number" ? `${((img * mflop) / 1000).toFixed(1)} GFLOP/s, ${(((img * mflop) / 1000 / ceiling) * 100).toFixed(0)} % of the measured SIMD128 ceiling of ${ceiling.toFixed(1)} GFLOP/s` : "–");
  say(`- ${b}: ${parts.join("; ")}.`);
  say(`  Training ${share(ours("train"), TRAIN_MFLOP)}; inference ${share(ours("infer"), INFER_MFLOP)} (one core).`);
  const fused = (k) => value(browsers[b], "lenet relaxed SIMD, 1 worker", k);
  const roof = value(browsers[b], "relaxed-simd ceiling", "gflops");
  if (typeof fused("train") === "number" && typeof roof === "number") {
    const pct = (img, mflop) => `${((img * mflop) / 1000).toFixed(1)} GFLOP/s, ${(((img * mflop) / 1000 / roof) * 100).toFixed(0)} %`;
    say(`  Relaxed SIMD (fused multiply-add): training ${fmt(fused("train"))} images/s, ${ratio(fused("train"), ours("train"))} SIMD128's (${pct(fused("train"), TRAIN_MFLOP)} of its measured ceiling of ${roof.toFixed(1)} GFLOP/s); inference ${fmt(fused("infer"))}, ${ratio(fused("infer"), ours("infer"))}.`);
  }
  const ort = value(browsers[b], "onnxruntime-web", "version");
  if (ort) say(`  ONNX Runtime Web ${ort} (wasm backend) runs our own model, exported by \`lenet export --onnx\`; it does not train. Its ${ortThreads}-thread row comes from a cross-origin isolated copy of this page, as its threads need.`);
  const wasmNote = value(browsers[b], "TensorFlow.js 4.22.0 wasm", "backend");
  if (wasmNote) say(`  TensorFlow.js wasm backend: ${wasmNote}.`);
  for (const r of browsers[b].filter((r) => r.value === "n/a")) say(`  ${r.name} ${r.kind}: not measured ${r.note}.`);
  const { one, all, alone, together } = scalingOf(b);
  if (one && all) {
    const machine = alone && together ? ` The machine itself allows ${ratio(together.value, alone.value)}: ${fmt(together.value)} images/s from workers that share nothing, against ${fmt(alone.value)} from one alone.` : "";
    say(`  Every core: ${all.name.split(", ").pop()} train ${fmt(all.value)} images/s, ${ratio(all.value, one.value)} one worker's ${fmt(one.value)}.${machine}`);
  }
  for (const n of appRows) {
    const steps = value(browsers[b], n, "steps");
    if (steps) say(`  ${n.split(", ").pop()}, where a step's time goes: ${steps}.`);
  }
  const trips = browsers[b].filter((r) => r.kind === "ms").map((r) => `${r.name.replace("round trip of 1.7 MB, ", "")} ${r.value.toFixed(2)} ms`);
  if (trips.length) say(`  Round trip of a 1.7 MB buffer between workers: ${trips.join("; ")}.`);
  for (const [dir, label] of [["simd", "SIMD128"], ["relaxed", "relaxed SIMD"]]) {
    const { profile, gemms, roof } = gemmsOf(b, dir);
    if (!profile) continue;
    const share = gemms && roof ? ` The GEMM kernels run at ${gemms.toFixed(1)} GFLOP/s, ${((gemms / roof) * 100).toFixed(0)} % of this build's ceiling.` : "";
    say(`  Profile, ${label}, ms per 50-image step: ${profile}.${share}`);
  }
  const clock = value(browsers[b], "profile rounds", "clock");
  if (clock) say(`  Each profile figure is the kernel's best of ${clock.rounds} rounds of about ${clock.round_ms.toFixed(0)} ms; this page's clock moves in steps of ${clock.step.toFixed(3)} ms.`);
}
const isTta = (r) => r.name.includes(" preset to ");
const ttas = Object.entries(browsers).flatMap(([b, rows]) => rows.filter(isTta).map((r) => [b, r]));
if (ttas.length) say();
for (const [b, tta] of ttas) {
  const reached = typeof tta.value === "number" ? `${tta.value.toFixed(0)} s` : tta.value;
  say(`Time to accuracy (${b}, the app's workers, the build the page picks): ${tta.name}: ${reached} ${tta.note}.`);
}
/// The tutorial's full protocol in a tab, projected from this run (minutes).
let projected = null;
if (browsers.chromium) {
  const fastest = appRows.map((n) => [n, value(browsers.chromium, n, "train")]).filter(([, v]) => typeof v === "number").sort((x, y) => y[1] - x[1])[0];
  const infer = value(browsers.chromium, systems[0], "infer");
  if (fastest && typeof infer === "number") {
    // The tutorial: 200 epochs of 50,000 images, and a validation pass
    // (10,000 images, counted at one worker's inference speed) per epoch.
    projected = (200 * 50000 / fastest[1] + 200 * 10000 / infer) / 60;
    say(`Projected full tutorial run (200 epochs, batch 500, ${fastest[0].split(", ").pop()}): ${projected.toFixed(0)} minutes, against the tutorial's 380 minutes on its 3.4 GHz CPU.`);
  }
}
// The targets of issues #12, #28 and #30, each against this run's figures.
const torchTrain = (threads) => {
  const line = native.find((l) => l.startsWith("PyTorch") && l.includes(` ${threads} thread(s):`));
  return Number(line?.match(/training (\d+) images/)?.[1]) || null;
};
const targets = [];
const met = (ok) => (ok ? "met" : "not met");
const oneChromium = browsers.chromium && value(browsers.chromium, "lenet relaxed SIMD, 1 worker", "train");
if (typeof oneChromium === "number") targets.push(`One worker at least 2,000 training images/s in Chromium: ${fmt(oneChromium)} (relaxed SIMD): ${met(oneChromium >= 2000)}.`);
for (const b of which) {
  const { one, all } = scalingOf(b);
  if (one && all) {
    const x = all.value / one.value;
    targets.push(`${b}, every core at least 1.8x one worker in the app: ${all.name.split(", ").pop()} ${fmt(all.value)} against ${fmt(one.value)}, ${x.toFixed(2)}x: ${met(x >= 1.8)}.`);
    const threads = Number(all.name.split(", ").pop().split(" ")[0]);
    const torch = torchTrain(threads);
    if (torch) targets.push(`${b}, every core at least 1.0x PyTorch natively on as many threads: ${fmt(all.value)} against ${fmt(torch)}, ${(all.value / torch).toFixed(2)}x: ${met(all.value >= torch)}.`);
  }
  const seconds = (v) => (typeof v === "number" ? `${v.toFixed(0)} s` : v);
  const tta = browsers[b].find((r) => r.name.startsWith("fast preset"));
  if (tta) targets.push(`${b}, the fast preset at 99 % test accuracy in under 60 s: ${seconds(tta.value)}: ${met(typeof tta.value === "number" && tta.value < 60)}.`);
  const accurate = browsers[b].find((r) => r.name.startsWith("accurate preset"));
  if (accurate) targets.push(`${b}, the Accurate preset at 0.60 % test error or less on every core (issue #28): ${seconds(accurate.value)}: ${met(typeof accurate.value === "number")}.`);
  for (const dir of ["simd", "relaxed"]) {
    const { profile, gemms, roof } = gemmsOf(b, dir);
    const build = `${b}, ${dir === "simd" ? "SIMD128" : "relaxed SIMD"}`;
    if (gemms && roof) {
      targets.push(`${build}: the GEMMs at 75 % or more of the build's ceiling: ${((gemms / roof) * 100).toFixed(0)} % (${gemms.toFixed(1)} of ${roof.toFixed(1)} GFLOP/s): ${met(gemms / roof >= 0.75)}.`);
    }
    // Issue #30: the whole step's useful work (TRAIN_MFLOP an image, 50
    // images a step) against the ceiling, and each pooled backward pass
    // against its layer's input-gradient GEMM (conv1's filter GEMM, as
    // its input, the data, needs no gradient).
    const ms = (kernel) => Number(profile?.split(`${kernel} `)[1]?.match(/^[\d.]+/)?.[0]);
    const step = ms("whole step (loss_and_grad)");
    if (step && roof) {
      const rate = (50 * TRAIN_MFLOP) / step;
      targets.push(`${build}: a whole training step at 75 % or more of the build's ceiling (issue #30): ${((rate / roof) * 100).toFixed(0)} % (${rate.toFixed(1)} of ${roof.toFixed(1)} GFLOP/s, ${step.toFixed(2)} ms a 50-image step): ${met(rate / roof >= 0.75)}.`);
    }
    for (const [pooled, gemm] of [["conv2.backward_pooled", "conv2.backward_input"], ["conv1.backward_pooled", "conv1.backward_filter"]]) {
      if (ms(pooled) && ms(gemm)) targets.push(`${build}: ${pooled} no slower than ${gemm} (issue #30): ${ms(pooled).toFixed(3)} against ${ms(gemm).toFixed(3)} ms: ${met(ms(pooled) <= ms(gemm))}.`);
    }
  }
}
if (projected) targets.push(`Chromium, the tutorial's full protocol projected at under 15 minutes on every core (issue #30): ${projected.toFixed(0)} minutes: ${met(projected < 15)}.`);
if (targets.length) {
  say();
  say(`Targets of issues #12, #28 and #30, from this run:`);
  say();
  for (const t of targets) say(`- ${t}`);
}
const errors = Object.entries(browsers).flatMap(([b, rows]) => rows.filter((r) => r.kind === "error").map((r) => `${b}: ${r.value}`));
if (errors.length) { say(); say(`Errors: ${errors.join("; ")}`); }
const text = lines.join("\n") + "\n";
// A partial run (--only, --preset, --fast, --runs) prints, but does not replace the saved table.
if (!only && !preset && !Object.keys(extra).length) await writeFile(join(ROOT, "www/bench/results.md"), text);
process.stdout.write(text);
