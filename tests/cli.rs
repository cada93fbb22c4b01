//! The command line's flags: each one `lenet train` documents is taken
//! (the run then stops at the missing data, which names the folder).
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

#[test]
fn every_documented_train_flag_is_accepted() {
    let flags = [
        ["--preset", "fast"],
        ["--preset", "tutorial"],
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
}
