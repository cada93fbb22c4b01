//! `lenet bench`'s measurements: training and inference images per second
//! on the real data, with native threads.

use std::time::Instant;

use crate::data::{HeldOut, Mnist};
use crate::model::LeNet5;
use crate::train::{Event, Protocol, Threads, Trainer};

/// Images per second, training and inference.
pub struct Throughput {
    pub train: f64,
    pub infer: f64,
}

/// The best of three timed minibatches of `batch` (after one to warm up)
/// and of three inference passes over up to 2,000 validation images, on
/// `threads` threads.
pub fn throughput(mnist: &Mnist, threads: usize, batch: usize) -> Result<Throughput, String> {
    let protocol = Protocol { batch_size: batch, ..Protocol::tutorial() };
    let mut trainer = Trainer::new(protocol, mnist.clone())?;
    let mut pool = Threads::new(threads);
    pool.attach(&mut trainer);
    let mut minibatch = || while !matches!(pool.step(&mut trainer), Event::Trained { .. }) {};
    minibatch(); // warm-up
    let train = best_of(3, minibatch);
    let inferred = 2000.min(mnist.valid.len());
    let (mut model, mut pool) = (LeNet5::new(1), Threads::new(threads));
    let infer = best_of(3, || {
        pool.count_errors(&mut model, mnist, HeldOut::Validation, 0, inferred);
    });
    Ok(Throughput { train: batch as f64 / train, infer: inferred as f64 / infer })
}

/// The shortest of `runs` timings of `f`, in seconds.
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
