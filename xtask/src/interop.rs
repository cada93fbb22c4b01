//! Our files in other tools' hands: Python's `safetensors` opens the
//! weights, ONNX's checker and ONNX Runtime (from PyPI) open and score the
//! exported models, each against what `lenet evaluate` measures.

use std::process::Command;

use crate::test::{BROWSERS, CHECKPOINT};
use crate::{output, run, Result};

/// Installs the Python modules from PyPI the first time (`pip` names).
fn python_modules(imports: &str, packages: &[&str]) -> Result {
    if output("python3", &["-c", &format!("import {imports}")]).is_none() {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet"]).args(packages))?;
    }
    Ok(())
}

/// `lenet ARGS` (release), its standard output.
fn lenet(args: &[&str]) -> Result<String> {
    let out = Command::new("cargo").args(["run", "--release", "--quiet", "--"]).args(args).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("lenet {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `lenet evaluate`'s test line, "test error 1.00 % (100 of 10000)", on
/// the data in `data`: the percentage as written, and the count of errors.
fn evaluated(weights: &str, data: &str) -> Result<(String, usize)> {
    let eval = lenet(&["evaluate", weights, "--data", data])?;
    let line = eval.lines().find_map(|l| l.strip_prefix("test error ")).ok_or("no test error from lenet evaluate")?;
    let percent = line.split_whitespace().next().unwrap_or_default().to_string();
    let count = line.split('(').nth(1).and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok());
    Ok((percent, count.ok_or_else(|| format!("unreadable line from lenet evaluate: {line:?}"))?))
}

/// `onnx` through ONNX's checker and ONNX Runtime on the test set in
/// `data`: the number of errors must be the one `lenet evaluate` counts
/// for `weights`.
fn onnx_scores_as_evaluate(onnx: &str, weights: &str, data: &str) -> Result {
    python_modules("onnx, onnxruntime, numpy", &["onnx", "onnxruntime", "numpy"])?;
    let report =
        output("python3", &["tests/check_onnx.py", onnx, data]).ok_or_else(|| format!("tests/check_onnx.py {onnx} {data} failed"))?;
    eprint!("{report}");
    let errors: usize = report
        .split("test errors ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or("unreadable report")?;
    let (_, expected) = evaluated(weights, data)?;
    if errors != expected {
        return Err(format!("{onnx}: ONNX Runtime counts {errors} test errors, lenet evaluate {expected} for {weights}"));
    }
    eprintln!("{onnx}: ONNX Runtime counts {errors} test errors, as lenet evaluate does");
    Ok(())
}

/// Trains briefly with the command line, opens its weights file in Python's
/// `safetensors`, and checks `evaluate` reports the trainer's test error.
pub fn safetensors_check() -> Result {
    python_modules("safetensors.numpy, numpy", &["safetensors", "numpy"])?;
    std::fs::create_dir_all("target/xtask").map_err(|e| e.to_string())?;
    let log = lenet(&["train", "--epochs", "1", "--batch", "500", "--out", CHECKED, "--checkpoint", CHECKPOINT])?;
    eprint!("{log}");
    run(Command::new("python3").arg("tests/check_safetensors.py").arg(CHECKED))?;
    let trained = log.lines().find_map(|l| l.split("test performance ").nth(1)).ok_or("no test score in the log")?;
    let trained = trained.split_whitespace().next().unwrap_or_default();
    let (evaluated, _) = evaluated(CHECKED, MNIST)?;
    if trained != evaluated {
        return Err(format!("evaluate gives {evaluated} %, training reported {trained} %"));
    }
    eprintln!("evaluate reproduces the trained model's test error: {evaluated} %");
    Ok(())
}

/// The one-epoch model of `safetensors_check`.
const CHECKED: &str = "target/xtask/check.safetensors";

const MNIST: &str = "data/mnist";
const FASHION: &str = "data/fashion-mnist";
/// One epoch of the fast preset on Fashion-MNIST, as the end-to-end test
/// trains it in the pages.
const FASHION_EPOCH: &str = "target/xtask/fashion-epoch.safetensors";

/// `lenet export --onnx` of the one-epoch MNIST model and of a one-epoch
/// Fashion-MNIST one: ONNX's checker passes them and ONNX Runtime counts
/// the errors `lenet evaluate` does, each on its own test set.
pub fn onnx_check() -> Result {
    let onnx = "target/xtask/check.onnx";
    eprint!("{}", lenet(&["export", CHECKED, "--onnx", onnx])?);
    onnx_scores_as_evaluate(onnx, CHECKED, MNIST)?;
    train_fashion_epoch()?;
    let onnx = "target/xtask/fashion.onnx";
    eprint!("{}", lenet(&["export", FASHION_EPOCH, "--onnx", onnx])?);
    onnx_scores_as_evaluate(onnx, FASHION_EPOCH, FASHION)
}

/// One epoch of the fast preset on Fashion-MNIST, into `FASHION_EPOCH`.
fn train_fashion_epoch() -> Result {
    eprint!("{}", lenet(&["train", "--preset", "fast", "--epochs", "1", "--data", FASHION, "--out", FASHION_EPOCH])?);
    Ok(())
}

/// The test error of the one-epoch Fashion-MNIST model, as `lenet
/// evaluate` gives it (trained here if `onnx_check` did not leave it).
fn fashion_epoch_error() -> Result<f64> {
    if !std::path::Path::new(FASHION_EPOCH).exists() {
        train_fashion_epoch()?;
    }
    let (percent, _) = evaluated(FASHION_EPOCH, FASHION)?;
    percent.parse().map_err(|_| format!("unreadable test error {percent:?}"))
}

/// Each model the end-to-end test downloaded from a page opens in Python's
/// `safetensors`, and `lenet evaluate` gives it the test error the page
/// measured; its ONNX download scores the same in ONNX Runtime; each run
/// it downloaded goes on with `lenet train --resume`.
pub fn downloaded_models_check() -> Result {
    python_modules("safetensors.numpy, numpy", &["safetensors", "numpy"])?;
    for browser in BROWSERS {
        let note = format!("target/e2e/{browser}-model.json");
        let json = std::fs::read_to_string(&note).map_err(|e| format!("{note}: {e} (the end-to-end test writes it)"))?;
        // {"file":"...","onnx":"...","test":"1.00"}: plain strings.
        let field = |key: &str| json.split(&format!("\"{key}\":\"")).nth(1).and_then(|v| v.split('"').next()).map(str::to_string);
        let (Some(file), Some(onnx), Some(page)) = (field("file"), field("onnx"), field("test")) else {
            return Err(format!("{note}: unreadable: {json}"));
        };
        run(Command::new("python3").arg("tests/check_safetensors.py").arg(&file))?;
        let (evaluated, _) = evaluated(&file, MNIST)?;
        if evaluated != page {
            return Err(format!("{file}: lenet evaluate gives {evaluated} %, the page measured {page} %"));
        }
        eprintln!("{browser}: the downloaded model measures {evaluated} % in lenet evaluate, as in the page");
        onnx_scores_as_evaluate(&onnx, &file, MNIST)?;
        // The page's run (fast preset, two epochs), one epoch further.
        let run_file = format!("target/e2e/{browser}-run.safetensors");
        let out = format!("target/e2e/{browser}-run-continued.safetensors");
        let log = lenet(&["train", "--resume", &run_file, "--epochs", "3", "--out", &out])?;
        if !log.contains("epoch 3, minibatch 500/500, validation error") {
            return Err(format!("lenet train --resume {run_file} did not train epoch 3:\n{log}"));
        }
        eprintln!("{browser}: lenet train --resume continued the page's run through epoch 3");
        // One epoch of the fast preset on Fashion-MNIST, in the page and here.
        let note = format!("target/e2e/{browser}-fashion.json");
        let json = std::fs::read_to_string(&note).map_err(|e| format!("{note}: {e} (the end-to-end test writes it)"))?;
        let page: f64 = json
            .split("\"test\":\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{note}: unreadable: {json}"))?;
        let here = fashion_epoch_error()?;
        if (page - here).abs() > 1.0 {
            return Err(format!("{browser}: one epoch on Fashion-MNIST ends at {page} % in the page, {here} % in the command line"));
        }
        eprintln!("{browser}: one epoch on Fashion-MNIST: {page} % in the page, {here} % in the command line");
    }
    Ok(())
}
