// The tutorial's full protocol (batch 500, up to 200 epochs, the patience
// rule) in a tab: the release build (dist/, from `trunk build --release`)
// in headless Chromium, on one worker per core, through the page itself,
// as a user would run it with the Tutorial preset. Its log, as the page
// shows it, goes to www/pretrained/tutorial-tab.log beside the command
// line's (tutorial.log), with how long the run took from Train to its end.
// Run by `cargo xtask bench --tutorial`.
//
// usage: node www/bench/tutorial.mjs [chromium|firefox]

import { writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { BROWSERS, serve, sleep } from "../../tests/e2e/webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const browser = process.argv[2] ?? "chromium";
const workers = Math.min(16, cpus().length);
const server = await serve(join(ROOT, "dist"));
const { driver: d, capabilities } = BROWSERS[browser](9700, join(ROOT, "target/bench"));
const attr = (name) => d.js(`return document.getElementById("status").getAttribute(arguments[0])`, name);
try {
  await d.start(capabilities, 4 * 60 * 60 * 1000);
  await d.go(`http://127.0.0.1:${server.address().port}/?preset=tutorial&workers=${workers}`);
  await d.waitFor("MNIST to load", async () => (await attr("data-state")) === "ready", 300000);
  const agent = await d.js("return navigator.userAgent");
  const build = await attr("data-build");
  await d.click("#train");
  const started = Date.now();
  let shown = "";
  // Up to 200 epochs: hours, if the machine is slow; said every minute.
  for (;;) {
    const state = await attr("data-state");
    if (state === "done" || state === "error" || state === "stopped") break;
    const now = `epoch ${await attr("data-epoch")}, best validation ${await attr("data-best-valid")} %, test ${await attr("data-test")} %`;
    if (now !== shown) console.error(`${((Date.now() - started) / 60000).toFixed(1)} min: ${now}`);
    shown = now;
    await sleep(60000);
  }
  const minutes = (Date.now() - started) / 60000;
  const state = await attr("data-state");
  const log = await d.js(`return document.getElementById("log").textContent`);
  if (state !== "done") throw new Error(`the run ended in state ${state}: ${await d.js(`return document.getElementById("error").textContent`)}`);
  const header = [
    `... the tutorial's protocol in a tab: ${browser} (${agent}), the ${build} build, ${workers} workers, ${cpus()[0].model}`,
    `... run by \`cargo xtask bench --tutorial\` on ${new Date().toISOString().slice(0, 10)}`,
  ];
  const text = `${header.join("\n")}\n${log.trimEnd()}\nran for ${minutes.toFixed(2)}m in the tab, from Train to the run's end\n`;
  await writeFile(join(ROOT, "www/pretrained/tutorial-tab.log"), text);
  process.stdout.write(text.split("\n").slice(-4).join("\n"));
} finally {
  await d.quit();
  server.close();
}
