// The tutorial's full protocol (batch 500, up to 200 epochs, the patience
// rule) in a tab: the release build (dist/, from `trunk build --release`)
// in headless Chromium, on one worker per core, through the page itself,
// as a user would run it with the Tutorial preset. Its log, as the page
// shows it, goes to www/pretrained/tutorial-tab.log beside the command
// line's (tutorial.log), with how long the run took from Train to its end.
// Run by `cargo xtask bench --tutorial`.
//
// usage: node www/bench/tutorial.mjs [chromium|firefox] [--epochs N]
// (--epochs N: a shorter run, its log and table in target/bench/ instead,
// to try the script without the hour the whole protocol takes)

import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { BROWSERS, serve, sleep } from "../../tests/e2e/webdriver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;

/// A log's validation error and the best model's test error at each
/// epoch's end (the tutorial's log lines), and its "ran for" minutes.
function epochs(log) {
  const by = new Map();
  for (const [, epoch, kind, error] of log.matchAll(/epoch (\d+), minibatch \d+\/\d+, (validation error|test error of best model) ([\d.]+) %/g)) {
    const e = by.get(Number(epoch)) ?? {};
    e[kind.startsWith("validation") ? "valid" : "test"] = Number(error);
    by.set(Number(epoch), e);
  }
  // The best model's test error carries over epochs without a new best.
  let test;
  for (const [epoch, e] of [...by].sort((a, b) => a[0] - b[0])) by.set(epoch, { ...e, test: (test = e.test ?? test) });
  return { by, last: Math.max(...by.keys()), minutes: Number(log.match(/ran for ([\d.]+)m/)?.[1]) };
}

/// The tab's run beside the command line's and the tutorial's own report,
/// epoch by epoch, as www/bench/tutorial.md.
function compare(tab, cli, tabMinutes) {
  const [t, c] = [epochs(tab), epochs(cli)];
  const at = [1, 2, 5, 10, 20, 50, 100, 150, 200].filter((e) => e <= Math.max(t.last, c.last));
  const cell = (run, e) => (run.by.has(e) ? `${run.by.get(e).valid.toFixed(2)} % / ${run.by.get(e).test.toFixed(2)} %` : "(ended)");
  const end = (log) => log.match(/Best validation score of .*/)?.[0] ?? "(no closing line)";
  return [
    "# The tutorial's protocol in a tab, beside the command line's run",
    "",
    `Produced by \`cargo xtask bench --tutorial\` on ${new Date().toISOString().slice(0, 10)}: the page's release build in headless ${browser}, ${workers} workers, ${cpus()[0].model}; its log is [www/pretrained/tutorial-tab.log](../pretrained/tutorial-tab.log), the command line's [www/pretrained/tutorial.log](../pretrained/tutorial.log). Validation error / test error of the best model, at each epoch's end.`,
    "",
    "| epoch | the tab | the command line | the tutorial's own report (Theano) |",
    "|---|---|---|---|",
    ...at.map((e) => `| ${e} | ${cell(t, e)} | ${cell(c, e)} | |`),
    `| the end | ${end(tab)}, last validation at epoch ${t.last}, ${tabMinutes.toFixed(1)} min | ${end(cli)}, last validation at epoch ${c.last}, ${c.minutes} min | 0.91 % at iteration 17,800, test 0.92 %, 380 min |`,
    "",
  ].join("\n");
}
const args = process.argv.slice(2);
const epochsAt = args.indexOf("--epochs");
const shortRun = epochsAt >= 0 ? Number(args.splice(epochsAt, 2)[1]) : null;
const browser = args[0] ?? "chromium";
const [logFile, tableFile] = shortRun ? ["target/bench/tutorial-tab.log", "target/bench/tutorial.md"] : ["www/pretrained/tutorial-tab.log", "www/bench/tutorial.md"];
const workers = Math.min(16, cpus().length);
const server = await serve(join(ROOT, "dist"));
const { driver: d, capabilities } = BROWSERS[browser](9700, join(ROOT, "target/bench"));
const attr = (name) => d.js(`return document.getElementById("status").getAttribute(arguments[0])`, name);
try {
  await d.start(capabilities, 4 * 60 * 60 * 1000);
  await d.go(`http://127.0.0.1:${server.address().port}/?preset=tutorial&workers=${workers}${shortRun ? `&epochs=${shortRun}` : ""}`);
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
  await writeFile(join(ROOT, logFile), text);
  process.stdout.write(text.split("\n").slice(-4).join("\n"));
  await writeFile(join(ROOT, tableFile), compare(text, await readFile(join(ROOT, "www/pretrained/tutorial.log"), "utf8"), minutes));
} finally {
  await d.quit();
  server.close();
}
