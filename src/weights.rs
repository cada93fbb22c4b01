//! Weight files in the safetensors format, through the format's reference
//! crate (the one Python's `safetensors` wraps): it checks the header's
//! JSON, its nesting, every shape's arithmetic and that the tensors'
//! byte ranges tile the data exactly, so a hostile file is an error here
//! and never a crash or a huge allocation. The dense layers' weights are
//! stored (n_in, n_out), as in the tutorial.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::model::{param_count, PARAMS};
use crate::tensor::{numel, Tensor};

/// The largest file read: LeNet-5's weights take 1.7 MB, a training
/// checkpoint a few times that. Anything far larger is not ours, and is
/// refused before its header is parsed.
pub const MAX_FILE_BYTES: usize = 64 << 20;

/// The `lenet` metadata of a weights file.
pub const DESCRIPTION: &str = "LeNet-5 of the Theano tutorial; dense weights are (n_in, n_out)";

/// The model's flat parameters as a safetensors file.
#[track_caller]
pub fn save(params: &[f32]) -> Vec<u8> {
    assert_eq!(params.len(), param_count(), "LeNet-5 has {} parameters", param_count());
    let mut offset = 0;
    let tensors: Vec<(&str, &[usize], &[f32])> = PARAMS
        .iter()
        .map(|&(name, shape)| {
            offset += numel(shape);
            (name, shape, &params[offset - numel(shape)..offset])
        })
        .collect();
    write_safetensors(&tensors, Some(("lenet", DESCRIPTION)))
}

/// LeNet-5's flat parameters from a safetensors file, or what is wrong with it.
pub fn load(bytes: &[u8]) -> Result<Vec<f32>, String> {
    take_params(&mut read_safetensors(bytes)?)
}

/// LeNet-5's flat parameters, taken out of a file's decoded tensors (by
/// name, shape checked, finite), or what is wrong with them.
pub fn take_params(tensors: &mut BTreeMap<String, Tensor>) -> Result<Vec<f32>, String> {
    let mut params = Vec::with_capacity(param_count());
    for (name, shape) in PARAMS {
        let t = tensors.remove(name).ok_or_else(|| format!("the weights file has no tensor {name:?}"))?;
        if t.shape != shape {
            return Err(format!("{name} has shape {:?}, LeNet-5 needs {shape:?}", t.shape));
        }
        if let Some(bad) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(format!("{name} holds a non-finite value at index {bad}"));
        }
        params.extend_from_slice(&t.data);
    }
    Ok(params)
}

/// Encodes named F32 tensors, with at most one metadata entry: the
/// reference writer keeps metadata in a randomly seeded hash map, so with
/// two keys the same tensors would make different bytes from run to run.
#[track_caller]
pub fn write_safetensors(tensors: &[(&str, &[usize], &[f32])], metadata: Option<(&str, &str)>) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, data)| data.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors.iter().zip(&bytes).map(|((name, shape, _), data)| {
        let view = TensorView::new(Dtype::F32, shape.to_vec(), data)
            .unwrap_or_else(|e| panic!("{name}: shape {shape:?} does not hold {} bytes: {e}", data.len()));
        (*name, view)
    });
    let metadata = metadata.map(|(k, v)| [(k.to_string(), v.to_string())].into_iter().collect());
    safetensors::serialize(views, metadata).expect("F32 tensors of checked shapes serialise")
}

/// The `__metadata__` of a safetensors file (empty if it has none).
pub fn read_safetensors_metadata(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!("{} bytes: larger than any LeNet-5 file ({} MiB at most)", bytes.len(), MAX_FILE_BYTES >> 20));
    }
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| format!("not a valid safetensors file: {e}"))?;
    Ok(header.metadata().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Decodes every tensor of a safetensors file; only F32 is accepted.
pub fn read_safetensors(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, String> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!("{} bytes: larger than any LeNet-5 file ({} MiB at most)", bytes.len(), MAX_FILE_BYTES >> 20));
    }
    let file = SafeTensors::deserialize(bytes).map_err(|e| format!("not a valid safetensors file: {e}"))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(format!("{name} is {:?}, only F32 weights are read", view.dtype()));
        }
        let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        tensors.insert(name.to_string(), Tensor::from_vec(view.shape(), values));
    }
    Ok(tensors)
}
