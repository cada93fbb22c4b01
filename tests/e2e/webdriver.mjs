// A small W3C WebDriver client (chromedriver, geckodriver) and a static
// file server for loopback: what the end-to-end test and the benchmark
// drive real browsers with, using no npm package.

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".gz": "application/gzip", ".json": "application/json" };

/// A static file server for `root` on a free loopback port, under the URL
/// path `mount` ("/" unless given; "/lenet/", say, as a project page is
/// hosted). `route(req, res, path)` may answer what `root` does not hold
/// (it returns true if it did). With `isolated`, its pages are
/// cross-origin isolated (COOP and COEP), which gives them a finer clock:
/// Firefox's `performance.now()` otherwise moves in whole milliseconds.
export function serve(root, { isolated = false, mount = "/", route } = {}) {
  const headers = isolated ? { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" } : {};
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x").pathname;
    if (route && (await route(req, res, url))) return;
    if (mount !== "/" && url === mount.slice(0, -1)) {
      res.writeHead(301, { location: mount });
      return res.end();
    }
    if (!url.startsWith(mount)) {
      res.writeHead(404);
      return res.end("not found");
    }
    await sendFile(res, join(root, safePath(url.slice(mount.length))), headers);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/// A URL path as a relative file path that cannot climb out of its folder.
export function safePath(path) {
  const p = normalize(decodeURIComponent(path)).replace(/^(\.\.\/|\/)+/, "");
  return p === "" || p === "." ? "index.html" : p;
}

/// Answers with `file`, or 404.
export async function sendFile(res, file, headers = {}) {
  try {
    const body = await readFile(file);
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": body.length, ...headers });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end("not found");
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Driver {
  constructor(command, args, port, out) { this.port = port; this.out = out; this.proc = spawn(command, args, { stdio: "ignore" }); }
  async call(method, path, body) {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (json.value && json.value.error) throw new Error(`${method} ${path}: ${json.value.error}: ${json.value.message}`);
    return json.value;
  }
  /// A session; `scriptMs` bounds how long the page's main thread may stay
  /// busy before a script call gives up.
  async start(capabilities, scriptMs = 30000) {
    for (let i = 0; i < 100; i++) {
      try { if ((await this.call("GET", "/status")).ready) break; } catch { /* not up yet */ }
      await sleep(100);
    }
    const session = await this.call("POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    this.session = `/session/${session.sessionId}`;
    await this.call("POST", `${this.session}/timeouts`, { script: scriptMs });
  }
  s(path, method = "GET", body) { return this.call(method, `${this.session}${path}`, body); }
  go(url) { return this.s("/url", "POST", { url }); }
  js(script, ...args) { return this.s("/execute/sync", "POST", { script, args }); }
  /// Runs `script` with a callback as its last argument; resolves to what it is called with.
  jsAsync(script, ...args) { return this.s("/execute/async", "POST", { script, args }); }
  /// Types into an element: for a file input, the absolute path of the file to choose.
  async type(css, text) { const e = await this.element(css); await this.s(`/element/${Object.values(e)[0]}/value`, "POST", { text }); }
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
    await mkdir(this.out, { recursive: true });
    await writeFile(join(this.out, name), Buffer.from(png, "base64"));
  }
  /// A screenshot of one element.
  async elementShot(css, name) {
    const e = await this.element(css);
    const png = await this.s(`/element/${Object.values(e)[0]}/screenshot`);
    await mkdir(this.out, { recursive: true });
    await writeFile(join(this.out, name), Buffer.from(png, "base64"));
  }
  async quit() {
    try { await this.s("", "DELETE"); } catch { /* already gone */ }
    this.proc.kill();
  }
}

export const BROWSERS = {
  chromium: (port, out) => ({
    driver: new Driver("chromedriver", [`--port=${port}`], port, out),
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
  firefox: (port, out) => ({
    driver: new Driver("geckodriver", ["--port", String(port)], port, out),
    capabilities: { browserName: "firefox", "moz:firefoxOptions": { args: ["-headless", "--width=1400", "--height=1000"] } },
  }),
};

