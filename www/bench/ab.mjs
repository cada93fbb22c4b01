// Drives www/bench/ab.html (two builds' kernel profiles in turns, built
// into target/ab/a and target/ab/b by www/bench/ab.sh) in headless
// browsers and prints each kernel's best time on both sides and B/A.
//
// usage: node www/bench/ab.mjs [chromium] [firefox]

import { join } from "node:path";
import { BROWSERS, serve } from "../../tests/e2e/webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const which = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium", "firefox"];
const server = await serve(ROOT);
const base = `http://127.0.0.1:${server.address().port}`;
let port = 9700;
try {
  for (const name of which) {
    const { driver: d, capabilities } = BROWSERS[name](port++, join(ROOT, "target/ab"));
    let r;
    try {
      await d.start(capabilities, 10 * 60 * 1000);
      await d.go(`${base}/www/bench/ab.html`);
      await d.waitFor("the A/B profile", () => d.js("return window.__done === true"), 10 * 60 * 1000);
      r = await d.js("return window.__ab");
    } finally {
      await d.quit();
    }
    if (r.error) throw new Error(`${name}: ${r.error}`);
    console.log(name);
    for (const k of Object.keys(r.a)) {
      console.log(`  ${k.padEnd(28)} A ${r.a[k].toFixed(3)}  B ${r.b[k].toFixed(3)}  B/A ${(r.b[k] / r.a[k]).toFixed(3)}`);
    }
  }
} finally {
  server.close();
}
