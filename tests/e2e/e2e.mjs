// End-to-end test of the built app (dist/) in real browsers, driven over
// the W3C WebDriver protocol (chromedriver, geckodriver): no npm package
// and nothing downloaded. It serves dist/ on loopback under /lenet/, as a
// project page is hosted, beside another page at /, then in each browser:
// refuses missing and hostile data, gives up on servers that stall and
// tries afresh, says how to get MNIST where the build has none, recovers
// from a worker's crash and from a panic of the page itself;
// reads drawn digits with the pretrained model before any training, checks
// its confusion matrix and a cell's gallery, downloads the model and
// uploads it again (and refuses a corrupt one); trains a short run (on as
// many workers as the browser reports cores), watches the status, the
// chart, the filters and maps move, pauses and continues; reloads in the
// middle of a second run of the same seed, resumes it and compares its
// costs with the first; forgets the saved run; then checks that one and
// two workers train the same weights; and hands runs between the page and
// the command line: a run the CLI was killed in (after its first epoch's
// checkpoint) is opened and finished in the page, and the page's run is
// downloaded for `cargo xtask test` to continue with `lenet train
// --resume`. Checkpoints that cannot resume (a short `best`, batch size 0,
// a history longer than their protocol allows) are refused and replace
// nothing; a sound one with 100,000 validations opens without holding the
// page. The page at / is never taken over by our service worker.
// Screenshots and the downloaded files go to target/e2e/.
//
// usage: node tests/e2e/e2e.mjs [chromium] [firefox]

import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { BROWSERS, safePath, sendFile, serve, sleep } from "./webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIST = join(ROOT, "dist");
const OUT = join(ROOT, "target/e2e");

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; console.log(`  ok   ${what}`); }
  else { failed++; console.log(`  FAIL ${what}`); }
  return ok;
}

/// A stroke through `points` (pixels from the pad's top-left) as pointer
/// actions of a mouse (or a finger: `pointerType` "touch").
function stroke(padId, points, pointerType = "mouse") {
  const origin = { "element-6066-11e4-a52e-4f735466cecf": padId };
  // W3C offsets are from the element's centre; the pad is 280x280.
  const at = ([x, y]) => ({ type: "pointerMove", duration: 16, origin, x: Math.round(x - 140), y: Math.round(y - 140) });
  return {
    actions: [{
      type: "pointer", id: pointerType, parameters: { pointerType },
      actions: [at(points[0]), { type: "pointerDown", button: 0 }, ...points.slice(1).map(at), { type: "pointerUp", button: 0 }],
    }],
  };
}

/// An IDX header: the magic, then each dimension, big-endian.
function idxHeader(magic, dims) {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

/// Data sets a hostile or broken `?data=` URL could serve, each a copy of
/// MNIST with one file replaced, and the message the page must show.
const HOSTILE = {
  // 100 KB on the wire that inflate to 100 MB, behind a header that
  // declares 10 images: stopped once past the header's 7,856 bytes.
  bomb: {
    file: "train-images-idx3-ubyte.gz",
    bytes: () => gzipSync(Buffer.concat([idxHeader(0x803, [10, 28, 28]), Buffer.alloc(100 << 20)])),
    message: /train-images-idx3-ubyte\.gz: it decompresses to more than the 7856 bytes its IDX header declares/,
  },
  // 65536^3 pixels: a 32-bit product wraps to 0.
  dims: {
    file: "train-images-idx3-ubyte.gz",
    bytes: () => gzipSync(idxHeader(0x803, [65536, 65536, 65536])),
    message: /train-images-idx3-ubyte\.gz: the header declares dimensions \[65536, 65536, 65536\]/,
  },
  "empty-test": {
    file: "t10k-images-idx3-ubyte.gz",
    also: ["t10k-labels-idx1-ubyte.gz", gzipSync(idxHeader(0x801, [0]))],
    bytes: () => gzipSync(idxHeader(0x803, [0, 28, 28])),
    message: /t10k-images-idx3-ubyte\.gz: no test images: the test set must not be empty/,
  },
  "not-gzip": {
    file: "train-labels-idx1-ubyte.gz",
    bytes: () => Buffer.from("<!doctype html><p>Not found</p>"),
    message: /train-labels-idx1-ubyte\.gz: cannot decompress/,
  },
};

function writeHostile() {
  for (const [name, c] of Object.entries(HOSTILE)) {
    const dir = join(DIST, "hostile", name);
    mkdirSync(dir, { recursive: true });
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]) {
      copyFileSync(join(DIST, "data", f), join(dir, f));
    }
    writeFileSync(join(dir, c.file), c.bytes());
    if (c.also) writeFileSync(join(dir, c.also[0]), c.also[1]);
  }
}

/// axe-core's audit of the page as it stands (WCAG 2 A and AA rules and
/// best practices): each violation with the first elements it names.
const AXE = readFileSync(join(ROOT, "tests/e2e/node_modules/axe-core/axe.min.js"), "utf8");
async function audit(d, what) {
  await d.js(`if (!window.axe) { const s = document.createElement("script"); s.textContent = arguments[0]; document.head.append(s); }`, AXE);
  const violations = await d.jsAsync(`const done = arguments[arguments.length - 1];
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })
      .then(r => done(r.violations.map(v => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))), e => done(["axe failed: " + e]));`);
  check(violations.length === 0, `axe-core finds no violation ${what}${violations.length ? ": " + violations.join("; ") : ""}`);
}

/// The bytes behind a blob URL of the page.
async function download(d, href) {
  const b64 = await d.jsAsync(`const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => { let s = ""; const u = new Uint8Array(b); for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); done(btoa(s)); });`, href);
  return Buffer.from(b64, "base64");
}

/// A run of `lenet train` (two epochs, batch 500) killed once its first
/// epoch's checkpoint is written: an unfinished run, as Ctrl-C leaves one.
const CLI_RUN = join(OUT, "cli-run.checkpoint.safetensors");
async function killedCliRun() {
  execFileSync("cargo", ["build", "--release", "--quiet", "--bin", "lenet"], { cwd: ROOT, stdio: "inherit" });
  rmSync(CLI_RUN, { force: true });
  const child = spawn(join(ROOT, "target/release/lenet"), ["train", "--epochs", "2", "--batch", "500", "--checkpoint", CLI_RUN, "--out", join(OUT, "cli-run.safetensors")], { cwd: ROOT, stdio: "ignore" });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  for (let waited = 0; !existsSync(CLI_RUN); waited += 50) {
    if (waited > 300000 || child.exitCode !== null) throw new Error("lenet train wrote no checkpoint");
    await sleep(50);
  }
  child.kill("SIGKILL");
  await exited;
  check(existsSync(CLI_RUN), "a CLI run killed after its first epoch leaves its checkpoint");
}

