//! The benchmark: our wasm builds against TensorFlow.js, ConvNetJS and
//! ONNX Runtime Web in both browsers (www/bench/results.md), and the native rows, with
//! PyTorch's on request (www/bench/native.md).

use std::path::Path;
use std::process::Command;

use crate::{data, install, output, run, step, Result};

/// `cargo xtask bench [--native] [--torch] | --tutorial`.
pub fn command(flags: &[String]) -> Result {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (torch, native_only) = (flags.contains(&"--torch"), flags.contains(&"--native"));
    match flags.iter().find(|f| !["--torch", "--native"].contains(f)) {
        Some(&"--tutorial") if flags.len() == 1 => install::for_testing().and_then(|()| data::fetch()).and_then(|()| tutorial()),
        Some(other) => Err(format!("bench: unexpected {other:?} (cargo xtask bench [--native] [--torch] | --tutorial)")),
        None if native_only => data::fetch().and_then(|()| bench_native(torch).map(drop)),
        None => install::for_testing().and_then(|()| data::fetch()).and_then(|()| bench(torch)),
    }
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
    let targets = native_targets(&lines);
    if !targets.is_empty() {
        md += "\nTargets of issue #30 natively, from this run:\n\n";
        for t in &targets {
            eprintln!("{t}");
            md += &format!("- {t}\n");
        }
    }
    std::fs::write("www/bench/native.md", md).map_err(|e| e.to_string())?;
    Ok(lines)
}

/// Issue #30's native targets against `lines` (`bench_native`'s): the
/// default kernels' training at 2.5x PyTorch's or more on as many
/// threads, and in each vector build's profile each pooled backward pass
/// no slower than its layer's input-gradient GEMM (conv1, whose input is
/// the data, has none: its filter-gradient GEMM stands in).
fn native_targets(lines: &[String]) -> Vec<String> {
    let met = |ok: bool| if ok { "met" } else { "not met" };
    let mut targets = Vec::new();
    let best = lines.first().and_then(|l| l.split(',').next()).unwrap_or("");
    for line in lines.iter().filter(|l| l.starts_with(best) && l.contains("against PyTorch")) {
        let x = line.split("training ").nth(1).and_then(|t| t.split('x').next()).and_then(|x| x.parse::<f64>().ok());
        if let Some(x) = x {
            targets.push(format!(
                "{}: training at 2.5x PyTorch or more: {x:.2}x: {}.",
                line.split(" against").next().unwrap_or(line),
                met(x >= 2.5)
            ));
        }
    }
    for line in lines.iter().filter(|l| l.contains(", profile, ") && !l.starts_with("native scalar")) {
        let ms =
            |kernel: &str| line.split(&format!("{kernel} ")).nth(1).and_then(|t| t.split(';').next()).and_then(|v| v.parse::<f64>().ok());
        let name = line.split(", profile").next().unwrap_or(line);
        for (pooled, gemm) in [("conv2.backward_pooled", "conv2.backward_input"), ("conv1.backward_pooled", "conv1.backward_filter")] {
            if let (Some(p), Some(g)) = (ms(pooled), ms(gemm)) {
                targets.push(format!("{name}: {pooled} no slower than {gemm}: {p:.3} against {g:.3} ms: {}.", met(p <= g)));
            }
        }
    }
    targets
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
    step("peers from npm: TensorFlow.js 4.22, ConvNetJS 0.3, ONNX Runtime Web (www/bench/package.json)");
    let peers = ["@tensorflow/tfjs-backend-wasm", "convnetjs", "onnxruntime-web"];
    if !peers.iter().all(|p| Path::new(&format!("www/bench/node_modules/{p}/package.json")).exists()) {
        run(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir("www/bench"))?;
    }
    bench_native(torch)?;
    step("our model as ONNX, for ONNX Runtime Web (lenet export --onnx)");
    run(Command::new("cargo").args([
        "run",
        "--release",
        "--quiet",
        "--",
        "export",
        "www/pretrained/lenet5-tutorial.safetensors",
        "--onnx",
        "target/bench/lenet5.onnx",
    ]))?;
    step("browsers");
    run(Command::new("node").args(["www/bench/run.mjs", "chromium", "firefox"]))
}

/// The tutorial's full protocol in a tab of headless Chromium, on every
/// core, through the release build of the page (www/bench/tutorial.mjs):
/// its log to www/pretrained/tutorial-tab.log.
fn tutorial() -> Result {
    step("the page's release build (trunk build --release)");
    run(Command::new("trunk").args(["build", "--release", "--offline"]))?;
    step("the tutorial's protocol in a tab (up to 200 epochs: most of an hour on two cores)");
    run(Command::new("node").args(["www/bench/tutorial.mjs", "chromium"]))
}
