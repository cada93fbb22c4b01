//! IDX parsing: valid files, and the message a user sees for each kind of
//! bad or hostile file.
#![cfg(not(target_arch = "wasm32"))]

use lenet::data::idx::{declared_len, encode, parse_images, parse_labels, IdxError, IMAGES_MAGIC, LABELS_MAGIC, MAX_DATA_BYTES};
use lenet::data::Mnist;

fn images(n: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 784).map(|i| (i * 7 % 256) as u8).collect();
    encode(IMAGES_MAGIC, &[n, 28, 28], &pixels)
}

#[test]
fn parses_images_and_labels() {
    let file = images(3);
    let parsed = parse_images(&file).unwrap();
    assert_eq!((parsed.count, parsed.rows, parsed.cols), (3, 28, 28));
    assert_eq!(parsed.pixels, file[16..]);
    let labels = encode(LABELS_MAGIC, &[4], &[0, 9, 3, 3]);
    assert_eq!(parse_labels(&labels).unwrap(), [0, 9, 3, 3]);
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
    assert_eq!(parse_images(&file[..10]).unwrap_err().to_string(), "too short for an IDX header (10 bytes)");

    let err = parse_labels(&encode(LABELS_MAGIC, &[3], &[1, 12, 3])).unwrap_err();
    assert_eq!(err.to_string(), "label 12 at index 1 is not a digit 0-9");

    let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0];
    assert_eq!(parse_images(&gz).unwrap_err().to_string(), "the file is gzip-compressed: decompress it first (gunzip)");
}

