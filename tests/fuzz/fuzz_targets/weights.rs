//! Weight files, as an upload or `lenet evaluate FILE` could hold anything.
#![no_main]

use lenet::weights::{load, read_safetensors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(params) = load(bytes) {
        assert_eq!(params.len(), lenet::model::param_count());
        assert!(params.iter().all(|v| v.is_finite()));
    }
    if let Ok(tensors) = read_safetensors(bytes) {
        let values: usize = tensors.values().map(|t| t.data.len()).sum();
        assert!(4 * values <= bytes.len(), "tensors hold more than the file");
    }
});
