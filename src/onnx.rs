//! The model in use as an ONNX file, for ONNX Runtime, Netron and the
//! importers of PyTorch and TensorFlow. ONNX is protobuf; the few
//! messages a feed-forward graph needs are written here by hand (field
//! numbers from onnx.proto, cited beside each), rather than through a
//! protobuf crate and its generated code for the whole schema.
//!
//! The graph is the tutorial's network, layer for layer, with opset 13:
//!
//! ```text
//! image (N,1,28,28) -> Conv 20@5x5 -> MaxPool 2x2 -> Add bias -> Tanh
//!                   -> Conv 50@5x5 -> MaxPool 2x2 -> Add bias -> Tanh
//!                   -> Flatten (N,800) -> Gemm 800x500 -> Tanh
//!                   -> Gemm 500x10 -> Softmax -> probabilities (N,10)
//! ```
//!
//! The batch dimension is named (`N`), so any batch runs. Pixels go in as
//! the model was trained: grey level / 256, ink high, background 0.

use crate::model::{param_count, CLASSES, IMAGE_SIDE, KERNEL, PARAMS};
use crate::tensor::numel;

/// The operator set the graph is written for, and the IR version that goes with it.
const OPSET: u64 = 13;
const IR_VERSION: u64 = 7;
/// TensorProto.DataType.FLOAT.
const FLOAT: u64 = 1;

/// The graph's input and output names.
pub const INPUT: &str = "image";
pub const OUTPUT: &str = "probabilities";

/// The model's flat parameters (`PARAMS` order) as an ONNX file. `classes`
/// names the outputs, in order (kept as the model's `classes` metadata).
#[track_caller]
pub fn export(params: &[f32], classes: &[&str; CLASSES]) -> Vec<u8> {
    assert_eq!(params.len(), param_count(), "LeNet-5 has {} parameters", param_count());
    let mut graph = Message::default();
    graph.string(2, "lenet5"); // GraphProto.name
    for node in nodes() {
        graph.message(1, node); // GraphProto.node
    }
    let mut offset = 0;
    for (name, shape) in PARAMS {
        let data = &params[offset..offset + numel(shape)];
        offset += numel(shape);
        // A conv bias is added to (N,C,H,W) maps: (C,1,1) broadcasts over them.
        let dims: Vec<usize> = if name.starts_with("conv") && shape.len() == 1 { vec![shape[0], 1, 1] } else { shape.to_vec() };
        graph.message(5, tensor(name, &dims, data)); // GraphProto.initializer
    }
    let side = IMAGE_SIDE as u64;
    graph.message(11, value_info(INPUT, &[Dim::Named("N"), Dim::Fixed(1), Dim::Fixed(side), Dim::Fixed(side)])); // input
    graph.message(12, value_info(OUTPUT, &[Dim::Named("N"), Dim::Fixed(CLASSES as u64)])); // output
    graph.string(
        10, // GraphProto.doc_string
        "LeNet-5 of the Theano deep-learning tutorial. Input: (N,1,28,28) float32, grey level / 256 \
         (ink high, background 0), as the model was trained. Output: the ten class probabilities.",
    );

    let mut model = Message::default();
    model.varint(1, IR_VERSION); // ModelProto.ir_version
    model.string(2, "lenet"); // producer_name
    model.string(3, env!("CARGO_PKG_VERSION")); // producer_version
    model.message(7, graph); // graph
    let mut opset = Message::default();
    opset.string(1, ""); // OperatorSetIdProto.domain: the default one
    opset.varint(2, OPSET); // version
    model.message(8, opset); // opset_import
    let mut entry = Message::default();
    entry.string(1, "classes"); // StringStringEntryProto.key
    entry.string(2, &classes.join(",")); // value
    model.message(14, entry); // metadata_props
    model.0
}

