//! The fuzz targets in tests/fuzz, one per reader of untrusted bytes,
//! run with cargo-fuzz on the nightly toolchain.

use std::process::Command;

use crate::test::Tally;
use crate::Result;

/// The fuzz targets, one per reader of untrusted bytes.
const TARGETS: [&str; 6] = ["idx", "weights", "messages", "to_mnist", "checkpoint", "resume"];

/// Runs every fuzz target for `seconds`, from the committed seeds
/// (tests/fuzz/seeds) and what earlier runs found (target/fuzz-corpus);
/// a crash fails it, with the input saved under tests/fuzz/artifacts.
pub fn run(seconds: u32, tally: &mut Tally) -> Result {
    let dir = ["--fuzz-dir", "tests/fuzz"];
    crate::run(Command::new("cargo").args(["+nightly", "fuzz", "build"]).args(dir))?;
    for target in TARGETS {
        let corpus = format!("target/fuzz-corpus/{target}");
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{corpus}: {e}"))?;
        let seeds = format!("tests/fuzz/seeds/{target}");
        let limits = [format!("-max_total_time={seconds}"), "-rss_limit_mb=2048".into(), "-print_final_stats=0".into()];
        let name = format!("fuzz {target}");
        tally.check(&name, || {
            crate::run(
                Command::new("cargo").args(["+nightly", "fuzz", "run"]).args(dir).args([target, &corpus, &seeds, "--"]).args(limits),
            )?;
            eprintln!("fuzz {target}: no crash in {seconds} s");
            Ok(())
        });
    }
    Ok(())
}
