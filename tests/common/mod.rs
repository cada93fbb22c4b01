//! Helpers shared by the test files: random data and float comparison.
#![allow(dead_code)]

use lenet::data::{Dataset, Mnist};
use lenet::rng::Rng;

pub fn random_vec(rng: &mut Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(bound)).collect()
}

/// Asserts |a - b| <= abs + rel * max(|a|, |b|) element-wise, naming the first miss.
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f32], abs: f32, rel: f32) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let tol = abs + rel * a.abs().max(e.abs());
        assert!((a - e).abs() <= tol, "index {i}: {a} vs {e} (tolerance {tol})");
    }
}

/// A dataset of noise images with labels 0..9, for tests that need no real MNIST.
pub fn noise_dataset(rng: &mut Rng, n: usize) -> Dataset {
    Dataset { images: (0..n * 784).map(|_| (rng.next_u32() >> 24) as u8).collect(), labels: (0..n).map(|i| (i % 10) as u8).collect() }
}

pub fn noise_mnist(seed: u64, train: usize, valid: usize, test: usize) -> Mnist {
    let mut rng = Rng::new(seed);
    Mnist { train: noise_dataset(&mut rng, train), valid: noise_dataset(&mut rng, valid), test: noise_dataset(&mut rng, test) }
}

/// Where the fetched MNIST lives (`cargo xtask fetch-data`).
pub fn mnist_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}
