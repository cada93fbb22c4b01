// End-to-end test of the built app (dist/) in real browsers, driven over
// the W3C WebDriver protocol (chromedriver, geckodriver): no npm package
// and nothing downloaded. It serves dist/ on loopback, then in each browser:
// loads the page, trains a short run, watches the status and the chart
// move, pauses and resumes, draws a digit with pointer actions and reads
// the prediction. Screenshots go to target/e2e/.
//
// usage: node tests/e2e/e2e.mjs [chromium] [firefox]

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIST = join(ROOT, "dist");
const OUT = join(ROOT, "target/e2e");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".gz": "application/gzip" };

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; console.log(`  ok   ${what}`); }
  else { failed++; console.log(`  FAIL ${what}`); }
  return ok;
}

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^\/+/, "");
    const file = join(DIST, path === "" ? "index.html" : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": body.length });
      res.end(body);
    } catch {
      res.writeHead(404); res.end("not found");
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Driver {
  constructor(command, args, port) { this.port = port; this.proc = spawn(command, args, { stdio: "ignore" }); }
  async call(method, path, body) {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (json.value && json.value.error) throw new Error(`${method} ${path}: ${json.value.error}: ${json.value.message}`);
    return json.value;
  }
  async start(capabilities) {
    for (let i = 0; i < 100; i++) {
      try { if ((await this.call("GET", "/status")).ready) break; } catch { /* not up yet */ }
      await sleep(100);
    }
    const session = await this.call("POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    this.session = `/session/${session.sessionId}`;
    await this.call("POST", `${this.session}/timeouts`, { script: 30000 });
  }
  s(path, method = "GET", body) { return this.call(method, `${this.session}${path}`, body); }
  go(url) { return this.s("/url", "POST", { url }); }
  js(script, ...args) { return this.s("/execute/sync", "POST", { script, args }); }
  async element(css) { const e = await this.s("/element", "POST", { using: "css selector", value: css }); return e; }
  async click(css) { const e = await this.element(css); await this.s(`/element/${Object.values(e)[0]}/click`, "POST", {}); }
  attr(id, name) { return this.js(`return document.getElementById(arguments[0]).getAttribute(arguments[1])`, id, name); }
  async waitFor(what, fn, timeoutMs) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const v = await fn();
      if (v) return v;
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  }
  async screenshot(name) {
    const png = await this.s("/screenshot");
    await mkdir(OUT, { recursive: true });
    await writeFile(join(OUT, name), Buffer.from(png, "base64"));
  }
  async quit() {
    try { await this.s("", "DELETE"); } catch { /* already gone */ }
    this.proc.kill();
  }
}

const BROWSERS = {
  chromium: (port) => ({
    driver: new Driver("chromedriver", [`--port=${port}`], port),
    capabilities: {
      browserName: "chrome",
      "goog:chromeOptions": {
        binary: "/usr/bin/chromium",
        args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
          "--disable-quic", "--disable-background-timer-throttling", "--disable-renderer-backgrounding"],
      },
    },
  }),
  firefox: (port) => ({
    driver: new Driver("geckodriver", ["--port", String(port)], port),
    capabilities: { browserName: "firefox", "moz:firefoxOptions": { args: ["-headless", "--width=1400", "--height=1000"] } },
  }),
};

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

async function runBrowser(name, base, port) {
  console.log(`\n# ${name}`);
  const { driver, capabilities } = BROWSERS[name](port);
  const d = driver;
  try {
    await d.start(capabilities);
    // Tutorial protocol, small batches: validation after the first epoch.
    await d.go(`${base}/?preset=fast&epochs=2`);
    await d.waitFor("the data to load", async () => (await d.attr("status", "data-state")) === "ready", 120000);
    check(true, "page loaded MNIST and is ready");
    check((await d.js(`return document.getElementById("batch").value`)) === "20", "query parameters fill the form");
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
    if (long !== null) check(long.every((ms) => ms < 50), `no main-thread task over 50 ms while training (${long.length} long tasks: ${long.map(Math.round)})`);

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
  } catch (e) {
    check(false, `${name}: ${e.message}`);
    try { await d.screenshot(`${name}-failure.png`); } catch { /* no session */ }
  } finally {
    await d.quit();
  }
}

const server = await serve();
const base = `http://127.0.0.1:${server.address().port}`;
const which = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium", "firefox"];
let port = 9515;
for (const name of which) await runBrowser(name, base, port++);
server.close();
console.log(`\ne2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
