//! Entry points for the benchmark page (`www/bench/`): LeNet-5 training
//! and inference at a fixed batch on noise images, timed by the caller,
//! each kernel of a training step timed alone (the profile), and the
//! app's training worker for the runs on several workers.

use wasm_bindgen::prelude::*;

use crate::data::{Dataset, Mnist};
use crate::model::{LeNet5, IMAGE_LEN};
use crate::rng::Rng;
use crate::train::{Event, Protocol, Threads, Trainer, CHUNK_IMAGES, MAX_EPOCHS};

/// Minibatches in the benchmark's noise training set: enough that the
/// validation pass (of one image) every epoch costs nothing.
const BENCH_BATCHES: usize = 8;

#[wasm_bindgen]
pub struct Bench {
    trainer: Trainer,
    threads: Threads,
    model: LeNet5,
    images: Vec<f32>,
}

/// `n` noise images with labels 0..9.
fn noise(rng: &mut Rng, n: usize) -> Dataset {
    Dataset { images: (0..n * IMAGE_LEN).map(|_| (rng.next_u32() >> 24) as u8).collect(), labels: (0..n).map(|i| (i % 10) as u8).collect() }
}

#[wasm_bindgen]
impl Bench {
    /// A trainer of the tutorial's LeNet-5 on noise images, minibatches
    /// of `batch`, and a model to infer `batch` noise images with.
    #[wasm_bindgen(constructor)]
    pub fn new(batch: usize) -> Result<Bench, String> {
        let mut rng = Rng::new(1);
        let data = Mnist { train: noise(&mut rng, batch * BENCH_BATCHES), valid: noise(&mut rng, 1), test: noise(&mut rng, 1) };
        let images = (0..batch * IMAGE_LEN).map(|_| rng.next_f32()).collect();
        // As many epochs and as much patience as a run may have: the trainer never stops.
        let (epochs, patience) = (MAX_EPOCHS, u32::MAX as usize);
        let protocol = Protocol { batch_size: batch, learning_rate: 0.01, epochs, patience, ..Protocol::tutorial() };
        Ok(Bench { trainer: Trainer::new(protocol, data)?, threads: Threads::new(1), model: LeNet5::new(1), images })
    }

    /// Whether this build's kernels are the SIMD128 ones.
    pub fn simd() -> bool {
        cfg!(target_feature = "simd128")
    }

    /// One minibatch of the trainer, as the app's worker steps it: its
    /// chunks' gradients, then the SGD update. Returns the cost.
    pub fn train_batch(&mut self) -> f32 {
        loop {
            if let Event::Trained { cost, .. } = self.threads.step(&mut self.trainer) {
                return cost;
            }
        }
    }

    /// Class probabilities of the whole batch, `CHUNK_IMAGES` at a time.
    pub fn infer_batch(&mut self) -> f32 {
        let mut checksum = 0.0;
        for chunk in self.images.chunks(CHUNK_IMAGES * IMAGE_LEN) {
            checksum += self.model.forward(chunk)[0];
        }
        checksum
    }
}

/// Milliseconds per call of each hot kernel at LeNet-5's shapes for
/// one chunk, as "name ms" lines, the best of `reps` rounds of about
/// `round_ms` each (see `crate::profile`), on this page's clock.
#[wasm_bindgen]
pub fn kernel_profile(reps: usize, round_ms: f64) -> String {
    super::profile::kernel_profile(reps, round_ms, crate::web::now_ms)
}

/// The ceiling of this build (SIMD128, or relaxed SIMD's multiply-add),
/// machine and browser, in GFLOP/s: the throughput of the kernels' own
/// `madd` (f32x4 multiply-then-add, or `relaxed_madd`) in 12 independent
/// chains, which is all a GEMM kernel could ever reach: enough chains
/// that the adders never wait on latency, few enough that none spills
/// out of x86's 16 vector registers.
/// `iters` rounds of 12 chains x 8 flops; returns the flops done, to be timed.
#[wasm_bindgen]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub fn simd_peak_flops(iters: u32) -> f64 {
    #[cfg(target_feature = "simd128")]
    {
        use core::arch::wasm32::*;
        let (x, y) = (f32x4_splat(0.999_999), f32x4_splat(1e-7));
        let mut acc = [f32x4_splat(1.0); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = crate::kernels::simd128::madd(*a, x, y);
            }
        }
        let sum = acc.iter().fold(f32x4_splat(0.0), |s, a| f32x4_add(s, *a));
        // Keep the result observable so the loop is not optimised away.
        std::hint::black_box(f32x4_extract_lane::<0>(sum));
        f64::from(iters) * 12.0 * 8.0
    }
    #[cfg(not(target_feature = "simd128"))]
    {
        let _ = iters;
        0.0
    }
}

/// The settings of the page's preset `name` ("fast", "tutorial"), as the
/// `settings` of a `Start` message to the training worker.
#[wasm_bindgen]
pub fn preset_settings(name: &str) -> Result<JsValue, String> {
    crate::web::page::form::preset(name).map(|s| crate::web::js::encode(&s)).ok_or_else(|| format!("no preset {name:?}"))
}

/// Runs this (module) Web Worker as the app's training worker: the bench
/// page measures training on several workers through the very code the
/// app uses.
#[wasm_bindgen]
pub fn worker_main() {
    crate::web::worker::start(true);
}
