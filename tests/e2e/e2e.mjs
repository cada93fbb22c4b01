// End-to-end test of the built app (dist/) in real browsers, driven over
// the W3C WebDriver protocol (chromedriver, geckodriver): no npm package
// and nothing downloaded. It serves dist/ on loopback, then in each browser:
// loads the page, trains a short run (on as many workers as the browser
// reports cores), watches the status and the chart move, pauses and
// resumes, draws a digit with pointer actions and reads the prediction,
// then checks that one and two workers train the same weights. Screenshots go to target/e2e/.
//
// usage: node tests/e2e/e2e.mjs [chromium] [firefox]

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BROWSERS, serve, sleep } from "./webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIST = join(ROOT, "dist");
const OUT = join(ROOT, "target/e2e");

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; console.log(`  ok   ${what}`); }
  else { failed++; console.log(`  FAIL ${what}`); }
  return ok;
}

/// A stroke through `points` (pixels from the pad's top-left) as pointer actions.
function stroke(padId, points) {
  const origin = { "element-6066-11e4-a52e-4f735466cecf": padId };
  // W3C offsets are from the element's centre; the pad is 280x280.
  const at = ([x, y]) => ({ type: "pointerMove", duration: 16, origin, x: Math.round(x - 140), y: Math.round(y - 140) });
  return {
    actions: [{
      type: "pointer", id: "pen", parameters: { pointerType: "mouse" },
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

async function runBrowser(name, base, port) {
  console.log(`\n# ${name}`);
  const { driver, capabilities } = BROWSERS[name](port, OUT);
  const d = driver;
  try {
    await d.start(capabilities);
    // A data URL with nothing behind it: a clear error naming the file, and a page that still works.
    await d.go(`${base}/?data=missing/`);
    await d.waitFor("the download error", async () => (await d.attr("status", "data-state")) === "error", 60000);
    const message = await d.js(`return document.getElementById("error").textContent`);
    check(/train-images-idx3-ubyte\.gz: HTTP 404/.test(message), `a missing file is named: "${message}"`);
    check((await d.js(`return document.getElementById("error").hidden`)) === false, "the error is shown (role=alert)");
    check((await d.js(`return document.getElementById("train").disabled`)) === false, "Train stays available to try again");

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

    // The fast preset: validation after the first epoch.
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    check(true, "page loaded MNIST and is ready");
    check((await d.js(`return document.getElementById("batch").value`)) === "100", "the preset fills the form");
    check((await d.js(`return document.getElementById("epochs").value`)) === "2", "query parameters override it");
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

    await d.click("#pause");
    await d.waitFor("the pause", async () => (await d.attr("status", "data-state")) === "paused", 5000);
    const pausedAt = await d.attr("status", "data-iterations");
    await sleep(1500);
    check((await d.attr("status", "data-iterations")) === pausedAt, `paused: iterations stay at ${pausedAt}`);
    await d.click("#pause");
    await d.waitFor("training to resume", async () => Number(await d.attr("status", "data-iterations")) > Number(pausedAt), 10000);
    check((await d.attr("status", "data-state")) === "training", "resumed");

    await d.waitFor("the first validation and test", async () => (await d.attr("status", "data-test")) !== null, 600000);
    const valid = Number(await d.attr("status", "data-best-valid"));
    const test = Number(await d.attr("status", "data-test"));
    check(valid > 0 && valid < 5 && test > 0 && test < 5, `after one epoch: validation ${valid} %, test ${test} %`);
    const long = await d.js(`return window.__long`);
    // The Long Tasks API reports tasks over 50 ms; a person notices a
    // page that does not answer within 100 ms (the RAIL budget). On a
    // shared VM a busy moment stretches a 40 ms task past 50, so 100 ms
    // is the bar: training never holds the page.
    if (long !== null) check(long.every((ms) => ms < 100), `no main-thread task over 100 ms while training (${long.length} over 50 ms: ${long.map(Math.round)})`);

    // A "1": one vertical stroke. A "7": a bar and a diagonal.
    const pad = Object.values(await d.element("#pad"))[0];
    const read = async (what, points, expect) => {
      await d.click("#clear");
      await d.s("/actions", "POST", stroke(pad, points));
      await d.s("/actions", "DELETE");
      const digit = await d.waitFor(`a prediction for ${what}`, () => d.attr("prediction", "data-digit"), 5000);
      const probs = (await d.attr("prediction", "data-probs")).split(",").map(Number);
      const sum = probs.reduce((a, b) => a + b, 0);
      check(probs.length === 10 && Math.abs(sum - 1) < 1e-2, `ten probabilities summing to 1 (${sum.toFixed(4)})`);
      check(digit === expect, `the network reads the drawn ${what} as ${digit}`);
    };
    await read("1", [[140, 50], [140, 90], [139, 130], [138, 170], [138, 215]], "1");
    await read("7", [[85, 60], [140, 60], [195, 60], [170, 110], [145, 160], [125, 215]], "7");
    await d.screenshot(`${name}.png`);
    await d.click("#stop");
    await d.waitFor("the stop", async () => (await d.attr("status", "data-state")) === "stopped", 5000);
    check(true, "stopped");
    await d.click("#clear");
    await d.waitFor("the cleared pad", async () => (await d.attr("prediction", "data-digit")) === null, 5000);
    check(true, "Clear empties the pad and the prediction");

    // Workers share out each step's images, not the arithmetic: with
    // batches of 100 (two chunks of 50), one and two workers give the
    // same costs, to the bit.
    const costAt100 = async (workers) => {
      await d.go(`${base}/?batch=100&workers=${workers}`);
      await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
      await d.click("#train");
      await d.waitFor(`iteration 100 on ${workers} worker(s)`, async () => Number(await d.attr("status", "data-iterations")) > 100, 300000);
      const log = await d.js(`return document.getElementById("log").textContent`);
      await d.click("#stop");
      await d.waitFor("the stop", async () => (await d.attr("status", "data-state")) === "stopped", 5000);
      check(log.includes(`on ${workers} worker`), `the log names ${workers} worker(s)`);
      return (log.match(/training @ iter = 100, cost (\S+)/) || [])[1];
    };
    const [one, two] = [await costAt100(1), await costAt100(2)];
    check(one !== undefined && one === two, `one and two workers: the same cost at iteration 100 (${one} and ${two})`);
  } catch (e) {
    check(false, `${name}: ${e.message}`);
    try { await d.screenshot(`${name}-failure.png`); } catch { /* no session */ }
  } finally {
    await d.quit();
  }
}

writeHostile();
const server = await serve(DIST);
const base = `http://127.0.0.1:${server.address().port}`;
const which = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium", "firefox"];
let port = 9515;
for (const name of which) await runBrowser(name, base, port++);
server.close();
console.log(`\ne2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
