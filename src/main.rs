//! The command-line trainer: `lenet train` runs the tutorial's protocol
//! natively and writes a safetensors weights file; `lenet evaluate` scores
//! one on the validation and test sets.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(message) = cli::run(&args) {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use lenet::train::{log, Event, Split};
    use lenet::{weights, LeNet5, Mnist, Protocol, Threads, Trainer};

    const USAGE: &str = "usage:
  lenet train [--preset tutorial|fast] [--epochs N] [--lr RATE] [--momentum MU] [--decay D] [--batch N] [--seed N]
              [--threads N] [--data DIR] [--out FILE]
  lenet evaluate FILE [--threads N] [--data DIR]
  lenet bench [--batch N] [--threads N] [--data DIR]

defaults: the tutorial's protocol (lr 0.1, batch 500, 200 epochs, seed 23455),
data from data/mnist (fetched by `cargo xtask fetch-data`), weights to lenet5.safetensors,
as many threads as cores (the weights do not depend on the thread count)";

    pub fn run(args: &[String]) -> Result<(), String> {
        match args.first().map(String::as_str) {
            Some("train") => train(&args[1..]),
            Some("evaluate") => evaluate(&args[1..]),
            Some("bench") => bench(&args[1..]),
            Some("-h" | "--help") => {
                println!("{USAGE}");
                Ok(())
            }
            _ => Err(format!("expected a command\n{USAGE}")),
        }
    }

    /// `--name value` pairs, and the bare arguments.
    type Parsed = (Vec<(String, String)>, Vec<String>);

    fn parse(args: &[String]) -> Result<Parsed, String> {
        let (mut flags, mut bare) = (Vec::new(), Vec::new());
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                flags.push((name.to_string(), value.clone()));
            } else {
                bare.push(a.clone());
            }
        }
        Ok((flags, bare))
    }

    fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
        value.parse().map_err(|_| format!("--{name}: {value:?} is not a valid number"))
    }

    fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    fn load_data(dir: &Path) -> Result<Mnist, String> {
        println!("... loading data from {}", dir.display());
        Mnist::load_dir(dir).map_err(|e| e.to_string())
    }

    fn train(args: &[String]) -> Result<(), String> {
        let (flags, bare) = parse(args)?;
        if let Some(extra) = bare.first() {
            return Err(format!("unexpected argument {extra:?}\n{USAGE}"));
        }
        let mut protocol = Protocol::tutorial();
        let (mut data, mut out) = (PathBuf::from("data/mnist"), PathBuf::from("lenet5.safetensors"));
        let mut threads = cores();
        // The preset first, so that explicit flags override it.
        if let Some((_, preset)) = flags.iter().find(|(n, _)| n == "preset") {
            protocol = match preset.as_str() {
                "tutorial" => Protocol::tutorial(),
                "fast" => Protocol::fast(),
                other => return Err(format!("--preset: unknown preset {other:?} (tutorial, fast)")),
            };
        }
        for (name, value) in &flags {
            match name.as_str() {
                "preset" => {}
                "epochs" => protocol.epochs = number(name, value)?,
                "lr" => protocol.learning_rate = number(name, value)?,
                "momentum" => protocol.momentum = number(name, value)?,
                "decay" => protocol.lr_decay = number(name, value)?,
                "batch" => protocol.batch_size = number(name, value)?,
                "seed" => protocol.seed = number(name, value)?,
                "threads" => threads = number(name, value)?,
                "data" => data = PathBuf::from(value),
                "out" => out = PathBuf::from(value),
                _ => return Err(format!("unknown flag --{name}\n{USAGE}")),
            }
        }
        let mnist = load_data(&data)?;
        println!("... building the model");
        let mut trainer = Trainer::new(protocol.clone(), mnist)?;
        let mut threads = Threads::new(threads);
        threads.attach(&mut trainer);
        println!("{}", log::header(&protocol, threads.size(), "thread"));
        let batches = trainer.train_batches();
        let start = Instant::now();
        threads.run(&mut trainer, |_, event| log::lines(event, batches).iter().for_each(|line| println!("{line}")));
        let images = trainer.iterations() * protocol.batch_size;
        println!("{}", log::ran_for(start.elapsed().as_secs_f64(), images));
        std::fs::write(&out, weights::save(&trainer.best_params)).map_err(|e| format!("{}: {e}", out.display()))?;
        println!("best model's weights written to {}", out.display());
        Ok(())
    }

    fn evaluate(args: &[String]) -> Result<(), String> {
        let (flags, bare) = parse(args)?;
        let [file] = &bare[..] else { return Err(format!("evaluate takes one weights file\n{USAGE}")) };
        let (mut data, mut threads) = (PathBuf::from("data/mnist"), cores());
        for (name, value) in &flags {
            match name.as_str() {
                "data" => data = PathBuf::from(value),
                "threads" => threads = number(name, value)?,
                _ => return Err(format!("unknown flag --{name}\n{USAGE}")),
            }
        }
        let bytes = read_weights_file(file)?;
        let params = weights::load(&bytes).map_err(|e| format!("{file}: {e}"))?;
        let mnist = load_data(&data)?;
        mnist.check()?;
        let (mut model, mut threads) = (LeNet5::from_params(params), Threads::new(threads));
        for split in [Split::Validation, Split::Test] {
            let total = mnist.split(split).len();
            let errors = threads.count_errors(&mut model, &mnist, split, 0, total);
            println!("{} error {:.2} % ({errors} of {total})", split.name(), errors as f64 * 100.0 / total as f64);
        }
        Ok(())
    }

    /// The file's bytes, unless it is too large to be a weights file.
    fn read_weights_file(file: &str) -> Result<Vec<u8>, String> {
        let len = std::fs::metadata(file).map_err(|e| format!("{file}: {e}"))?.len();
        if len > weights::MAX_FILE_BYTES as u64 {
            return Err(format!("{file}: {len} bytes, larger than any LeNet-5 weights file"));
        }
        std::fs::read(file).map_err(|e| format!("{file}: {e}"))
    }

    /// Training and inference images per second on the real data, with one
    /// thread and with `--threads` (the best of a few timed runs each).
    fn bench(args: &[String]) -> Result<(), String> {
        let (flags, _) = parse(args)?;
        let (mut data, mut threads, mut batch) = (PathBuf::from("data/mnist"), cores(), 500);
        for (name, value) in &flags {
            match name.as_str() {
                "data" => data = PathBuf::from(value),
                "threads" => threads = number(name, value)?,
                "batch" => batch = number(name, value)?,
                _ => return Err(format!("unknown flag --{name}\n{USAGE}")),
            }
        }
        let mnist = load_data(&data)?;
        let best_of = |runs: usize, mut f: Box<dyn FnMut() + '_>| {
            (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let mut counts = vec![1];
        if threads > 1 {
            counts.push(threads);
        }
        let inferred = 2000.min(mnist.valid.len());
        for t in counts {
            let protocol = Protocol { batch_size: batch, ..Protocol::tutorial() };
            let mut trainer = Trainer::new(protocol, mnist.clone())?;
            let mut threads = Threads::new(t);
            threads.attach(&mut trainer);
            let mut minibatch = || while !matches!(threads.step(&mut trainer), Event::Trained { .. }) {};
            minibatch(); // warm-up
            let train = best_of(3, Box::new(minibatch));
            let (mut model, mut threads) = (LeNet5::new(1), Threads::new(t));
            let infer = best_of(3, Box::new(|| {
                threads.count_errors(&mut model, &mnist, Split::Validation, 0, inferred);
            }));
            println!(
                "native, {t} thread(s): training {:.0} images/s, inference {:.0} images/s (batch {batch})",
                batch as f64 / train,
                inferred as f64 / infer
            );
        }
        Ok(())
    }
}
