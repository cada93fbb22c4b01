//! The tools, from the package registries only, each installed once:
//! serving needs the wasm32 target, wasm-bindgen-cli and trunk, as any
//! user with stable Rust and no root has them; testing adds wasm-pack,
//! geckodriver, the browsers (Debian's, through apt-get), and fuzzing
//! cargo-fuzz on the nightly toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{output, run, step, Result};

const TRUNK_VERSION: &str = "0.21.14";

/// Puts cargo's own bin folder, where `cargo install` puts tools, on PATH.
fn cargo_bin_on_path() {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo"));
    let (bin, path) = (home.join("bin"), std::env::var("PATH").unwrap_or_default());
    if !path.split(':').any(|p| Path::new(p) == bin) {
        std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    }
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

/// What `trunk serve` and `trunk build` need: no root, no nightly, no browser.
pub fn for_serving() -> Result {
    step("tools for serving: the wasm32 target, wasm-bindgen-cli, trunk");
    cargo_bin_on_path();
    wasm32_target()?;
    if !Path::new("Cargo.lock").exists() {
        run(Command::new("cargo").arg("generate-lockfile"))?;
    }
    let wb = locked_wasm_bindgen()?;
    // Without --locked: with it a dependency version is missing from the registry mirror.
    cargo_install("wasm-bindgen", &["--version"], Some(&wb), &["wasm-bindgen-cli", "--version", &wb])?;
    // trunk 0.22 needs a newer rustc; 0.21.14 builds only with --locked.
    cargo_install("trunk", &["--version"], Some(TRUNK_VERSION), &["trunk", "--version", TRUNK_VERSION, "--locked"])
}

/// The standard library for wasm32: through rustup where there is one;
/// elsewhere (a distribution's Rust) it must be there already.
fn wasm32_target() -> Result {
    if let Some(targets) = output("rustup", &["target", "list", "--installed"]) {
        if !targets.lines().any(|t| t == "wasm32-unknown-unknown") {
            run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
        }
        return Ok(());
    }
    let sysroot = output("rustc", &["--print", "sysroot"]).ok_or("rustc is not on PATH: install Rust (https://rustup.rs)")?;
    if Path::new(sysroot.trim()).join("lib/rustlib/wasm32-unknown-unknown").is_dir() {
        return Ok(());
    }
    Err("this Rust has no wasm32-unknown-unknown standard library and there is no rustup to add it: \
         install your distribution's package for it (rust-std for wasm32), or Rust through rustup"
        .into())
}

/// What the test command needs: serving's tools, wasm-pack, geckodriver,
/// cargo-fuzz (on the nightly toolchain), Firefox and Chromium.
pub fn for_testing() -> Result {
    for_serving()?;
    step("tools for testing: wasm-pack, geckodriver, cargo-fuzz, Firefox, Chromium");
    cargo_install("wasm-pack", &["--version"], None, &["wasm-pack"])?;
    cargo_install("geckodriver", &["--version"], None, &["geckodriver"])?;
    for_fuzzing()?;
    let missing: Vec<&str> = [("firefox-esr", "firefox"), ("chromium", "chromium"), ("chromium-driver", "chromedriver")]
        .into_iter()
        .filter(|(_, binary)| output("which", &[binary]).is_none())
        .map(|(package, _)| package)
        .collect();
    if !missing.is_empty() {
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get").args(["install", "-y"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(())
}

/// cargo-fuzz, which needs the nightly toolchain (sanitizer flags).
pub fn for_fuzzing() -> Result {
    cargo_bin_on_path();
    if !output("rustup", &["toolchain", "list"]).unwrap_or_default().lines().any(|t| t.starts_with("nightly")) {
        return Err("the nightly toolchain is missing (`rustup toolchain install nightly`): cargo-fuzz needs it".into());
    }
    cargo_install("cargo-fuzz", &["fuzz", "--version"], None, &["cargo-fuzz"])
}
