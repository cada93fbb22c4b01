//! The ONNX writer, read back with a protobuf reader of the test's own:
//! the graph's operators in order, the weights to the bit, the named batch
//! dimension and the opset. (The test command also opens exported files
//! with ONNX's checker and scores them in ONNX Runtime.)
#![cfg(not(target_arch = "wasm32"))]

use lenet::data::Collection;
use lenet::model::{param_count, PARAMS};
use lenet::onnx::{export, INPUT, OUTPUT};
use lenet::rng::Rng;

/// One protobuf field: its number, and its varint or its bytes.
#[derive(Debug)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = buf[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// A message's fields in order (wire types 0 and 2: all the writer uses).
fn fields(buf: &[u8]) -> Vec<(u64, Value<'_>)> {
    let (mut at, mut out) = (0, Vec::new());
    while at < buf.len() {
        let key = varint(buf, &mut at);
        let value = match key & 7 {
            0 => Value::Varint(varint(buf, &mut at)),
            2 => {
                let len = varint(buf, &mut at) as usize;
                at += len;
                Value::Bytes(&buf[at - len..at])
            }
            other => panic!("wire type {other} at byte {at}"),
        };
        out.push((key >> 3, value));
    }
    assert_eq!(at, buf.len(), "the last field runs past the message");
    out
}

fn bytes_of<'a>(msg: &[(u64, Value<'a>)], field: u64) -> Vec<&'a [u8]> {
    msg.iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, v)| if let Value::Bytes(b) = v { *b } else { panic!("field {field} is not bytes") })
        .collect()
}

fn varints_of(msg: &[(u64, Value<'_>)], field: u64) -> Vec<u64> {
    msg.iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, v)| if let Value::Varint(n) = v { *n } else { panic!("field {field} is not a varint") })
        .collect()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("UTF-8")
}

fn random_params() -> Vec<f32> {
    let mut rng = Rng::new(7);
    (0..param_count()).map(|_| rng.uniform(1.0)).collect()
}

#[test]
fn the_exported_graph_is_the_tutorial_network_with_every_weight_to_the_bit() {
    let params = random_params();
    let file = export(&params, Collection::Fashion.classes());
    let model = fields(&file);
    assert_eq!(varints_of(&model, 1), [7], "IR version");
    let opset = fields(bytes_of(&model, 8)[0]);
    assert_eq!((text(bytes_of(&opset, 1)[0]), varints_of(&opset, 2)), ("", vec![13]), "the default domain at opset 13");
    let graph = fields(bytes_of(&model, 7)[0]);

    let ops: Vec<String> = bytes_of(&graph, 1).iter().map(|n| text(bytes_of(&fields(n), 4)[0]).to_string()).collect();
    assert_eq!(
        ops,
        ["Conv", "MaxPool", "Add", "Tanh", "Conv", "MaxPool", "Add", "Tanh", "Flatten", "Gemm", "Tanh", "Gemm", "Softmax"],
        "conv, pool, +bias, tanh twice; the hidden layer; logistic regression"
    );

    // Every initializer: its name, its dims and its bytes, in PARAMS order.
    let mut offset = 0;
    let initializers = bytes_of(&graph, 5);
    assert_eq!(initializers.len(), PARAMS.len());
    for (tensor, (name, shape)) in initializers.iter().zip(PARAMS) {
        let tensor = fields(tensor);
        assert_eq!(text(bytes_of(&tensor, 8)[0]), name);
        let dims: Vec<usize> = varints_of(&tensor, 1).iter().map(|&d| d as usize).collect();
        assert_eq!(dims.iter().product::<usize>(), shape.iter().product::<usize>(), "{name}: {dims:?} against {shape:?}");
        assert_eq!(varints_of(&tensor, 2), [1], "{name} is float32");
        let len: usize = shape.iter().product();
        let want: Vec<u8> = params[offset..offset + len].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(bytes_of(&tensor, 9)[0] == want, "{name}'s raw data are its parameters, little-endian");
        offset += len;
    }
    assert_eq!(offset, params.len());

    // The input (N,1,28,28) with N named, the output (N,10).
    let shape = |value_info: &[u8]| -> (String, Vec<String>) {
        let v = fields(value_info);
        let tensor_type = fields(bytes_of(&fields(bytes_of(&v, 2)[0]), 1)[0]);
        let dims = bytes_of(&fields(bytes_of(&tensor_type, 2)[0]), 1)
            .iter()
            .map(|d| {
                let d = fields(d);
                varints_of(&d, 1).first().map_or_else(|| text(bytes_of(&d, 2)[0]).to_string(), u64::to_string)
            })
            .collect();
        (text(bytes_of(&v, 1)[0]).to_string(), dims)
    };
    assert_eq!(shape(bytes_of(&graph, 11)[0]), (INPUT.to_string(), vec!["N".into(), "1".into(), "28".into(), "28".into()]));
    assert_eq!(shape(bytes_of(&graph, 12)[0]), (OUTPUT.to_string(), vec!["N".into(), "10".into()]));

    let classes = fields(bytes_of(&model, 14)[0]);
    assert_eq!(text(bytes_of(&classes, 2)[0]).split(',').nth(9), Some("Ankle boot"), "the class names travel with the model");
}
