//! The test command: every suite, in order, each run even when one before
//! it failed; the failures listed at the end and counted in the closing
//! line, `summary: N passed, N failed`, and a non-zero exit if any.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{fuzz, interop, output, run, step, Result};

/// Seconds of each fuzz target in the test command: a smoke run that
/// catches a reader made fragile again; `cargo xtask fuzz` runs longer.
const FUZZ_SMOKE_SECONDS: u32 = 15;
/// The browsers the end-to-end test drives.
pub const BROWSERS: [&str; 2] = ["chromium", "firefox"];
/// The checkpoint `safetensors_check`'s one-epoch run leaves, which
/// `resume_check` continues.
pub const CHECKPOINT: &str = "target/xtask/check.checkpoint.safetensors";

pub fn all() -> Result {
    let mut tally = Tally::default();
    tally.check("lints (clippy, native and wasm32, warnings are errors)", || {
        run(Command::new("cargo").args(["clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
        for features in [&[][..], &["--features", "relaxed-simd"]] {
            run(Command::new("cargo")
                .args(["clippy", "--release", "--target", "wasm32-unknown-unknown", "--lib", "--bins", "--tests"])
                .args(features)
                .args(["--", "-D", "warnings"]))?;
        }
        Ok(())
    });
    tally.suite("native tests (cargo test)", Command::new("cargo").args(["test", "--workspace", "--release"]));
    tally.suite(
        "the tests on the real MNIST (ignored by a plain `cargo test`, which may have no data)",
        Command::new("cargo").args(["test", "--release", "--test", "mnist", "--", "--ignored"]),
    );
    // On a CPU with AVX-512 the tests above checked its GEMM; the AVX2 one too, capped.
    tally.suite(
        "kernel and gradient tests again on AVX2 alone (LENET_KERNELS=avx2)",
        Command::new("cargo").args(["test", "--release", "--test", "kernels", "--test", "gradients"]).env("LENET_KERNELS", "avx2"),
    );
    tally.check("weights file: train one epoch, open it in Python's safetensors, evaluate it", interop::safetensors_check);
    tally.check("ONNX: export the one-epoch model, ONNX's checker and ONNX Runtime score it as `lenet evaluate` does", interop::onnx_check);
    tally.check("resume: one epoch checkpointed and resumed to two = two epochs straight, to the byte", resume_check);
    tally.suite(
        "browser tests (wasm-pack test --headless --firefox)",
        Command::new("wasm-pack").args(["test", "--headless", "--firefox", "--release", "--mode", "no-install"]),
    );
    // The kernels' parity and gradient checks on both builds (SIMD128, and
    // relaxed SIMD's fused multiply-add) in both browsers.
    for (browser, features) in [("--firefox", "relaxed-simd"), ("--chrome", ""), ("--chrome", "relaxed-simd")] {
        let mut cmd = Command::new("wasm-pack");
        cmd.args(["test", "--headless", browser, "--release", "--mode", "no-install", "--"]);
        if !features.is_empty() {
            cmd.args(["--features", features]);
        }
        let build = if features.is_empty() { "SIMD128" } else { features };
        tally.suite(
            &format!("kernel parity and gradient tests: {build} build, {browser}"),
            cmd.args(["--test", "kernels", "--test", "gradients"]),
        );
    }
    tally.check(
        "a copy of the repository without www/data: plain `trunk build` fetches MNIST and Fashion-MNIST for the page",
        trunk_build_fetches_data,
    );
    tally.check("end-to-end: build the app (trunk build --release)", || {
        run(Command::new("trunk").args(["build", "--release", "--offline"]))
    });
    // axe-core, the accessibility audit the test runs in the pages (pinned in package-lock.json).
    if !Path::new("tests/e2e/node_modules/axe-core/axe.min.js").exists() {
        tally.check("end-to-end: axe-core from npm", || {
            run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir("tests/e2e"))
        });
    }
    // What an earlier run downloaded must not stand in for this one's.
    for browser in BROWSERS {
        let _ = std::fs::remove_file(format!("target/e2e/{browser}-model.json"));
        let _ = std::fs::remove_file(format!("target/e2e/{browser}-run.safetensors"));
        let _ = std::fs::remove_file(format!("target/e2e/{browser}-fashion.json"));
    }
    tally.suite(
        "end-to-end: the release build under /lenet/ of a static server, in headless Chromium and Firefox",
        Command::new("node").args(["tests/e2e/e2e.mjs"]).args(BROWSERS),
    );
    tally.check(
        "the models the pages downloaded: Python's safetensors and ONNX Runtime open them, and measure what the pages did",
        interop::downloaded_models_check,
    );
    tally.check("`cargo xtask serve` where apt-get fails and no nightly is listed: it serves the page", serve_without_root_check);
    step("fuzzing: a short run of every target");
    if let Err(e) = fuzz::run(FUZZ_SMOKE_SECONDS, &mut tally) {
        tally.fail("fuzzing", &e);
    }
    tally.summary()
}

/// Test counts read off the runners' own closing lines, and the failures.
#[derive(Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    /// What failed, for the list at the end.
    pub failures: Vec<String>,
}

impl Tally {
    /// One check that counts as one test.
    pub fn check(&mut self, name: &str, check: impl FnOnce() -> Result) {
        step(name);
        match check() {
            Ok(()) => self.passed += 1,
            Err(e) => self.fail(name, &e),
        }
    }

    pub fn fail(&mut self, name: &str, why: &str) {
        eprintln!("FAILED: {name}: {why}");
        self.failed += 1;
        self.failures.push(format!("{name}: {why}"));
    }

    /// A test runner, its output echoed and its counts taken from its
    /// closing lines (cargo's and wasm-pack's `test result: ...`, the
    /// end-to-end test's `e2e: N passed, N failed`). A runner that fails
    /// without counting a failure (it did not build, say) counts as one.
    pub fn suite(&mut self, name: &str, cmd: &mut Command) {
        step(name);
        eprintln!("+ {cmd:?}");
        let failed_before = self.failed;
        let mut child = match cmd.stdout(Stdio::piped()).spawn() {
            Ok(child) => child,
            Err(e) => return self.fail(name, &format!("cannot start {:?}: {e}", cmd.get_program())),
        };
        for line in BufReader::new(child.stdout.take().expect("piped")).lines().map_while(std::io::Result::ok) {
            println!("{line}");
            self.count(&line);
        }
        let status = child.wait();
        if self.failed > failed_before {
            self.failures.push(format!("{name}: {} failed test(s), listed above", self.failed - failed_before));
        } else if let Err(why) = status.map_err(|e| e.to_string()).and_then(|s| if s.success() { Ok(()) } else { Err(s.to_string()) }) {
            self.fail(name, &format!("{cmd:?} failed ({why})"));
        }
    }

    /// Takes the counts of a runner's closing line, if `line` is one.
    fn count(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ").or_else(|| line.strip_prefix("e2e: ")) else {
            return;
        };
        let number = |word: &str| {
            let at = counts.find(word)?;
            counts[..at].split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty())?.parse::<usize>().ok()
        };
        self.passed += number(" passed").unwrap_or(0);
        self.failed += number(" failed").unwrap_or(0);
        self.ignored += number(" ignored").unwrap_or(0);
    }

    /// The closing lines: what failed, then the counts; an error if anything failed.
    pub fn summary(&self) -> Result {
        println!();
        for failure in &self.failures {
            println!("failed: {failure}");
        }
        if self.ignored > 0 {
            println!("{} test(s) ignored by their runners (the real-MNIST tests, run in their own step, among them)", self.ignored);
        }
        println!("summary: {} passed, {} failed", self.passed, self.failed);
        if self.failed > 0 {
            return Err(format!("{} failed", self.failed));
        }
        Ok(())
    }
}

