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

/// Every kind of distortion at once, each well within its range.
pub const EVERY_DISTORTION: &str = "rotate=15,scale=0.15,shear=0.3,shift=2,elastic=8,elastic_sigma=3,stroke=1.5,blur=1";

/// A digit-like test image, a 9: a ring of ink above a stem on its
/// right, greys at their edges.
pub fn ring() -> Vec<f32> {
    (0..lenet::model::IMAGE_LEN)
        .map(|i| {
            let (x, y) = ((i % 28) as f32 - 13.5, (i / 28) as f32 - 9.5);
            let r = (x * x + y * y).sqrt();
            let ring = (2.5 - (r - 5.0).abs()) / 2.5;
            let stem = if y > 0.0 && y < 15.0 { (2.0 - (x - 5.0).abs()) / 2.0 } else { 0.0 };
            ring.max(stem).clamp(0.0, 255.0 / 256.0)
        })
        .collect()
}

/// FNV-1a over the bits of 32 distorted rings (four seeds, four epochs,
/// two indices): the command line's and the browser's builds must agree
/// on it, bit for bit.
pub fn distorted_checksum() -> u64 {
    let augment = lenet::augment::Augment::parse(EVERY_DISTORTION).unwrap();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for seed in [0, 1, 23455, u64::MAX] {
        for epoch in [1, 2, 3, 200] {
            for index in [0, 49_999] {
                let mut image = ring();
                augment.distort(&mut image, seed, epoch, index);
                for v in image {
                    for b in v.to_bits().to_le_bytes() {
                        hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                    }
                }
            }
        }
    }
    hash
}
/// `distorted_checksum()` as this code computes it on x86-64 and in both
/// browsers; a change to the distortions changes it (and must change it
/// everywhere at once).
pub const DISTORTED_CHECKSUM: u64 = 6_633_354_800_981_860_897;
