//! Weight files: a round trip, and clear errors for damaged, foreign or
//! hostile files.
#![cfg(not(target_arch = "wasm32"))]

use lenet::model::{param_count, LeNet5};
use lenet::weights::{load, read_safetensors, save, write_safetensors};

/// A safetensors file with this JSON header and `data` after it.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    [&(header.len() as u64).to_le_bytes()[..], header.as_bytes(), data].concat()
}

#[test]
fn save_then_load_gives_the_same_parameters() {
    let model = LeNet5::new(3);
    let bytes = save(&model.params);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header_len) % 8, 0, "data starts 8-byte aligned");
    assert_eq!(bytes.len(), 8 + header_len + 4 * param_count());
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(header.contains(r#""conv1.weight":{"dtype":"F32","shape":[20,1,5,5],"data_offsets":["#), "{header}");
    assert!(header.contains(r#""lenet":"LeNet-5 of the Theano tutorial; dense weights are (n_in, n_out)""#), "{header}");
    assert_eq!(save(&model.params), bytes, "the same parameters, the same bytes");
    assert_eq!(load(&bytes).unwrap(), model.params);
    let tensors = read_safetensors(&bytes).unwrap();
    assert_eq!(tensors["hidden.weight"].shape, [800, 500]);
    assert_eq!(tensors["conv2.weight"].data[..], *model.param("conv2.weight"));
}

#[test]
fn damaged_and_foreign_files_are_refused_with_a_reason() {
    let bytes = save(&LeNet5::new(3).params);
    let err = load(&bytes[..bytes.len() - 4]).unwrap_err();
    assert!(err.starts_with("not a valid safetensors file"), "{err}");
    assert!(load(&bytes[..6]).unwrap_err().starts_with("not a valid safetensors file"));
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(load(&huge).unwrap_err().starts_with("not a valid safetensors file"));
    let mut garbled = bytes.clone();
    garbled[9] = b'#';
    assert!(load(&garbled).unwrap_err().starts_with("not a valid safetensors file"));

    let small = write_safetensors(&[("conv1.weight", &[20, 1, 3, 3], &[0.0; 180])], None);
    assert_eq!(load(&small).unwrap_err(), "conv1.weight has shape [20, 1, 3, 3], LeNet-5 needs [20, 1, 5, 5]");
    let other = write_safetensors(&[("fc.weight", &[2], &[1.0, 2.0])], None);
    assert_eq!(load(&other).unwrap_err(), "the weights file has no tensor \"conv1.weight\"");
    let mut nan = LeNet5::new(3).params;
    nan[2_000 + 20 + 7] = f32::NAN;
    let err = load(&save(&nan)).unwrap_err();
    assert!(err.contains("non-finite value"), "{err}");
    let ints = file(r#"{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 4]);
    assert_eq!(load(&ints).unwrap_err(), "a is I32, only F32 weights are read");
}

#[test]
fn hostile_headers_are_errors_not_crashes() {
    // A shape whose product passes usize (or wraps to 0).
    let overflow = file(r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#, &[]);
    assert!(load(&overflow).unwrap_err().starts_with("not a valid safetensors file"));
    // A header nested 30,000 deep.
    let deep = file(&format!(r#"{{"a":{}{}}}"#, "[".repeat(30_000), "]".repeat(30_000)), &[]);
    assert!(load(&deep).unwrap_err().starts_with("not a valid safetensors file"));
    // 1,000 tensors all pointing at the same 1,000 bytes.
    let entries: Vec<String> = (0..1000).map(|i| format!(r#""t{i}":{{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}}"#)).collect();
    let overlapping = file(&format!("{{{}}}", entries.join(",")), &[0; 1000]);
    assert!(load(&overlapping).unwrap_err().starts_with("not a valid safetensors file"));
    // Larger than any file of ours.
    let oversized = vec![0u8; lenet::weights::MAX_FILE_BYTES + 1];
    assert!(load(&oversized).unwrap_err().contains("larger than any LeNet-5 file"));
}
