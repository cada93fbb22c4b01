//! The command-line trainer: `lenet train` runs the tutorial's protocol
//! natively and writes a safetensors weights file; `lenet evaluate` scores
//! one on the validation and test sets, with the test set's confusion matrix.

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

/// `println!` for what goes to standard output: a reader that went away
/// (`lenet evaluate model.safetensors | head -2`) ends the command
/// quietly and with success, as well-behaved command-line tools do.
#[cfg(not(target_arch = "wasm32"))]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            $crate::cli::stdout_failed(e)
        }
    }};
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use lenet::confusion::{predict, Confusion};
    use lenet::data::HeldOut;
    use lenet::train::{log, Event, Schedule};
    use lenet::{checkpoint, weights, LeNet5, Mnist, Protocol, Threads, Trainer};

    const USAGE: &str = "usage:
  lenet train [--preset tutorial|fast|accurate] [--epochs N] [--lr RATE] [--momentum MU] [--decay D] [--schedule step|cosine]
              [--batch N] [--seed N] [--augment none|rotate=DEG,scale=S,shear=S,shift=PX,elastic=PX,
              elastic_sigma=PX,stroke=PX,blur=PX]
              [--threads N] [--data DIR] [--extra DIR] [--out FILE] [--checkpoint FILE]
  lenet train --resume FILE [--epochs N] [--threads N] [--data DIR] [--out FILE] [--checkpoint FILE]
  lenet evaluate FILE [--threads N] [--data DIR]
  lenet export FILE --onnx OUT
  lenet bench [--batch N] [--threads N] [--data DIR] [--profile yes|no]

