//! IDX parsing: valid files raw and gzip-compressed, and the message a
//! user sees for each kind of bad file.
#![cfg(not(target_arch = "wasm32"))]

use lenet::data::idx::{encode, parse_images, parse_labels, IdxError, IMAGES_MAGIC, LABELS_MAGIC};
use lenet::data::Mnist;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("gzip runs");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    child.wait_with_output().unwrap().stdout
}

fn images(n: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 784).map(|i| (i * 7 % 256) as u8).collect();
    encode(IMAGES_MAGIC, &[n, 28, 28], &pixels)
}

#[test]
fn parses_images_and_labels_raw_and_gzipped() {
    let file = images(3);
    let parsed = parse_images(&file).unwrap();
    assert_eq!((parsed.count, parsed.rows, parsed.cols), (3, 28, 28));
    assert_eq!(parsed.pixels, file[16..]);
    assert_eq!(parse_images(&gzip(&file)).unwrap(), parsed);
    let labels = encode(LABELS_MAGIC, &[4], &[0, 9, 3, 3]);
    assert_eq!(parse_labels(&labels).unwrap(), [0, 9, 3, 3]);
    assert_eq!(parse_labels(&gzip(&labels)).unwrap(), [0, 9, 3, 3]);
}

#[test]
fn bad_files_get_clear_errors() {
    let labels = encode(LABELS_MAGIC, &[2], &[1, 2]);
    let err = parse_images(&labels).unwrap_err();
    assert_eq!(err, IdxError::WrongMagic { found: LABELS_MAGIC, expected: IMAGES_MAGIC });
    assert_eq!(err.to_string(), "wrong magic number 0x00000801 (IDX labels), expected 0x00000803 (IDX images)");

    let file = images(2);
    let err = parse_images(&file[..file.len() - 5]).unwrap_err();
    assert_eq!(err.to_string(), "truncated: the header promises 1568 bytes of data, the file has 1563");
    assert!(matches!(parse_images(&[file.clone(), vec![0]].concat()), Err(IdxError::TrailingBytes { .. })));
    assert_eq!(parse_images(&[0, 0]).unwrap_err().to_string(), "too short for an IDX header (2 bytes)");

    let err = parse_labels(&encode(LABELS_MAGIC, &[3], &[1, 12, 3])).unwrap_err();
    assert_eq!(err.to_string(), "label 12 at index 1 is not a digit 0-9");

    let mut gz = gzip(&file);
    let n = gz.len();
    gz[n - 12] ^= 0xff; // inside the compressed stream, or its CRC
    assert!(matches!(parse_images(&gz), Err(IdxError::Gzip(_))), "a damaged gzip file is reported as such");
    assert!(matches!(parse_images(&gz[..n / 2]), Err(IdxError::Gzip(_))));
}

#[test]
fn mnist_split_names_the_file_at_fault() {
    let (train, test) = (images(50_010), images(4));
    let train_labels = encode(LABELS_MAGIC, &[50_010], &vec![1; 50_010]);
    let short_labels = encode(LABELS_MAGIC, &[3], &[1, 2, 3]);
    let err = Mnist::from_bytes([("tr-img", &train), ("tr-lab", &train_labels), ("te-img", &test), ("te-lab", &short_labels)])
        .unwrap_err();
    assert_eq!(err.to_string(), "te-lab: 3 labels for 4 images");
    let test_labels = encode(LABELS_MAGIC, &[4], &[1, 2, 3, 4]);
    let mnist =
        Mnist::from_bytes([("a", &train), ("b", &train_labels), ("c", &test), ("d", &test_labels)]).unwrap();
    assert_eq!((mnist.train.len(), mnist.valid.len(), mnist.test.len()), (50_000, 10, 4));
    assert_eq!(mnist.valid.images[..], train[16 + 50_000 * 784..], "validation is the end of the training file");
    let err = Mnist::from_bytes([("a", &test), ("b", &test_labels), ("c", &test), ("d", &test_labels)]).unwrap_err();
    assert!(err.to_string().starts_with("a: 4 training images"), "{err}");
}
