//! The command line's flags: each one `lenet train` documents is taken
//! (the run then stops at the missing data, which names the folder).
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

#[test]
fn every_documented_train_flag_is_accepted() {
    let flags = [
        ["--preset", "fast"],
        ["--preset", "tutorial"],
        ["--preset", "accurate"],
        ["--augment", "rotate=10,stroke=0.7"],
        ["--augment", "none"],
        ["--extra", "/tmp/no-extra-digits"],
        ["--epochs", "2"],
        ["--lr", "0.1"],
        ["--momentum", "0.9"],
        ["--decay", "0.3"],
        ["--schedule", "cosine"],
        ["--batch", "100"],
        ["--seed", "7"],
        ["--threads", "1"],
        ["--out", "/tmp/never-written.safetensors"],
        ["--checkpoint", "/tmp/never-written.checkpoint"],
    ];
    for flag in flags {
        let out = Command::new(env!("CARGO_BIN_EXE_lenet"))
            .args(["train", "--data", "/nonexistent-mnist"])
            .args(flag)
            .output()
            .expect("lenet runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag:?}: no data, no run");
        assert!(err.contains("/nonexistent-mnist"), "{flag:?} is taken, and the missing data named: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lenet")).args(["train", "--presets", "fast"]).output().expect("lenet runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown flag --presets"));
    let out = Command::new(env!("CARGO_BIN_EXE_lenet")).args(["train", "--schedule", "linear"]).output().expect("lenet runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--schedule: \"linear\" is neither step nor cosine"));
    let out = Command::new(env!("CARGO_BIN_EXE_lenet")).args(["train", "--augment", "rotate=200"]).output().expect("lenet runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--augment: rotate must be between 0 and 90, got 200"));
}

fn lenet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lenet")).args(args).output().expect("lenet runs")
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    // Standard output is a pipe whose reading end is already closed, as
    // when `head` has read what it wanted.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_lenet")).arg("--help").stdout(writer).output().expect("lenet runs");
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no panic, no message");
}

#[test]
fn unknown_or_malformed_arguments_are_errors_with_the_usage() {
    for args in [
        &["bench", "extra"][..],
        &["bench", "--profile", "maybe"],
        &["bench", "--threads"],
        &["evaluate", "a.safetensors", "b.safetensors"],
        &["evaluate", "a.safetensors", "--colour", "red"],
        &["train", "--epochs", "many"],
        &["train", "stray"],
        &["export", "a.safetensors"],
        &["export", "--onnx", "out.onnx"],
        &["frobnicate"],
    ] {
        let out = lenet(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("usage:\n  lenet train"), "{args:?} shows the usage: {err}");
    }
    assert!(String::from_utf8_lossy(&lenet(&["bench", "extra"]).stderr).contains("unexpected argument \"extra\""));
    assert!(String::from_utf8_lossy(&lenet(&["bench", "--profile", "maybe"]).stderr).contains("neither yes nor no"));
}

#[test]
fn export_writes_onnx_and_refuses_a_file_that_is_not_weights() {
    let dir = std::env::temp_dir().join(format!("lenet-cli-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let (weights, onnx) = (dir.join("model.safetensors"), dir.join("model.onnx"));
    std::fs::write(&weights, lenet::weights::save(&lenet::LeNet5::new(1).params)).expect("weights written");
    let out = lenet(&["export", weights.to_str().unwrap(), "--onnx", onnx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&onnx).expect("the ONNX file").len() > 1_700_000, "431,080 weights of four bytes, and the graph");

    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not weights").expect("written");
    let out = lenet(&["export", notes.to_str().unwrap(), "--onnx", dir.join("no.onnx").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: ") && err.contains("notes.txt: ") && !err.contains("panicked"), "{err}");
    assert!(!dir.join("no.onnx").exists(), "nothing written for a bad input");
    let _ = std::fs::remove_dir_all(&dir);
}
