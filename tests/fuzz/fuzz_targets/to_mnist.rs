//! The pad's preprocessing, on any size and any ink (NaN and infinities
//! included): a 28x28 image or None, never a panic.
#![no_main]

use lenet::preprocess::to_mnist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let [w, h, rest @ ..] = bytes else { return };
    let (width, height) = (usize::from(*w % 64) + 1, usize::from(*h % 64) + 1);
    let mut ink: Vec<f32> = rest.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    ink.resize(width * height, 0.0);
    if let Some(image) = to_mnist(&ink, width, height) {
        assert_eq!(image.len(), 784);
    }
});