/// A copy of the repository without www/data (as a fresh clone is), built
/// with plain `trunk build`: Trunk.toml's pre-build hook fetches MNIST for
/// the page, so the build has its data.
fn trunk_build_fetches_data() -> Result {
    let copy = Path::new("target/xtask/fresh-copy");
    let _ = std::fs::remove_dir_all(copy);
    std::fs::create_dir_all(copy).map_err(|e| e.to_string())?;
    // The committed files, as a clone has them.
    let files = output("git", &["ls-files", "-z"]).ok_or("git ls-files failed")?;
    for file in files.split('\0').filter(|f| !f.is_empty()) {
        let to = copy.join(file);
        std::fs::create_dir_all(to.parent().expect("a file has a folder")).map_err(|e| e.to_string())?;
        std::fs::copy(file, &to).map_err(|e| format!("{file}: {e}"))?;
    }
    let target = std::fs::canonicalize("target").map_err(|e| e.to_string())?;
    run(Command::new("trunk").args(["build", "--offline"]).current_dir(copy).env("CARGO_TARGET_DIR", &target))?;
    let names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    for name in names.iter().flat_map(|n| [n.to_string(), format!("fashion-mnist/{n}")]) {
        let built = copy.join(format!("dist/data/{name}.gz"));
        let len = std::fs::metadata(&built).map_err(|e| format!("{}: {e}: the build has no MNIST", built.display()))?.len();
        if len < 1000 {
            return Err(format!("{} has {len} bytes", built.display()));
        }
    }
    eprintln!("the fresh copy's build holds MNIST and Fashion-MNIST (dist/data), fetched by its pre-build hook");
    let _ = std::fs::remove_dir_all(copy);
    Ok(())
}

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

