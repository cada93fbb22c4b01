//! Weight files: a round trip, and clear errors for damaged or foreign files.
#![cfg(not(target_arch = "wasm32"))]

use lenet::model::{param_count, LeNet5};
use lenet::weights::{load, read_safetensors, save, write_safetensors};

#[test]
fn save_then_load_gives_the_same_parameters() {
    let model = LeNet5::new(3);
    let bytes = save(&model.params);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header_len) % 8, 0, "data starts 8-byte aligned");
    assert_eq!(bytes.len(), 8 + header_len + 4 * param_count());
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(header.contains(r#""conv1.weight":{"dtype":"F32","shape":[20,1,5,5],"data_offsets":[0,2000]}"#), "{header}");
    assert_eq!(load(&bytes).unwrap(), model.params);
    let tensors = read_safetensors(&bytes).unwrap();
    assert_eq!(tensors["hidden.weight"].shape, [800, 500]);
    assert_eq!(tensors["conv2.weight"].data[..], *model.param("conv2.weight"));
}

#[test]
fn damaged_and_foreign_files_are_refused_with_a_reason() {
    let bytes = save(&LeNet5::new(3).params);
    let err = load(&bytes[..bytes.len() - 4]).unwrap_err();
    assert!(err.contains("fall outside"), "{err}");
    assert!(load(&bytes[..6]).unwrap_err().contains("only 6 bytes"));
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(load(&huge).unwrap_err().contains("header length"));
    let mut garbled = bytes.clone();
    garbled[9] = b'#';
    assert!(load(&garbled).unwrap_err().contains("header JSON"));

    let small = write_safetensors(&[("conv1.weight", &[20, 1, 3, 3], &[0.0; 180])], &[]);
    assert_eq!(load(&small).unwrap_err(), "conv1.weight has shape [20, 1, 3, 3], LeNet-5 needs [20, 1, 5, 5]");
    let other = write_safetensors(&[("fc.weight", &[2], &[1.0, 2.0])], &[]);
    assert_eq!(load(&other).unwrap_err(), "the weights file has no tensor \"conv1.weight\"");
}