/// The graph's nodes, in order; each reads the names earlier ones wrote.
fn nodes() -> Vec<Message> {
    let k = KERNEL as i64;
    let conv = |x: &str, w: &str, out: &str| node("Conv", &[x, w], out, vec![ints("kernel_shape", &[k, k])]);
    let pool = |x: &str, out: &str| node("MaxPool", &[x], out, vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])]);
    vec![
        conv(INPUT, "conv1.weight", "conv1"),
        pool("conv1", "pool1"),
        node("Add", &["pool1", "conv1.bias"], "conv1.pre", vec![]),
        node("Tanh", &["conv1.pre"], "conv1.out", vec![]),
        conv("conv1.out", "conv2.weight", "conv2"),
        pool("conv2", "pool2"),
        node("Add", &["pool2", "conv2.bias"], "conv2.pre", vec![]),
        node("Tanh", &["conv2.pre"], "conv2.out", vec![]),
        node("Flatten", &["conv2.out"], "flat", vec![int("axis", 1)]),
        // Dense weights are (n_in, n_out): flat (N,800) . W (800,500), no transpose.
        node("Gemm", &["flat", "hidden.weight", "hidden.bias"], "hidden.pre", vec![]),
        node("Tanh", &["hidden.pre"], "hidden.out", vec![]),
        node("Gemm", &["hidden.out", "out.weight", "out.bias"], "logits", vec![]),
        node("Softmax", &["logits"], OUTPUT, vec![int("axis", 1)]),
    ]
}

/// NodeProto: `op` from `inputs` to one output, named after it.
fn node(op: &str, inputs: &[&str], output: &str, attributes: Vec<Message>) -> Message {
    let mut m = Message::default();
    for input in inputs {
        m.string(1, input); // NodeProto.input
    }
    m.string(2, output); // output
    m.string(3, output); // name
    m.string(4, op); // op_type
    for a in attributes {
        m.message(5, a); // attribute
    }
    m
}

/// AttributeProto of type INT (2).
fn int(name: &str, value: i64) -> Message {
    let mut m = Message::default();
    m.string(1, name); // AttributeProto.name
    m.varint(3, value as u64); // i
    m.varint(20, 2); // type
    m
}

/// AttributeProto of type INTS (7).
fn ints(name: &str, values: &[i64]) -> Message {
    let mut m = Message::default();
    m.string(1, name);
    for &v in values {
        m.varint(8, v as u64); // ints
    }
    m.varint(20, 7);
    m
}

/// TensorProto: float32 `data` of shape `dims`, little-endian in raw_data.
fn tensor(name: &str, dims: &[usize], data: &[f32]) -> Message {
    let mut m = Message::default();
    for &d in dims {
        m.varint(1, d as u64); // TensorProto.dims
    }
    m.varint(2, FLOAT); // data_type
    m.string(8, name); // name
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    m.bytes(9, &raw); // raw_data
    m
}

/// A dimension of a graph input or output: fixed, or named (any size).
enum Dim {
    Fixed(u64),
    Named(&'static str),
}

/// ValueInfoProto of a float32 tensor.
fn value_info(name: &str, dims: &[Dim]) -> Message {
    let mut shape = Message::default();
    for d in dims {
        let mut dim = Message::default();
        match d {
            Dim::Fixed(v) => dim.varint(1, *v), // Dimension.dim_value
            Dim::Named(n) => dim.string(2, n),  // dim_param
        }
        shape.message(1, dim); // TensorShapeProto.dim
    }
    let mut tensor_type = Message::default();
    tensor_type.varint(1, FLOAT); // TypeProto.Tensor.elem_type
    tensor_type.message(2, shape); // shape
    let mut ty = Message::default();
    ty.message(1, tensor_type); // TypeProto.tensor_type
    let mut m = Message::default();
    m.string(1, name); // ValueInfoProto.name
    m.message(2, ty); // type
    m
}

/// A protobuf message, written field by field in the wire format.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    /// Wire type 0: a varint.
    fn varint(&mut self, field: u32, value: u64) {
        self.key(field, 0);
        self.raw_varint(value);
    }

    /// Wire type 2: length-delimited bytes.
    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.raw_varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.raw_varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    /// Seven bits a byte, low first; the high bit says more follow.
    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::Message;

    #[test]
    fn varints_are_written_as_protobuf_writes_them() {
        // The encoding guide's examples: 1 is 01, 150 is 96 01, 300 is ac 02.
        for (value, bytes) in [
            (1u64, &[0x01u8][..]),
            (150, &[0x96, 0x01]),
            (300, &[0xac, 0x02]),
            (u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] {
            let mut m = Message::default();
            m.raw_varint(value);
            assert_eq!(m.0, bytes, "{value}");
        }
        // Field 1, varint 150: 08 96 01; field 2, "testing": 12 07 74 65 73 74 69 6e 67.
        let mut m = Message::default();
        m.varint(1, 150);
        m.string(2, "testing");
        assert_eq!(m.0, [0x08, 0x96, 0x01, 0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']);
    }
}
