//! The IDX format of the MNIST files: a magic number (two zero bytes, a
//! type byte, 0x08 for unsigned bytes, then the number of dimensions), the
//! dimensions as big-endian u32, then the data. Files arrive raw: the
//! browser decompresses the served `.gz` copies itself, and stops once the
//! output passes what the header declares (`declared_len`).

use std::fmt;

pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The most data bytes a file may declare. MNIST's largest file holds
/// 47 MB and EMNIST's 550 MB would not fit a browser tab's memory twice
/// over anyway: a larger header is hostile or broken, and refusing it
/// before allocating is what keeps a 1 KB file from asking for gigabytes.
pub const MAX_DATA_BYTES: usize = 256 << 20;

/// Images as stored: `count` images of rows x cols bytes, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum IdxError {
    Compressed,
    TooShort { len: usize },
    WrongMagic { found: u32, expected: u32 },
    TooLarge { dims: Vec<u32> },
    Truncated { expected: usize, found: usize },
    TrailingBytes { expected: usize, found: usize },
    BadLabel { index: usize, value: u8 },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let kind = |m: u32| match m {
            IMAGES_MAGIC => "IDX images",
            LABELS_MAGIC => "IDX labels",
            _ => "not an IDX file of unsigned bytes",
        };
        match self {
            IdxError::Compressed => write!(f, "the file is gzip-compressed: decompress it first (gunzip)"),
            IdxError::TooShort { len } => write!(f, "too short for an IDX header ({len} bytes)"),
            IdxError::WrongMagic { found, expected } => {
                write!(f, "wrong magic number 0x{found:08x} ({}), expected 0x{expected:08x} ({})", kind(*found), kind(*expected))
            }
            IdxError::TooLarge { dims } => {
                write!(f, "the header declares dimensions {dims:?}, more than the {} MiB of data this reader accepts", MAX_DATA_BYTES >> 20)
            }
            IdxError::Truncated { expected, found } => {
                write!(f, "truncated: the header promises {expected} bytes of data, the file has {found}")
            }
            IdxError::TrailingBytes { expected, found } => {
                write!(f, "the header promises {expected} bytes of data, the file has {found}: not a clean IDX file")
            }
            IdxError::BadLabel { index, value } => write!(f, "label {value} at index {index} is not a digit 0-9"),
        }
    }
}

impl std::error::Error for IdxError {}

/// Parses an IDX image file (magic 0x00000803).
pub fn parse_images(bytes: &[u8]) -> Result<Images, IdxError> {
    let (dims, data) = split(bytes, IMAGES_MAGIC)?;
    Ok(Images { count: dims[0], rows: dims[1], cols: dims[2], pixels: data.to_vec() })
}

/// Parses an IDX label file (magic 0x00000801); every label must be a digit.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let (_, data) = split(bytes, LABELS_MAGIC)?;
    if let Some(index) = data.iter().position(|&v| v > 9) {
        return Err(IdxError::BadLabel { index, value: data[index] });
    }
    Ok(data.to_vec())
}

/// An IDX image file of `count` images of rows x cols bytes.
pub fn write_images(pixels: &[u8], count: usize, rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(pixels.len(), count * rows * cols, "pixels must be (count, rows, cols)");
    let mut out = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [count, rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// An IDX label file.
pub fn write_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = LABELS_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// The whole length (header and data) of the IDX file that starts with
/// `prefix`, once the prefix holds its header: None while it is too short
/// to tell. For a reader that receives a file in pieces and must not take
/// more than the file says it holds.
pub fn declared_len(prefix: &[u8]) -> Result<Option<usize>, IdxError> {
    let Some(&[zero1, zero2, kind, ndims]) = prefix.get(..4) else { return Ok(None) };
    let magic = u32::from_be_bytes([zero1, zero2, kind, ndims]);
    if [zero1, zero2] == [0x1f, 0x8b] {
        return Err(IdxError::Compressed);
    }
    if zero1 != 0 || zero2 != 0 || kind != 0x08 || !(1..=3).contains(&ndims) {
        return Err(IdxError::WrongMagic { found: magic, expected: if ndims == 1 { LABELS_MAGIC } else { IMAGES_MAGIC } });
    }
    let head = 4 + 4 * ndims as usize;
    if prefix.len() < head {
        return Ok(None);
    }
    let dims = dims(prefix, ndims as usize);
    Ok(Some(head + data_len(&dims)?))
}

fn dims(bytes: &[u8], ndims: usize) -> Vec<u32> {
    (0..ndims).map(|d| u32::from_be_bytes([bytes[4 + 4 * d], bytes[5 + 4 * d], bytes[6 + 4 * d], bytes[7 + 4 * d]])).collect()
}

/// The data bytes `dims` declare, if they stay under the ceiling.
fn data_len(dims: &[u32]) -> Result<usize, IdxError> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
        .filter(|&n| n <= MAX_DATA_BYTES)
        .ok_or_else(|| IdxError::TooLarge { dims: dims.to_vec() })
}

/// The dimensions and the data of a file whose magic must be `magic`.
fn split(bytes: &[u8], magic: u32) -> Result<(Vec<usize>, &[u8]), IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(IdxError::Compressed);
    }
    let Some(head) = bytes.get(..4) else { return Err(IdxError::TooShort { len: bytes.len() }) };
    let found = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if found != magic {
        return Err(IdxError::WrongMagic { found, expected: magic });
    }
    let ndims = (magic & 0xff) as usize;
    let head = 4 + 4 * ndims;
    if bytes.len() < head {
        return Err(IdxError::TooShort { len: bytes.len() });
    }
    let dims = dims(bytes, ndims);
    let expected = data_len(&dims)?;
    let found = bytes.len() - head;
    if found < expected {
        return Err(IdxError::Truncated { expected, found });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes { expected, found });
    }
    Ok((dims.iter().map(|&d| d as usize).collect(), &bytes[head..]))
}

/// Encodes images or labels as IDX (for tests and tools).
pub fn encode(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