/// A safetensors file's metadata and tensors (their raw bytes).
function readSafetensors(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const data = buf.subarray(8 + n);
  const tensors = {};
  for (const [k, v] of Object.entries(header)) {
    if (k !== "__metadata__") tensors[k] = { dtype: v.dtype, shape: v.shape, bytes: data.subarray(v.data_offsets[0], v.data_offsets[1]) };
  }
  return { metadata: header.__metadata__ ?? {}, tensors };
}

function writeSafetensors({ metadata, tensors }) {
  const header = { __metadata__: metadata };
  const parts = [];
  let offset = 0;
  for (const [k, t] of Object.entries(tensors)) {
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
    parts.push(t.bytes);
  }
  let json = JSON.stringify(header);
  while (Buffer.byteLength(json) % 8) json += " ";
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json), ...parts]);
}

/// The CLI run's checkpoint with its state (`key=value` lines) and tensors
/// edited by `edit(state, tensors)`, written to target/e2e/`name`.
function craftedRun(name, edit) {
  const file = readSafetensors(readFileSync(CLI_RUN));
  const state = Object.fromEntries(file.metadata["lenet-checkpoint"].trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  edit(state, file.tensors);
  file.metadata["lenet-checkpoint"] = Object.entries(state).map(([k, v]) => `${k}=${v}\n`).join("");
  const path = join(OUT, name);
  writeFileSync(path, writeSafetensors(file));
  return path;
}

/// `n` validations, two an epoch, each a little better than the last.
function history(n) {
  const entries = [];
  for (let i = 0; i < n; i++) entries.push(`${Math.floor(i / 2) + 1} ${i} ${(0.5 - i * 1e-6).toFixed(6)} -`);
  return entries.join(";");
}

/// Checkpoints that can never resume, and the reason the page must give.
const REFUSED_RUNS = {
  "short-best": { edit: (_, t) => { t.best = { dtype: "F32", shape: [10], bytes: Buffer.alloc(40) }; }, reason: /its best has 10 values, LeNet-5 and its protocol need 431080/ },
  "batch-0": { edit: (s) => { s.batch_size = "0"; }, reason: /batch size must be between 1 and 50000, got 0/ },
  "long-history": { edit: (s) => { s.history = history(100000); }, reason: /its history holds 100000 validations, more than its protocol's 2/ },
};

async function runBrowser(name, base, port) {
  console.log(`\n# ${name}`);
  const { driver, capabilities } = BROWSERS[name](port, OUT);
  // Firefox runs in the dark scheme throughout (Chromium switches to it for its dark checks).
  if (name === "firefox") capabilities["moz:firefoxOptions"].prefs = { "layout.css.prefers-color-scheme.content-override": 0 };
  const d = driver;
  const errorText = () => d.js(`return document.getElementById("error").textContent`);
  // Draws `points` on the pad of the page loaded now; its reading must be `expect`.
  const read = async (what, points, expect) => {
    await d.click("#clear");
    const pad = Object.values(await d.element("#pad"))[0];
    await d.s("/actions", "POST", stroke(pad, points));
    await d.s("/actions", "DELETE");
    // The pad classifies on the animation frame after each segment, so a
    // first reading may be of part of the stroke: the prediction is read
    // once it holds still for two readings 250 ms apart.
    let last = null;
    await d.waitFor(`a settled prediction for ${what}`, async () => {
      const now = await d.attr("prediction", "data-probs");
      const settled = now !== null && now === last;
      last = now;
      return settled;
    }, 5000);
    const digit = await d.attr("prediction", "data-digit");
    const probs = (await d.attr("prediction", "data-probs")).split(",").map(Number);
    const sum = probs.reduce((a, b) => a + b, 0);
    check(probs.length === 10 && Math.abs(sum - 1) < 1e-2, `ten probabilities summing to 1 (${sum.toFixed(4)})`);
    check(digit === expect, `the network reads the drawn ${what} as ${digit}`);
  };
  try {
    await d.start(capabilities);
    // A data URL with nothing behind it: a clear error naming the file, and a page that still works.
    await d.go(`${base}/?data=missing/`);
    await d.waitFor("the download error", async () => (await d.attr("status", "data-state")) === "error", 60000);
    const message = await d.js(`return document.getElementById("error").textContent`);
    check(/train-images-idx3-ubyte\.gz: HTTP 404/.test(message), `a missing file is named: "${message}"`);
    check((await d.js(`return document.getElementById("error").hidden`)) === false, "the error is shown (role=alert)");
    check((await d.js(`return document.getElementById("train").disabled`)) === false, "Train stays available to try again");

    // A server that accepts the connection and says nothing: given up on
    // within a minute, naming the file and the URL.
    await d.go(`${base}/?data=silent/`);
    await d.waitFor("the silent server's error", async () => /did not answer/.test(await errorText()), 60000);
    check(/train-images-idx3-ubyte\.gz: the server did not answer within 30 s \(.*silent\/train-images-idx3-ubyte\.gz\)/.test(await errorText()), `a silent server is named: "${await errorText()}"`);
    // One that sends 64 KiB and stalls: the same; then, the server mended, Train downloads afresh and trains.
    flaky = "stall";
    await d.go(`${base}/?data=flaky/&preset=fast`);
    await d.waitFor("the stalled download's error", async () => /stalled/.test(await errorText()), 60000);
    check(/train-images-idx3-ubyte\.gz: the download stalled: no data for 20 s \(.*flaky\/train-images-idx3-ubyte\.gz\)/.test(await errorText()), `a stalled download is named: "${await errorText()}"`);
    flaky = "ok";
    await d.click("#train");
    await d.waitFor("training after a fresh download", async () => Number(await d.attr("status", "data-iterations")) > 0, 120000);
    check(true, "after a data error, Train downloads afresh and trains");
    await d.click("#stop");
    await d.waitFor("the stop", async () => (await d.attr("status", "data-state")) === "stopped", 10000);

    // A build without MNIST (trunk's pre-build hook could not fetch it): it
    // says which command fetches it, keeps Train off, and reads drawings.
    await d.go(`${root}/nodata/`);
    await d.waitFor("the missing data to be reported", async () => /cargo xtask fetch-data/.test(await errorText()), 60000);
    check(/MNIST is not on this server/.test(await errorText()), `a build without data says so: "${(await errorText()).slice(0, 100)}..."`);
    check(await d.js(`return document.getElementById("train").disabled`), "and Train stays disabled");
    await d.waitFor("the pretrained model", async () => (await d.attr("status", "data-model")) === "pretrained", 30000);
    await read("1 (without data)", [[140, 50], [140, 90], [139, 130], [138, 170], [138, 215]], "1");

    // A panic on the page's own thread, with its state lent out: said, and the page goes on.
    await d.go(`${base}/?test-crash=page&preset=fast`);
    await d.waitFor("the page's panic to be shown", async () => /the page hit a bug/.test(await errorText()), 30000);
    check(/deliberate panic/.test(await errorText()), `the page's panic is shown: "${(await errorText()).slice(0, 90)}..."`);
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    await read("1 (after a panic)", [[140, 50], [140, 90], [139, 130], [138, 170], [138, 215]], "1");
    await d.click("#train");
    await d.waitFor("training after the panic", async () => Number(await d.attr("status", "data-iterations")) > 0, 60000);
    await d.click("#stop");
    await d.waitFor("the stop", async () => (await d.attr("status", "data-state")) === "stopped", 10000);
    check(true, "after the page's panic, the pad reads, Train trains and Stop stops");
    if (!(await d.js(`return document.getElementById("forget").disabled`))) {
      await d.click("#forget");
      await d.waitFor("Forget to act", async () => await d.js(`return document.getElementById("forget").disabled`), 5000);
    }

    for (const [what, c] of Object.entries(HOSTILE)) {
      await d.go(`${base}/?data=hostile/${what}/`);
      await d.waitFor(`the ${what} error`, async () => (await d.attr("status", "data-state")) === "error", 120000);
      const shown = await d.js(`return document.getElementById("error").textContent`);
      check(c.message.test(shown), `hostile data (${what}) is refused with a reason: "${shown}"`);
      check((await d.js(`return document.getElementById("train").disabled`)) === false, `after ${what}, Train stays available`);
    }

    // A worker that panics: the page says so, starts another, and is ready again.
    await d.go(`${base}/?test-crash`);
    await d.waitFor("the crash to be reported", async () => /crashed/.test(await d.js(`return document.getElementById("error").textContent`)), 60000);
    const crash = await d.js(`return document.getElementById("error").textContent`);
    check(/the training worker crashed \(panicked at .*a deliberate panic/s.test(crash), `a worker's panic is shown: "${crash.slice(0, 120)}..."`);
    await d.waitFor("the new worker to load MNIST", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    check(true, "a new worker started and the page is ready again");

    // The pretrained model, before any training: it reads drawings, and
    // the page measures it on the test set.
    const drawDigits = async () => {
      await read("1", [[140, 50], [140, 90], [139, 130], [138, 170], [138, 215]], "1");
      await read("7", [[85, 60], [140, 60], [195, 60], [170, 110], [145, 160], [125, 215]], "7");
    };
    const modelTest = async (what) => {
      await d.waitFor(`the test error of the ${what} model`, async () => (await d.attr("status", "data-model-test")) !== null, 180000);
      return d.attr("status", "data-model-test");
    };
    const canvasInk = (id) => d.js(`const c = document.getElementById(arguments[0]); const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let h = 0; for (let i = 0; i < px.length; i += 4) h = (h * 31 + px[i] + 7 * px[i + 3]) >>> 0; return h;`, id);
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    await d.waitFor("a model", async () => (await d.attr("status", "data-model")) !== null, 30000);
    check((await d.attr("status", "data-model")) === "pretrained", "a fresh page uses the pretrained model");
    const pretrained = await modelTest("pretrained");
    check(Number(pretrained) > 0 && Number(pretrained) <= 1.0, `the pretrained model's test error, measured in the page: ${pretrained} %`);
    check(/pretrained .* test error \d+\.\d\d %/.test(await d.js(`return document.getElementById("model-text").textContent`)), "the status names the model and its test error");
    const mapsBlank = await canvasInk("maps");
    await drawDigits();
    check((await canvasInk("maps")) !== mapsBlank, "the drawn digit's feature maps are drawn");

    // The confusion matrix, and a cell's gallery.
    const cells = await d.js(`return [...document.querySelectorAll("#confusion td")].map(td => [Number(td.dataset.true), Number(td.dataset.pred), Number(td.textContent)])`);
    check(cells.length === 100, `the confusion table has 100 cells (${cells.length})`);
    const total = cells.reduce((a, c) => a + c[2], 0);
    const wrong = cells.filter(([t, p]) => t !== p).reduce((a, c) => a + c[2], 0);
    check(total === 10000, `its counts sum to 10,000 (${total})`);
    check((wrong / 100).toFixed(2) === pretrained, `its off-diagonal sum (${wrong}) is the test error ${pretrained} %`);
    const headers = await d.js(`return document.querySelectorAll("#confusion th[scope=col]").length + document.querySelectorAll("#confusion th[scope=row]").length`);
    check(headers === 21, "rows and columns have headers");
    const [t, p, n] = cells.filter(([t, p]) => t !== p).sort((a, b) => b[2] - a[2])[0];
    await d.click(`#confusion td[data-true="${t}"][data-pred="${p}"]`);
    await d.waitFor("the gallery", async () => (await d.js(`return document.querySelectorAll("#gallery .item").length`)) === Math.min(n, 60), 30000);
    const items = await d.js(`return [...document.querySelectorAll("#gallery .item")].map(e => [e.dataset.index, e.dataset.label, e.dataset.predicted])`);
    check(items.every(([, l, q]) => l === String(t) && q === String(p)), `the gallery of (${t} read as ${p}) holds ${items.length} images, all of that cell`);
    check(new Set(items.map((i) => i[0])).size === items.length, "each image once");
    const inked = await d.js(`return [...document.querySelectorAll("#gallery canvas")].every(c => { const px = c.getContext("2d").getImageData(0, 0, 28, 28).data; let s = 0; for (let i = 0; i < px.length; i += 4) s += px[i]; return s > 0; })`);
    check(inked, "every gallery image is drawn");
    await d.click(`#confusion td[data-true="${t}"][data-pred="${t}"]`);
    await d.waitFor("the diagonal's gallery", async () => (await d.js(`return document.querySelectorAll("#gallery .item").length`)) === 60, 30000);
    const right = await d.js(`return [...document.querySelectorAll("#gallery .item")].every(e => e.dataset.label === arguments[0] && e.dataset.predicted === arguments[0])`, String(t));
    check(right, `the diagonal cell's gallery shows the first 60 ${t}s read right`);
    await d.elementShot("section.inside", `${name}-inside.png`);

    // A seed from the browser's cryptographic generator.
    const seed0 = await d.js(`return document.getElementById("seed").value`);
    await d.click("#random-seed");
    const seed1 = await d.js(`return document.getElementById("seed").value`);
    check(/^\d+$/.test(seed1) && seed1 !== seed0 && Number(seed1) < 2 ** 32, `Random draws a fresh seed (${seed0} -> ${seed1})`);
    check((await d.js(`return document.getElementById("preset").value`)) === "custom", "and makes the settings custom");

    // Download the model, then upload it: the same test error.
    await d.js(`window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push([this.download, this.href]); };`);
    await d.click("#download");
    const [fileName, href] = await d.waitFor("the download", async () => (await d.js(`return window.__downloads[0]`)), 5000);
    const model = join(OUT, `${name}-model.safetensors`);
    writeFileSync(model, await download(d, href));
    check(fileName.endsWith(".safetensors") && readFileSync(model).length > 1_700_000, `the model downloads as ${fileName} (${readFileSync(model).length} bytes)`);
    // And as ONNX: the test command scores it with onnxruntime.
    await d.click("#download-onnx");
    const [onnxName, onnxHref] = await d.waitFor("the ONNX download", async () => (await d.js(`return window.__downloads[1]`)), 5000);
    const onnx = join(OUT, `${name}-model.onnx`);
    writeFileSync(onnx, await download(d, onnxHref));
    check(onnxName.endsWith(".onnx") && readFileSync(onnx).length > 1_700_000, `the model downloads as ONNX, ${onnxName} (${readFileSync(onnx).length} bytes)`);
    writeFileSync(join(OUT, `${name}-model.json`), JSON.stringify({ file: model, onnx, test: pretrained }));
    await d.type("#upload", model);
    await d.waitFor("the uploaded model", async () => (await d.attr("status", "data-model")) === "uploaded", 10000);
    check((await modelTest("uploaded")) === pretrained, `uploaded again, it measures the same: ${pretrained} %`);
    const truncated = join(OUT, `${name}-truncated.safetensors`);
    writeFileSync(truncated, readFileSync(model).subarray(0, 50_000));
    await d.type("#upload", truncated);
    await d.waitFor("the corrupt upload's error", async () => /truncated\.safetensors: /.test(await d.js(`return document.getElementById("error").textContent`)), 10000);
    const refused = await d.js(`return document.getElementById("error").textContent`);
    check(!(await d.js(`return document.getElementById("error").hidden`)), `a truncated file is refused: "${refused}"`);
    check((await d.attr("status", "data-model")) === "uploaded" && (await d.attr("status", "data-model-test")) === pretrained, "and the model in use stays");
    await d.js(`const dt = new DataTransfer(); dt.items.add(new File(["not weights"], "notes.txt")); document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));`);
    await d.waitFor("the dropped file's error", async () => /notes\.txt: not a valid safetensors file/.test(await d.js(`return document.getElementById("error").textContent`)), 10000);
    check((await d.attr("status", "data-model")) === "uploaded", "a dropped text file is refused too, the model stays");

    // Teach it: a drawing it misreads, corrected a few times, learned;
    // the pad then reads it as corrected, and MNIST's test error stays
    // within 0.15 points. A 1 with a long flag, as many write it.
    const flagged = (dx) => [[95 + dx, 105], [125 + dx, 75], [155 + dx, 45], [155 + dx, 100], [152 + dx, 160], [150 + dx, 225]];
    const drawn = async (points) => {
      await d.click("#clear");
      await d.waitFor("a cleared pad", async () => (await d.attr("prediction", "data-digit")) === null, 5000);
      const pad = Object.values(await d.element("#pad"))[0];
      await d.s("/actions", "POST", stroke(pad, points));
      await d.s("/actions", "DELETE");
      return d.waitFor("a prediction", () => d.attr("prediction", "data-digit"), 5000);
    };
    check(await d.js(`return document.getElementById("learn").disabled`), "with no digits of your own, Learn my digits is disabled");
    const firstRead = await drawn(flagged(0));
    const target = firstRead === "1" ? "7" : "1";
    for (const dx of [-12, 0, 12, 24]) {
      await drawn(flagged(dx));
      await d.click(`#correct [data-digit="${target}"]`);
    }
    check((await d.attr("status", "data-personal")) === "4", `four corrections kept (the pad read it as ${firstRead}, corrected to ${target})`);
    const labels = await d.js(`return [...document.querySelectorAll("#personal canvas")].map(c => c.dataset.label)`);
    check(labels.length === 4 && labels.every((l) => l === target), `#personal shows them with data-label ${target}`);
    const beforeTest = await modelTest("uploaded");
    await d.click("#learn");
    await d.waitFor("the learned model", async () => (await d.attr("status", "data-model")) === "personal", 120000);
    const afterTest = await modelTest("personal");
    const learnedBefore = await d.attr("status", "data-learned-before");
    check(learnedBefore === beforeTest, `the page kept the test error before learning (${learnedBefore} %)`);
    check(Number(afterTest) - Number(beforeTest) <= 0.15, `MNIST's test error moved from ${beforeTest} % to ${afterTest} %, within 0.15 points`);
    check((await drawn(flagged(6))) === target, `the pad now reads the drawing as ${target}`);
    // A reload keeps the digits and the learned model.
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the learned model after a reload", async () => (await d.attr("status", "data-model")) === "personal", 30000);
    check((await d.attr("status", "data-personal")) === "4", "after a reload: the four digits and the learned model");
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    check((await modelTest("personal")) === afterTest, `and it measures the same after the reload: ${afterTest} %`);
    // Out as MNIST's IDX files, cleared, and back in.
    await d.js(`window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push([this.download, this.href]); };`);
    await d.click("#personal-download");
    const idx = await d.waitFor("the two IDX files", async () => { const l = await d.js(`return window.__downloads`); return l.length === 2 && l; }, 5000);
    const idxFiles = [];
    for (const [file, link] of idx) {
      const path = join(OUT, `${name}-${file}`);
      writeFileSync(path, await download(d, link));
      idxFiles.push(path);
    }
    const images = readFileSync(idxFiles.find((f) => f.includes("images")));
    check(images.readUInt32BE(0) === 0x803 && images.readUInt32BE(4) === 4 && images.length === 16 + 4 * 784, `the images download as MNIST's IDX (${images.length} bytes)`);
    await d.click("#personal-clear");
    await d.waitFor("the cleared set", async () => (await d.attr("status", "data-personal")) === "0", 5000);
    await d.type("#personal-upload", idxFiles.join("\n"));
    await d.waitFor("the uploaded set", async () => (await d.attr("status", "data-personal")) === "4", 10000);
    check(true, "Add digits takes the two IDX files back");
    const badLabels = join(OUT, `${name}-bad-labels-idx1-ubyte`);
    writeFileSync(badLabels, Buffer.concat([idxHeader(0x801, [4]), Buffer.from([1, 7, 10, 1])]));
    await d.type("#personal-upload", [idxFiles.find((f) => f.includes("images")), badLabels].join("\n"));
    await d.waitFor("the bad labels' refusal", async () => /bad-labels-idx1-ubyte: .*10/.test(await errorText()), 10000);
    check((await d.attr("status", "data-personal")) === "4", `a label of 10 is refused ("${await errorText()}"), and the set stays`);

    // Everyone: an accessibility audit, the keyboard, phone widths, touch,
    // dark mode, and the page offline after this first visit.
    await audit(d, "at desktop width");
    await d.js(`document.querySelector('#confusion td[data-true="0"][data-pred="0"]').focus()`);
    const focusRing = await d.js(`const s = getComputedStyle(document.activeElement); return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2`);
    check(focusRing, "a focused cell shows a visible focus ring");
    await d.s("/actions", "POST", { actions: [{ type: "key", id: "keys", actions: [{ type: "keyDown", value: "\uE007" }, { type: "keyUp", value: "\uE007" }] }] });
    await d.waitFor("the gallery from the keyboard", async () => await d.js(`const items = [...document.querySelectorAll("#gallery .item")]; return items.length === 60 && items.every(e => e.dataset.label === "0" && e.dataset.predicted === "0")`), 30000);
    check(true, "Enter on a focused cell opens its gallery");
    check((await d.js(`return document.getElementById("status").getAttribute("aria-live")`)) === "polite", "the status announces changes politely");
    const phone = name === "chromium" ? 390 : 500; // Firefox's window is at least 500 px wide
    for (const width of name === "chromium" ? [360, 390, 768] : [500, 768]) {
      await d.s("/window/rect", "POST", { width, height: 900 });
      await sleep(800);
      const m = await d.js(`const e = document.documentElement;
        const sized = id => { const c = document.getElementById(id); return c.width === Math.round(c.clientWidth * devicePixelRatio); };
        const pad = document.getElementById("pad");
        return { inner: innerWidth, over: e.scrollWidth - e.clientWidth, sized: ["chart", "filters", "maps"].every(sized),
          pad: pad.getBoundingClientRect().right <= e.clientWidth, touch: getComputedStyle(pad).touchAction };`);
      check(m.over <= 0, `${m.inner} px wide: no horizontal overflow (${m.over} px)`);
      check(m.sized, `${m.inner} px wide: the chart, filters and maps are drawn at their displayed size`);
      check(m.pad && m.touch === "none", `${m.inner} px wide: the pad fits and keeps touch-action: none`);
      if (width === phone) {
        await audit(d, `at ${m.inner} px wide`);
        await d.click("#clear");
        const padId = Object.values(await d.element("#pad"))[0];
        await d.s("/actions", "POST", stroke(padId, [[140, 50], [140, 90], [139, 130], [138, 170], [138, 215]], "touch"));
        await d.s("/actions", "DELETE");
        const digit = await d.waitFor("a prediction for a finger's stroke", () => d.attr("prediction", "data-digit"), 5000);
        check(digit === "1", `a 1 drawn with a finger reads as ${digit}`);
        await d.js("window.scrollTo(0, 0)");
        await d.screenshot(`${name}-phone.png`);
      }
    }
    await d.s("/window/rect", "POST", { width: 1400, height: 1000 });
    if (name === "chromium") {
      // Chromium's dark scheme, as a system preference would set it.
      await d.s("/goog/cdp/execute", "POST", { cmd: "Emulation.setEmulatedMedia", params: { features: [{ name: "prefers-color-scheme", value: "dark" }] } });
    }
    await sleep(800);
    const dark = await d.js(`return matchMedia("(prefers-color-scheme: dark)").matches && getComputedStyle(document.body).backgroundColor`);
    check(dark === "rgb(17, 19, 24)", `the page follows the dark scheme (${dark})`);
    await audit(d, "in the dark scheme");
    await d.js("window.scrollTo(0, 0)");
    await d.screenshot(`${name}-dark.png`);
    if (name === "chromium") await d.s("/goog/cdp/execute", "POST", { cmd: "Emulation.setEmulatedMedia", params: { features: [] } });

    // Offline: with the server gone, a reload loads the page, MNIST and the model from the cache, and trains.
    await d.waitFor("the offline cache", async () => (await d.attr("status", "data-offline")) === "ready", 120000);
    check(true, "the service worker has cached the page, its workers, MNIST and the pretrained model");
    await offline(async () => {
      await d.go(`${base}/?preset=fast&epochs=2`);
      await d.waitFor("the offline page to be ready", async () => (await d.attr("status", "data-state")) === "ready", 120000);
      await d.click("#train");
      await d.waitFor("offline training", async () => Number(await d.attr("status", "data-iterations")) > 10, 60000);
      await d.click("#stop");
      await d.waitFor("the stop", async () => (await d.attr("status", "data-state")) === "stopped", 10000);
    });
    check(true, "offline, a reload loads the page and MNIST from the cache and trains");
    check((await d.attr("status", "data-model")) !== null, "offline, the model in use is there too");
    // A new build (here: the same files, the worker stamped anew) replaces the cache of the old one.
    // This folder's caches (the build without data at /nodata/ has its own).
    const caches = () => d.jsAsync(`const done = arguments[arguments.length - 1]; caches.keys().then(k => done(k.filter(n => n.startsWith(arguments[0]))));`, `lenet ${base}/ `);
    const build = readFileSync(join(DIST, "sw.js"), "utf8").match(/const BUILD = "([^"]+)"/)[1];
    const before = await caches();
    const scope = `${base}/`;
    check(before.length === 1 && before[0] === `lenet ${scope} ${build}`, `one cache, named after its folder and the build (${before})`);
    const swFile = join(DIST, "sw.js");
    const original = readFileSync(swFile, "utf8");
    writeFileSync(swFile, original.replace(`const BUILD = "${build}"`, `const BUILD = "next-${build}"`));
    try {
      await d.jsAsync(`const done = arguments[arguments.length - 1]; navigator.serviceWorker.getRegistration().then(r => r.update()).then(() => done(true), e => done(String(e)));`);
      await d.waitFor("the old build's cache to go", async () => !(await caches()).includes(`lenet ${scope} ${build}`), 30000);
      // The new worker caches what the page fetches from now on.
      await d.jsAsync(`const done = arguments[arguments.length - 1]; fetch("pretrained/tutorial.log").then(r => r.text()).then(() => done(true));`);
      await d.waitFor("the new build's cache", async () => (await caches()).join() === `lenet ${scope} next-${build}`, 10000);
      check(true, "a new build's service worker replaces the old build's cache with its own");
    } finally {
      writeFileSync(swFile, original);
    }
    // The page at the server's root is someone else's: our service worker,
    // scoped to its own folder, neither controls nor caches it.
    await d.go(`${root}/`);
    const other = await d.jsAsync(`const done = arguments[arguments.length - 1];
      navigator.serviceWorker.getRegistration().then(r => done({ controlled: navigator.serviceWorker.controller !== null, registered: r !== undefined, text: document.body.textContent }));`);
    check(/another page/.test(other.text) && !other.controlled && !other.registered, `the page at / is not taken over by the service worker (${JSON.stringify(other)})`);

    // The fast preset: validation after the first epoch.
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    check(true, "page loaded MNIST and is ready");
    check((await d.js(`return document.getElementById("batch").value`)) === "100", "the preset fills the form");
    check((await d.js(`return document.getElementById("epochs").value`)) === "2", "query parameters override it");
    const filters0 = await canvasInk("filters");
    await d.js(`window.__long = []; try { new PerformanceObserver(l => window.__long.push(...l.getEntries().map(e => e.duration))).observe({ type: "longtask" }); } catch (e) { window.__long = null; }`);
    await d.click("#train");
    await d.waitFor("training to start", async () => Number(await d.attr("status", "data-iterations")) > 20, 60000);
    check((await d.attr("status", "data-state")) === "training", "state is training");
    const chartInk = () => d.js(`const c = document.getElementById("chart"); const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < px.length; i += 4) n += px[i + 3] > 0 ? 1 : 0; return n;`);
    const ink1 = await chartInk();
    await sleep(3000);
    const ink2 = await chartInk();
    check(ink2 !== ink1 && ink2 > 0, `the chart redraws as training goes (${ink1} -> ${ink2} inked pixels)`);
    check(Number(await d.attr("status", "data-images-per-second")) > 0, `status shows ${await d.attr("status", "data-images-per-second")} images/s`);
    check((await d.attr("status", "data-model")) === "trained", "the run's model is in use");
    check((await canvasInk("filters")) !== filters0, "conv1's filters are redrawn as they learn");

    await d.click("#pause");
    await d.waitFor("the pause", async () => (await d.attr("status", "data-state")) === "paused", 5000);
    const pausedAt = await d.attr("status", "data-iterations");
    await sleep(1500);
    check((await d.attr("status", "data-iterations")) === pausedAt, `paused: iterations stay at ${pausedAt}`);
    await d.waitFor("the pause's checkpoint", async () => (await d.attr("status", "data-saved")) === pausedAt, 10000);
    check(true, `the paused run is saved at iteration ${pausedAt}`);
    const pausedTest = await modelTest("paused");
    check(Number(pausedTest) > 0, `the paused model is measured: ${pausedTest} %`);
    await d.click("#pause");
    await d.waitFor("training to continue", async () => Number(await d.attr("status", "data-iterations")) > Number(pausedAt), 10000);
    check((await d.attr("status", "data-state")) === "training", "it continues");

    await d.waitFor("the first validation and test", async () => (await d.attr("status", "data-test")) !== null, 600000);
    const valid = Number(await d.attr("status", "data-best-valid"));
    const test = Number(await d.attr("status", "data-test"));
    check(valid > 0 && valid < 5 && test > 0 && test < 5, `after one epoch: validation ${valid} %, test ${test} %`);
    await d.waitFor("the epoch's checkpoint", async () => Number(await d.attr("status", "data-saved")) === 500, 30000);
    check(true, "the run is saved at the epoch's end (iteration 500)");
    const long = await d.js(`return window.__long`);
    // The Long Tasks API reports tasks over 50 ms; a person notices a
    // page that does not answer within 100 ms (the RAIL budget). On a
    // shared VM a busy moment stretches a 40 ms task past 50, so 100 ms
    // is the bar: training never holds the page.
    if (long !== null) check(long.every((ms) => ms < 100), `no main-thread task over 100 ms while training (${long.length} over 50 ms: ${long.map(Math.round)})`);
    const maps0 = await canvasInk("maps");
    await drawDigits();
    check((await canvasInk("maps")) !== maps0, "the feature maps follow the drawing");
    await d.screenshot(`${name}.png`);
    await d.waitFor("the run's end", async () => (await d.attr("status", "data-state")) === "done", 600000);
    const trainedTest = await modelTest("trained");
    check(Number(trainedTest) > 0 && Number(trainedTest) < 3, `the run's best model measures ${trainedTest} % in the page`);
    const costs = (log) => log.split("\n").filter((l) => /^(training @ iter = \d+, cost|epoch \d+, minibatch)/.test(l));
    const straight = costs(await d.js(`return document.getElementById("log").textContent`));
    check(straight.length >= 12, `the run logged ${straight.length} costs and scores`);

    // The same run again, interrupted by a reload after its first epoch:
    // Resume continues it with the same costs.
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the saved run's model", async () => (await d.attr("status", "data-model")) === "restored", 30000);
    check(await d.js(`return document.getElementById("resume").hidden`), "a finished run restores its model, with nothing to resume");
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    await d.click("#train");
    await d.waitFor("the first epoch's checkpoint", async () => Number(await d.attr("status", "data-saved")) === 500, 600000);
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("Resume to be offered", async () => !(await d.js(`return document.getElementById("resume").hidden`)), 30000);
    check((await d.attr("status", "data-model")) === "restored", "after the reload, the saved run's best model is in use");
    await d.click("#resume");
    await d.waitFor("the resumed run's end", async () => (await d.attr("status", "data-state")) === "done", 600000);
    const resumed = costs(await d.js(`return document.getElementById("log").textContent`));
    const same = resumed.length === straight.length && resumed.every((l, i) => l === straight[i]);
    check(same, `reloaded and resumed, the run logs the same ${resumed.length} costs and scores as without a reload`);
    if (!same) console.log(`    straight: ${straight.join(" | ")}\n    resumed:  ${resumed.join(" | ")}`);

    // The run as a checkpoint file, for `lenet train --resume` (cargo xtask test continues it).
    await d.js(`window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push([this.download, this.href]); };`);
    await d.click("#download-run");
    const [runName, runHref] = await d.waitFor("the run's download", async () => (await d.js(`return window.__downloads[0]`)), 5000);
    writeFileSync(join(OUT, `${name}-run.safetensors`), await download(d, runHref));
    check(runName.endsWith(".safetensors"), `the run downloads as ${runName}`);

    // Forget: nothing offered after a reload, the pretrained model again.
    await d.click("#forget");
    await d.waitFor("Forget to act", async () => await d.js(`return document.getElementById("forget").disabled`), 5000);
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the pretrained model", async () => (await d.attr("status", "data-model")) === "pretrained", 30000);
    check(await d.js(`return document.getElementById("resume").hidden`), "after Forget and a reload: the pretrained model, nothing to resume");
    await d.click("#clear");
    await d.waitFor("the cleared pad", async () => (await d.attr("prediction", "data-digit")) === null, 5000);
    check(true, "Clear empties the pad and the prediction");

    // Checkpoints that can never resume: refused at the door, replacing
    // nothing; a reload finds the page as it was.
    for (const [what, c] of Object.entries(REFUSED_RUNS)) {
      await d.type("#upload", craftedRun(`${name}-${what}.safetensors`, c.edit));
      await d.waitFor(`the ${what} checkpoint's refusal`, async () => c.reason.test(await errorText()), 30000);
      check(true, `a checkpoint with ${what} is refused: "${(await errorText()).slice(0, 140)}"`);
      const kept = await d.js(`return [document.getElementById("status").dataset.model, document.getElementById("resume").hidden, document.getElementById("forget").disabled]`);
      check(kept.join() === "pretrained,true,true", `after ${what}, the model stays and no run is kept (${kept})`);
      await d.go(`${base}/?preset=fast&epochs=2`);
      await d.waitFor("the reloaded page's model", async () => (await d.attr("status", "data-model")) === "pretrained", 30000);
      check((await d.js(`return document.getElementById("error").hidden && document.getElementById("resume").hidden`)), `after ${what} and a reload, the page is as it was`);
    }
    // A sound run with 100,000 validations (two an epoch): it opens, its
    // chart and table stay light, and neither opening nor reloading holds
    // the page's thread.
    const longRun = craftedRun(`${name}-100k.safetensors`, (s) => {
      Object.assign(s, { epochs: "100000", batch_size: "25000", patience_start: "2", history: history(100000), epoch: "50001", minibatch: "0" });
      Object.assign(s, { iterations: "100000", best_validation: (0.5 - 99999e-6).toFixed(6), best_iter: "99999", patience: "200000", test_score: "0.3", finished: "" });
    });
    const watchLong = `window.__long = []; try { new PerformanceObserver(l => window.__long.push(...l.getEntries().map(e => e.duration))).observe({ type: "longtask", buffered: true }); } catch (e) { window.__long = null; }`;
    await d.js(watchLong);
    await d.type("#upload", longRun);
    await d.waitFor("the long run to open", async () => !(await d.js(`return document.getElementById("resume").hidden`)), 30000);
    await d.waitFor("its save", async () => (await d.attr("status", "data-saved")) === "100000", 30000);
    const rows = await d.js(`return document.querySelectorAll("#figures-body tr").length`);
    check(rows > 0 && rows <= 501, `100,000 validations: the figures table shows ${rows} rows spread over them`);
    const openLong = await d.js(`return window.__long`);
    if (openLong !== null) check(openLong.every((ms) => ms < 100), `no main-thread task over 100 ms opening it (${openLong.map(Math.round)})`);
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.js(watchLong);
    await d.waitFor("the long run to be restored", async () => (await d.attr("status", "data-model")) === "restored", 30000);
    await sleep(1000);
    const reloadLong = await d.js(`return window.__long`);
    if (reloadLong !== null) check(reloadLong.every((ms) => ms < 100), `no main-thread task over 100 ms restoring it on a reload (${reloadLong.map(Math.round)})`);
    await read("1 (beside a long run)", [[140, 50], [140, 90], [139, 130], [138, 170], [138, 215]], "1");
    await d.click("#forget");
    await d.waitFor("Forget to act", async () => await d.js(`return document.getElementById("forget").disabled`), 5000);
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the pretrained model", async () => (await d.attr("status", "data-model")) === "pretrained", 30000);

    // A run of the command line, killed after its first epoch: opened in
    // the page, it goes on from its checkpoint to its end.
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    await d.type("#upload", CLI_RUN);
    await d.waitFor("the CLI run to open", async () => !(await d.js(`return document.getElementById("resume").hidden`)), 10000);
    check((await d.attr("status", "data-model")) === "restored", "a CLI checkpoint opens as a saved run, its best model in use");
    await d.click("#resume");
    await d.waitFor("the CLI run's end in the page", async () => (await d.attr("status", "data-state")) === "done", 600000);
    const cliLog = await d.js(`return document.getElementById("log").textContent`);
    check(/epoch 2, minibatch 100\/100, validation error/.test(cliLog) && (await d.attr("status", "data-iterations")) === "200",
      `the page finishes the CLI's run: epoch 2 validated, ${await d.attr("status", "data-iterations")} iterations in all`);

    // Workers share out each step's images, not the arithmetic: with
    // batches of 100 (two chunks of 50), one and two workers give the
    // same costs, to the bit.
    // In each build (relaxed SIMD where the browser has it, as here, and
    // SIMD128 through ?simd=128).
    const costAt100 = async (workers, simd) => {
      await d.go(`${base}/?batch=100&workers=${workers}${simd ? "&simd=128" : ""}`);
      await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
      check((await d.attr("status", "data-build")) === (simd ? "simd128" : "relaxed-simd"), `the page runs the ${await d.attr("status", "data-build")} build`);
      await d.click("#train");
      await d.waitFor(`iteration 100 on ${workers} worker(s)`, async () => Number(await d.attr("status", "data-iterations")) > 100, 300000);
      const log = await d.js(`return document.getElementById("log").textContent`);
      await d.click("#stop");
      await d.waitFor("the stop", async () => (await d.attr("status", "data-state")) === "stopped", 5000);
      check(log.includes(`on ${workers} worker`), `the log names ${workers} worker(s)`);
      return (log.match(/training @ iter = 100, cost (\S+)/) || [])[1];
    };
    for (const simd of [false, true]) {
      const [one, two] = [await costAt100(1, simd), await costAt100(2, simd)];
      const build = simd ? "SIMD128" : "relaxed SIMD";
      check(one !== undefined && one === two, `${build}: one and two workers, the same cost at iteration 100 (${one} and ${two})`);
    }

    // Fashion-MNIST: the picker brings the page back on the other data
    // set, with its classes' names wherever a class shows and its own
    // pretrained model; the MNIST run saved above is kept, neither used
    // nor resumed; a sketch of a trouser reads as one; a one-epoch run
    // trains (the test command compares it with the command line's).
    await d.go(`${base}/?preset=fast&epochs=1`);
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    await d.js(`const s = document.getElementById("dataset"); s.value = "fashion"; s.dispatchEvent(new Event("change"));`);
    await d.waitFor("the Fashion-MNIST page", async () => (await d.attr("status", "data-dataset")) === "fashion", 30000);
    await d.waitFor("Fashion-MNIST to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    const address = await d.js(`return location.search`);
    check(/dataset=fashion/.test(address) && /epochs=1/.test(address), `the picker reloads the page on Fashion-MNIST, its settings kept (${address})`);
    const CLOTHES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    const names = await d.js(`return [...Array(10).keys()].map(i => document.getElementById("class" + i).textContent)`);
    check(JSON.stringify(names) === JSON.stringify(CLOTHES), `the bars are named for the clothes: ${names.join(", ")}`);
    check(await d.js(`return document.getElementById("teach").hidden`), "teaching your handwriting (digits) is not offered");
    check(/a run on MNIST/.test(await d.js(`return document.getElementById("log").textContent`)) && (await d.js(`return document.getElementById("resume").hidden`)),
      "the saved MNIST run is kept, not offered for Resume");
    await d.waitFor("the pretrained model", async () => (await d.attr("status", "data-model")) === "pretrained", 30000);
    const fashionTest = await modelTest("pretrained Fashion-MNIST");
    check(Number(fashionTest) > 5 && Number(fashionTest) < 12, `the pretrained Fashion-MNIST model's test error, measured in the page: ${fashionTest} %`);
    const columns = await d.js(`return [...document.querySelectorAll("#confusion thead th")].map(t => t.textContent)`);
    check(columns.includes("Ankle boot") && columns.includes("T-shirt/top"), "the confusion table's columns are the clothes");
    await d.click(`#confusion td[data-true="1"][data-pred="1"]`);
    await d.waitFor("the trousers' gallery", async () => (await d.js(`return document.querySelectorAll("#gallery .item").length`)) > 0, 30000);
    check(/Trouser read as Trouser/.test(await d.js(`return document.querySelector("#gallery figcaption").textContent`)), "the gallery names the class");
    // A pair of trousers: two legs from a waistband, as tall as they are in the data set.
    await read("pair of trousers", [[110, 240], [115, 40], [140, 40], [165, 40], [170, 240]], "1");
    check((await d.attr("prediction", "data-class")) === "Trouser" && (await d.js(`return document.getElementById("guess").textContent`)) === "Trouser", "it says Trouser");
    await d.click("#train");
    await d.waitFor("the Fashion-MNIST epoch", async () => (await d.attr("status", "data-state")) === "done", 600000);
    const fashionRun = await d.attr("status", "data-test");
    check(Number(fashionRun) > 5 && Number(fashionRun) < 25, `one epoch of the fast preset on Fashion-MNIST: test error ${fashionRun} %`);
    writeFileSync(join(OUT, `${name}-fashion.json`), JSON.stringify({ test: fashionRun }));
    // A checkpoint of the other data set is refused at the door.
    await d.type("#upload", CLI_RUN);
    await d.waitFor("the MNIST run's refusal", async () => /a run on MNIST: switch the data set to MNIST/.test(await errorText()), 10000);
    check(true, `an MNIST run opened on the Fashion-MNIST page is refused: "${await errorText()}"`);
  } catch (e) {
    check(false, `${name}: ${e.message}`);
    try { await d.screenshot(`${name}-failure.png`); } catch { /* no session */ }
  } finally {
    await d.quit();
  }
}

writeHostile();
mkdirSync(OUT, { recursive: true });
await killedCliRun();
/// Requests the test server leaves unanswered (a silent or stalled server), ended at the close.
const hung = [];
/// The /lenet/flaky/ server: "stall" (64 KiB of a file, then nothing) or "ok".
let flaky = "stall";
const OTHER_PAGE = "<!doctype html><html lang=en><title>Another page</title><p>another page on the same server</p></html>";
const server = await serve(DIST, {
  mount: "/lenet/",
  route: async (req, res, url) => {
    if (url === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(OTHER_PAGE);
    } else if (url.startsWith("/lenet/silent/")) {
      hung.push(res);
    } else if (url.startsWith("/lenet/flaky/")) {
      const file = join(DIST, "data", basename(url));
      if (flaky === "ok") return sendFile(res, file).then(() => true);
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": "application/gzip", "content-length": body.length });
      res.write(body.subarray(0, 65536));
      hung.push(res);
    } else if (url.startsWith("/nodata/")) {
      // The build as one made without MNIST is: every file but data/.
      const path = safePath(url.slice("/nodata/".length));
      if (path.startsWith("data/")) {
        res.writeHead(404);
        res.end("not found");
      } else {
        await sendFile(res, join(DIST, path));
      }
    } else {
      return false;
    }
    return true;
  },
});
const port = server.address().port;
const root = `http://127.0.0.1:${port}`;
const base = `${root}/lenet`;

/// Runs `during` with the server stopped (every connection closed), then starts it again on its port.
async function offline(during) {
  await new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); });
  try {
    await during();
  } finally {
    await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  }
}
const which = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium", "firefox"];
let driverPort = 9515;
for (const name of which) await runBrowser(name, base, driverPort++);
for (const res of hung) res.destroy();
server.close();
console.log(`\ne2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