defaults: the tutorial's protocol (lr 0.1, batch 500, 200 epochs, seed 23455),
data from data/mnist (fetched by `cargo xtask fetch-data`), weights to lenet5.safetensors,
as many threads as cores (the weights do not depend on the thread count).
--checkpoint FILE saves the whole run at the end of every epoch (Ctrl-C loses at most the epoch
in progress); --resume FILE continues one exactly, with its own settings (and checkpoints to the
same file unless --checkpoint says otherwise); --extra DIR adds the digits of DIR's
personal-images-idx3-ubyte and personal-labels-idx1-ubyte (the page's Download my digits)
to the training set (a run that used it resumes with the same --extra)";

    /// Standard output failed: quietly done if its reader went away.
    pub fn stdout_failed(e: std::io::Error) -> ! {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: standard output: {e}");
        std::process::exit(2);
    }

    pub fn run(args: &[String]) -> Result<(), String> {
        match args.first().map(String::as_str) {
            Some("train") => train(&args[1..]),
            Some("evaluate") => evaluate(&args[1..]),
            Some("export") => export(&args[1..]),
            Some("bench") => bench(&args[1..]),
            Some("-h" | "--help") => {
                say!("{USAGE}");
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
                let value = it.next().ok_or_else(|| format!("--{name} needs a value\n{USAGE}"))?;
                flags.push((name.to_string(), value.clone()));
            } else {
                bare.push(a.clone());
            }
        }
        Ok((flags, bare))
    }

    fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
        value.parse().map_err(|_| format!("--{name}: {value:?} is not a valid number\n{USAGE}"))
    }

    fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    fn load_data(dir: &Path) -> Result<Mnist, String> {
        say!("... loading data from {}", dir.display());
        Mnist::load_dir(dir).map_err(|e| e.to_string())
    }

    fn train(args: &[String]) -> Result<(), String> {
        let (flags, bare) = parse(args)?;
        if let Some(extra) = bare.first() {
            return Err(format!("unexpected argument {extra:?}\n{USAGE}"));
        }
        let mut protocol = Protocol::tutorial();
        let (mut data, mut out) = (PathBuf::from("data/mnist"), PathBuf::from("lenet5.safetensors"));
        let (mut checkpoint, mut resume, mut threads, mut epochs, mut extra) = (None, None, cores(), None, None);
        // The preset first, so that explicit flags override it.
        if let Some((_, preset)) = flags.iter().find(|(n, _)| n == "preset") {
            protocol = match preset.as_str() {
                "tutorial" => Protocol::tutorial(),
                "fast" => Protocol::fast(),
                "accurate" => Protocol::accurate(),
                other => return Err(format!("--preset: unknown preset {other:?} (tutorial, fast, accurate)")),
            };
        }
        let mut settings = Vec::new();
        for (name, value) in &flags {
            match name.as_str() {
                "preset" => {} // taken above
                "epochs" => epochs = Some(number(name, value)?),
                "lr" => protocol.learning_rate = number(name, value)?,
                "momentum" => protocol.momentum = number(name, value)?,
                "decay" => protocol.lr_decay = number(name, value)?,
                "schedule" => {
                    protocol.schedule =
                        Schedule::from_name(value).ok_or_else(|| format!("--schedule: {value:?} is neither step nor cosine"))?
                }
                "batch" => protocol.batch_size = number(name, value)?,
                "seed" => protocol.seed = number(name, value)?,
                "augment" => protocol.augment = lenet::augment::Augment::parse(value).map_err(|e| format!("--{e}"))?,
                "threads" => threads = number(name, value)?,
                "data" => data = PathBuf::from(value),
                "extra" => extra = Some(PathBuf::from(value)),
                "out" => out = PathBuf::from(value),
                "checkpoint" => checkpoint = Some(PathBuf::from(value)),
                "resume" => resume = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown flag --{name}\n{USAGE}")),
            }
            if ["preset", "lr", "momentum", "decay", "schedule", "batch", "seed", "augment"].contains(&name.as_str()) {
                settings.push(format!("--{name}"));
            }
        }
        let mut mnist = load_data(&data)?;
        if let Some(dir) = &extra {
            let added = lenet::data::load_extra(dir).map_err(|e| e.to_string())?;
            say!("... {} digits of {} added to the training set, ahead of MNIST's", added.len(), dir.display());
            // Ahead, so that they are in every epoch: a last partial
            // minibatch is not trained, and MNIST's last images lose out.
            mnist.train.images.splice(0..0, added.images);
            mnist.train.labels.splice(0..0, added.labels);
        }
        let mut trainer = match &resume {
            Some(file) => {
                if !settings.is_empty() {
                    return Err(format!("--resume continues a run with its own settings: drop {}", settings.join(", ")));
                }
                let mut snapshot = checkpoint::load(&read_bounded(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
                if let Some(epochs) = epochs {
                    snapshot.protocol.epochs = epochs;
                }
                protocol = snapshot.protocol.clone();
                let trainer = Trainer::resume(snapshot, mnist).map_err(|e| format!("{}: {e}", file.display()))?;
                say!("... resumed from {} at epoch {}, minibatch {}", file.display(), trainer.epoch(), trainer.minibatch());
                trainer
            }
            None => {
                protocol.epochs = epochs.unwrap_or(protocol.epochs);
                say!("... building the model");
                Trainer::new(protocol.clone(), mnist)?
            }
        };
        let checkpoint = checkpoint.or(resume);
        let mut threads = Threads::new(threads);
        threads.attach(&mut trainer);
        say!("{}", log::header(&protocol, threads.size(), "thread"));
        say!("... kernels: {}", lenet::kernels::best::name());
        let (batches, start, done_before) = (trainer.train_batches(), Instant::now(), trainer.iterations());
        let mut progress = ProgressLine::new(&trainer);
        let mut saved_epoch = trainer.epoch();
        let mut failed_save = None;
        threads.run(&mut trainer, |t, event| {
            progress.suspend(|| log::lines(event, batches).iter().for_each(|line| say!("{line}")));
            progress.update(t, event);
            let epoch_ended = t.epoch() != saved_epoch || t.is_finished();
            if let (Some(path), true, Some(snapshot)) = (&checkpoint, epoch_ended, t.snapshot()) {
                saved_epoch = t.epoch();
                if let Err(e) = checkpoint::write_atomically(path, &checkpoint::save(&snapshot)) {
                    failed_save.get_or_insert(format!("{}: {e}", path.display()));
                }
            }
        });
        progress.finish();
        let images = (trainer.iterations() - done_before) * protocol.batch_size;
        say!("{}", log::ran_for(start.elapsed().as_secs_f64(), images));
        if let Some(e) = failed_save {
            eprintln!("warning: a checkpoint could not be written: {e}");
        }
        std::fs::write(&out, weights::save(&trainer.best_params)).map_err(|e| format!("{}: {e}", out.display()))?;
        say!("best model's weights written to {}", out.display());
        Ok(())
    }

    /// The run's progress on the terminal (standard error), when there is
    /// one: the epoch's minibatches, images per second and the time left
    /// for the whole run. Standard output keeps only the log.
    struct ProgressLine {
        bar: ProgressBar,
        start: Instant,
        iterations_at_start: usize,
        batch: usize,
        total: usize,
        /// The epoch the prefix shows.
        epoch: usize,
    }

    impl ProgressLine {
        fn new(t: &Trainer) -> ProgressLine {
            let bar = ProgressBar::with_draw_target(Some(t.train_batches() as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} minibatches · {msg}").expect("a valid template");
            bar.set_style(style.progress_chars("=> "));
            bar.set_position(t.minibatch() as u64);
            bar.set_prefix(format!("epoch {}/{}", t.epoch(), t.protocol.epochs));
            ProgressLine {
                bar,
                start: Instant::now(),
                iterations_at_start: t.iterations(),
                batch: t.protocol.batch_size,
                total: t.protocol.epochs * t.train_batches(),
                epoch: t.epoch(),
            }
        }

        fn suspend(&self, f: impl FnOnce()) {
            self.bar.suspend(f)
        }

        fn update(&mut self, t: &Trainer, event: &Event) {
            if let Event::Trained { .. } = event {
                let (done, secs) = (t.iterations() - self.iterations_at_start, self.start.elapsed().as_secs_f64());
                let per_iteration = secs / done.max(1) as f64;
                let left = (self.total.saturating_sub(t.iterations())) as f64 * per_iteration;
                let rate = (done * self.batch) as f64 / secs.max(1e-9);
                self.bar.set_message(format!("{rate:.0} images/s · about {} left", log::format_duration(left)));
            }
            if t.epoch() != self.epoch {
                self.epoch = t.epoch();
                self.bar.set_prefix(format!("epoch {}/{}", t.epoch(), t.protocol.epochs));
            }
            self.bar.set_position(t.minibatch() as u64);
        }

        fn finish(&self) {
            self.bar.finish_and_clear();
        }
    }

    /// A file's bytes, unless it is too large to be a weights file or a checkpoint.
    fn read_bounded(file: &Path) -> Result<Vec<u8>, String> {
        let len = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
        if len > weights::MAX_FILE_BYTES as u64 {
            return Err(format!("{}: {len} bytes, larger than any LeNet-5 file", file.display()));
        }
        std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Drawings of each digit in `lenet evaluate`'s second test set.
    const STROKE_DIGITS: usize = 400;

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
        let bytes = read_bounded(Path::new(file))?;
        let params = weights::load(&bytes).map_err(|e| format!("{file}: {e}"))?;
        let mnist = load_data(&data)?;
        mnist.check()?;
        let (mut model, mut threads) = (LeNet5::from_params(params), Threads::new(threads));
        for set in [HeldOut::Validation, HeldOut::Test] {
            let total = mnist.held_out(set).len();
            let errors = threads.count_errors(&mut model, &mnist, set, 0, total);
            say!("{} error {:.2} % ({errors} of {total})", set.name(), errors as f64 * 100.0 / total as f64);
        }
        let mut predictions = Vec::with_capacity(mnist.test.len());
        predict(&mut model, &mnist.test, 0, mnist.test.len(), &mut predictions);
        let collection = mnist.collection();
        if collection == Some(lenet::data::Collection::Fashion) {
            let classes = lenet::data::Collection::Fashion.classes().iter().enumerate().map(|(i, c)| format!("{i} {c}"));
            say!("test set, true class (rows) by prediction (columns); {}:", classes.collect::<Vec<_>>().join(", "));
            say!("{}", Confusion::of(&predictions).to_text());
            return Ok(());
        }
        say!("test set, true digit (rows) by prediction (columns):\n{}", Confusion::of(&predictions).to_text());
        // Digits MNIST does not hold: drawn from stroke templates by random
        // hands, through the pad's preprocessing (the same set every time).
        let drawn = lenet::data::strokes::stroke_digits(STROKE_DIGITS, 1);
        let mut drawn_predictions = Vec::with_capacity(drawn.len());
        predict(&mut model, &drawn, 0, drawn.len(), &mut drawn_predictions);
        let confusion = Confusion::of(&drawn_predictions);
        say!(
            "drawn digits (not MNIST: stroke templates through the pad's preprocessing) error {:.2} % ({} of {}):\n{}",
            confusion.error_percent(),
            confusion.errors(),
            confusion.total(),
            confusion.to_text()
        );
        Ok(())
    }

    /// A weights file as an ONNX model (opset 13, any batch), for ONNX
    /// Runtime, Netron and the importers of other frameworks.
    fn export(args: &[String]) -> Result<(), String> {
        let (flags, bare) = parse(args)?;
        let [file] = &bare[..] else { return Err(format!("export takes one weights file\n{USAGE}")) };
        let mut onnx = None;
        for (name, value) in &flags {
            match name.as_str() {
                "onnx" => onnx = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown flag --{name}\n{USAGE}")),
            }
        }
        let onnx = onnx.ok_or_else(|| format!("export needs --onnx OUT\n{USAGE}"))?;
        let params = weights::load(&read_bounded(Path::new(file))?).map_err(|e| format!("{file}: {e}"))?;
        let bytes = lenet::onnx::export(&params, lenet::data::Collection::Mnist.classes());
        std::fs::write(&onnx, &bytes).map_err(|e| format!("{}: {e}", onnx.display()))?;
        say!(
            "{} written: {} bytes, input {:?} (N,1,28,28) float32 as grey level / 256, output {:?} (N,10)",
            onnx.display(),
            bytes.len(),
            lenet::onnx::INPUT,
            lenet::onnx::OUTPUT
        );
        Ok(())
    }

    /// Training and inference images per second on the real data, with one
    /// thread and with `--threads` (the best of a few timed runs each).
    fn bench(args: &[String]) -> Result<(), String> {
        let (flags, bare) = parse(args)?;
        if let Some(extra) = bare.first() {
            return Err(format!("unexpected argument {extra:?}\n{USAGE}"));
        }
        let (mut data, mut threads, mut batch, mut profile) = (PathBuf::from("data/mnist"), cores(), 500, false);
        for (name, value) in &flags {
            match name.as_str() {
                "data" => data = PathBuf::from(value),
                "threads" => threads = number(name, value)?,
                "batch" => batch = number(name, value)?,
                "profile" => {
                    profile = match value.as_str() {
                        "yes" => true,
                        "no" => false,
                        other => return Err(format!("--profile: {other:?} is neither yes nor no\n{USAGE}")),
                    }
                }
                _ => return Err(format!("unknown flag --{name}\n{USAGE}")),
            }
        }
        let mnist = load_data(&data)?;
        if profile {
            let clock = Instant::now();
            let profile = lenet::bench::profile::kernel_profile(20, 20.0, || clock.elapsed().as_secs_f64() * 1000.0);
            let lines: Vec<&str> = profile.lines().collect();
            say!("native {}, profile, ms per 50-image chunk: {}", lenet::kernels::best::name(), lines.join("; "));
        }
        let mut counts = vec![1];
        if threads > 1 {
            counts.push(threads);
        }
        for t in counts {
            let rates = lenet::bench::native::throughput(&mnist, t, batch)?;
            say!(
                "native {}, {t} thread(s): training {:.0} images/s, inference {:.0} images/s (batch {batch})",
                lenet::kernels::best::name(),
                rates.train,
                rates.infer
            );
        }
        Ok(())
    }
}
