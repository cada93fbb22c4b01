// Drives www/bench/ab.html (two builds' kernel profiles in turns, built
// into target/ab/a and target/ab/b by www/bench/ab.sh) in headless
// browsers and prints each kernel's best time on both sides and B/A.
//
// usage: node www/bench/ab.mjs [chromium] [firefox]

import { join } from "node:path";
import { BROWSERS, serve } from "../../tests/e2e/webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const which = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium", "firefox"];
const server = await serve(ROOT, { isolated: true });
const base = `http://127.0.0.1:${server.address().port}`;
let port = 9700;
try {
  for (const name of which) {
    const { driver: d, capabilities } = BROWSERS[name](port++, join(ROOT, "target/ab"));
    let r;
    try {
      await d.start(capabilities, 10 * 60 * 1000);
      await d.go(`${base}/www/bench/ab.html?rounds=${process.env.AB_ROUNDS ?? 6}`);
      await d.waitFor("the A/B profile", () => d.js("return window.__done === true"), 10 * 60 * 1000);
      r = await d.js("return window.__ab");
    } finally {
      await d.quit();
    }
    if (r.error) throw new Error(`${name}: ${r.error}`);
    console.log(`${name} (cross-origin isolated, a finer clock: ${r.clock.isolated})`);
    // A kernel that only one side has shows its figure alone.
    const fig = (v) => (v === undefined ? "-" : v.toFixed(3)).padStart(7);
    for (const k of [...new Set([...Object.keys(r.a), ...Object.keys(r.b)])]) {
      const ratio = r.a[k] === undefined || r.b[k] === undefined ? "" : `  B/A ${(r.b[k] / r.a[k]).toFixed(3)}`;
      console.log(`  ${k.padEnd(28)} A ${fig(r.a[k])}  B ${fig(r.b[k])}${ratio}`);
    }
  }
} finally {
  server.close();
}