/// `cargo xtask serve` on a machine where apt-get fails and rustup lists
/// no nightly toolchain (stub commands first on PATH, as on a laptop with
/// stable Rust and no root): it must serve the page all the same, and
/// never try apt-get.
fn serve_without_root_check() -> Result {
    use std::os::unix::fs::PermissionsExt;
    let stubs = std::fs::canonicalize("target").map_err(|e| e.to_string())?.join("xtask/stubs");
    let _ = std::fs::remove_dir_all(&stubs);
    std::fs::create_dir_all(&stubs).map_err(|e| e.to_string())?;
    let rustup = output("which", &["rustup"]).ok_or("no rustup to stand in for")?;
    let called = stubs.join("apt-get-was-called");
    let scripts = [
        ("apt-get", format!("#!/bin/sh\necho \"$0 $*\" >> {}\necho 'E: not root' >&2\nexit 100\n", called.display())),
        ("sudo", "#!/bin/sh\necho 'sudo: not allowed' >&2\nexit 1\n".to_string()),
        // rustup as it is, but for a toolchain list without a nightly.
        (
            "rustup",
            format!(
                "#!/bin/sh\nif [ \"$1 $2\" = \"toolchain list\" ]; then echo 'stable-x86_64-unknown-linux-gnu (default)'; exit 0; fi\nexec {} \"$@\"\n",
                rustup.trim()
            ),
        ),
    ];
    for (name, script) in scripts {
        let path = stubs.join(name);
        std::fs::write(&path, script).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap_or_default());
    let port = "8093";
    let mut server = Command::new("cargo")
        .args(["xtask", "serve", "--release", "--port", port, "--no-autoreload"])
        .env("PATH", path)
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{port}/");
    let mut served = None;
    for _ in 0..600 {
        if let Some(page) = output("curl", &["-sf", &url]) {
            served = Some(page);
            break;
        }
        if server.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let data = output("curl", &["-sf", "-o", "/dev/null", "-w", "%{http_code}", &format!("{url}data/t10k-labels-idx1-ubyte.gz")]);
    // The server and everything it started end with its process group.
    let _ = Command::new("kill").args(["--", &format!("-{}", server.id())]).status();
    let _ = server.wait();
    if called.exists() {
        return Err(format!("it called apt-get: {}", std::fs::read_to_string(&called).unwrap_or_default().trim()));
    }
    let page = served.ok_or("it served no page within 10 minutes")?;
    if !page.contains("LeNet-5 learns MNIST") {
        return Err(format!("{url} is not the page"));
    }
    if data.as_deref() != Some("200") {
        return Err(format!("the page's MNIST is not served: HTTP {data:?}"));
    }
    eprintln!("cargo xtask serve served the page and its data without apt-get or a nightly toolchain");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn a_failing_suite_is_counted_listed_and_fails_the_summary() {
        let mut tally = Tally::default();
        tally.suite("good", &mut shell("echo 'test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured'"));
        tally.suite("planted", &mut shell("echo 'test result: FAILED. 2 passed; 1 failed; 0 ignored'; exit 101"));
        tally.suite("later", &mut shell("echo 'e2e: 5 passed, 0 failed'"));
        assert_eq!((tally.passed, tally.failed, tally.ignored), (10, 1, 1), "every suite ran, the planted failure counted");
        assert_eq!(tally.failures, ["planted: 1 failed test(s), listed above"]);
        assert!(tally.summary().is_err(), "a failure fails the test command");
    }

    #[test]
    fn a_runner_that_fails_without_counting_counts_as_one_failure() {
        let mut tally = Tally::default();
        tally.suite("does not build", &mut shell("echo 'error[E0425]: cannot find value'; exit 101"));
        tally.suite("not there", &mut Command::new("no-such-runner-anywhere"));
        tally.check("a check", || Err("it broke".into()));
        tally.check("another", || Ok(()));
        assert_eq!((tally.passed, tally.failed), (1, 3));
        assert!(tally.failures[0].starts_with("does not build: "), "{:?}", tally.failures);
        assert!(tally.failures[1].contains("cannot start"), "{:?}", tally.failures);
        assert_eq!(tally.failures[2], "a check: it broke");
        assert!(Tally { passed: 4, ..Tally::default() }.summary().is_ok());
    }
}
