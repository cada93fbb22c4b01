//! IDX files as a user's `?data=` URL or data folder could hold anything.
#![no_main]

use lenet::data::idx::{declared_len, parse_images, parse_labels, MAX_DATA_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(Some(n)) = declared_len(bytes) {
        assert!(n <= MAX_DATA_BYTES + 16, "a declared length past the ceiling: {n}");
    }
    if let Ok(images) = parse_images(bytes) {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
    if let Ok(labels) = parse_labels(bytes) {
        assert!(labels.iter().all(|&l| l <= 9));
    }
});