#[test]
fn hostile_headers_are_refused_before_anything_is_allocated() {
    // 65536^3 wraps a 32-bit product to 0 and overflows a 48-bit one:
    // either way the header must not be believed.
    let wraps = encode(IMAGES_MAGIC, &[65_536, 65_536, 65_536], &[]);
    let err = parse_images(&wraps).unwrap_err();
    assert_eq!(err, IdxError::TooLarge { dims: vec![65_536, 65_536, 65_536] });
    assert_eq!(err.to_string(), "the header declares dimensions [65536, 65536, 65536], more than the 256 MiB of data this reader accepts");
    let past_usize = encode(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    assert!(matches!(parse_images(&past_usize), Err(IdxError::TooLarge { .. })));
    let big = encode(LABELS_MAGIC, &[MAX_DATA_BYTES as u32 + 1], &[]);
    assert!(matches!(parse_labels(&big), Err(IdxError::TooLarge { .. })));
    assert!(matches!(declared_len(&wraps), Err(IdxError::TooLarge { .. })));
}

#[test]
fn the_declared_length_is_known_from_the_header_alone() {
    let file = images(2);
    assert_eq!(declared_len(&file[..3]), Ok(None), "too short to tell");
    assert_eq!(declared_len(&file[..15]), Ok(None));
    assert_eq!(declared_len(&file[..16]), Ok(Some(file.len())));
    let labels = encode(LABELS_MAGIC, &[7], &[1; 7]);
    assert_eq!(declared_len(&labels[..8]), Ok(Some(15)));
    assert_eq!(declared_len(&[0x1f, 0x8b, 8, 0]), Err(IdxError::Compressed));
    assert!(matches!(declared_len(b"<!DOCTYPE html>"), Err(IdxError::WrongMagic { .. })), "an HTML page is not IDX");
}

#[test]
fn mnist_split_names_the_file_at_fault() {
    let (train, test) = (images(50_010), images(4));
    let train_labels = encode(LABELS_MAGIC, &[50_010], &vec![1; 50_010]);
    let short_labels = encode(LABELS_MAGIC, &[3], &[1, 2, 3]);
    let err = Mnist::from_bytes([("tr-img", &train), ("tr-lab", &train_labels), ("te-img", &test), ("te-lab", &short_labels)]).unwrap_err();
    assert_eq!(err.to_string(), "te-lab: 3 labels for 4 images");
    let test_labels = encode(LABELS_MAGIC, &[4], &[1, 2, 3, 4]);
    let mnist = Mnist::from_bytes([("a", &train), ("b", &train_labels), ("c", &test), ("d", &test_labels)]).unwrap();
    assert_eq!((mnist.train.len(), mnist.valid.len(), mnist.test.len()), (50_000, 10, 4));
    assert_eq!(mnist.valid.images[..], train[16 + 50_000 * 784..], "validation is the end of the training file");
    let err = Mnist::from_bytes([("a", &test), ("b", &test_labels), ("c", &test), ("d", &test_labels)]).unwrap_err();
    assert!(err.to_string().starts_with("a: 4 training images"), "{err}");
    let (no_test, no_labels) = (images(0), encode(LABELS_MAGIC, &[0], &[]));
    let err = Mnist::from_bytes([("a", &train), ("b", &train_labels), ("c", &no_test), ("d", &no_labels)]).unwrap_err();
    assert_eq!(err.to_string(), "c: no test images: the test set must not be empty");
}

#[test]
fn extra_digits_come_in_as_the_page_writes_them_and_bad_ones_are_named() {
    use lenet::data::{load_extra, write_images, write_labels, EXTRA_FILES};
    let dir = std::env::temp_dir().join(format!("lenet-extra-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |images: Vec<u8>, labels: Vec<u8>| {
        std::fs::write(dir.join(EXTRA_FILES[0]), images).unwrap();
        std::fs::write(dir.join(EXTRA_FILES[1]), labels).unwrap();
    };
    let pixels: Vec<u8> = (0..3 * 784).map(|i| (i % 251) as u8).collect();
    write(write_images(&pixels, 3, 28, 28), write_labels(&[4, 0, 9]));
    let extra = load_extra(&dir).unwrap();
    assert_eq!((extra.images, extra.labels), (pixels.clone(), vec![4, 0, 9]));
    write(write_images(&pixels, 3, 28, 28), write_labels(&[4, 0, 10]));
    assert!(load_extra(&dir).unwrap_err().to_string().contains("10"), "a label past 9 is named");
    write(write_images(&pixels, 3, 28, 28), write_labels(&[4, 0]));
    assert!(load_extra(&dir).unwrap_err().to_string().contains("2 labels for 3 images"));
    write(write_images(&pixels[..2 * 784], 1, 28, 56), write_labels(&[4]));
    assert!(load_extra(&dir).unwrap_err().to_string().contains("28x56"));
    std::fs::remove_file(dir.join(EXTRA_FILES[1])).unwrap();
    assert!(load_extra(&dir).unwrap_err().to_string().contains(EXTRA_FILES[1]), "a missing file is named");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gzipped_folders_read_and_bad_or_hostile_gzip_files_are_named() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("lenet-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gzip = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let labels = |n: u32| encode(LABELS_MAGIC, &[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    // Raw training files, gzipped test files: each read as it is.
    std::fs::write(dir.join("train-images-idx3-ubyte"), images(50_010)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(50_010)).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gzip(&images(7))).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gzip(&labels(7))).unwrap();
    let m = Mnist::load_dir(&dir).unwrap();
    assert_eq!((m.train.len(), m.valid.len(), m.test.len()), (50_000, 10, 7));
    assert_eq!(m.test.labels, [0, 1, 2, 3, 4, 5, 6]);

    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), b"not gzip at all").unwrap();
    let err = Mnist::load_dir(&dir).unwrap_err();
    assert!(err.file.ends_with("t10k-labels-idx1-ubyte.gz"), "{err}");
    // A small file that would expand past any IDX file: cut short, refused.
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gzip(&vec![0u8; MAX_DATA_BYTES + 100])).unwrap();
    let err = Mnist::load_dir(&dir).unwrap_err();
    assert!(err.message.contains("more than"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
