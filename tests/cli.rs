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
