//! The IDX format of the MNIST files: a magic number (two zero bytes, a
//! type byte, 0x08 for unsigned bytes, then the number of dimensions), the
//! dimensions as big-endian u32, then the data. Raw or gzip-compressed.

use std::fmt;

use super::gzip;

pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

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
    Gzip(String),
    TooShort { len: usize },
    WrongMagic { found: u32, expected: u32 },
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
            IdxError::Gzip(e) => write!(f, "cannot decompress: {e}"),
            IdxError::TooShort { len } => write!(f, "too short for an IDX header ({len} bytes)"),
            IdxError::WrongMagic { found, expected } => write!(
                f,
                "wrong magic number 0x{found:08x} ({}), expected 0x{expected:08x} ({})",
                kind(*found),
                kind(*expected)
            ),
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

/// Parses an IDX image file (magic 0x00000803), raw or gzip-compressed.
pub fn parse_images(bytes: &[u8]) -> Result<Images, IdxError> {
    let bytes = decompressed(bytes)?;
    let (dims, data) = header(&bytes, IMAGES_MAGIC, 3)?;
    Ok(Images { count: dims[0], rows: dims[1], cols: dims[2], pixels: data.to_vec() })
}

/// Parses an IDX label file (magic 0x00000801), raw or gzip-compressed;
/// every label must be a digit.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let bytes = decompressed(bytes)?;
    let (_, data) = header(&bytes, LABELS_MAGIC, 1)?;
    if let Some(index) = data.iter().position(|&v| v > 9) {
        return Err(IdxError::BadLabel { index, value: data[index] });
    }
    Ok(data.to_vec())
}

fn decompressed(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, IdxError> {
    if gzip::is_gzip(bytes) {
        gzip::gunzip(bytes).map(Into::into).map_err(IdxError::Gzip)
    } else {
        Ok(bytes.into())
    }
}

/// The dimensions and the data of a file whose magic must be `magic`.
fn header(bytes: &[u8], magic: u32, ndims: usize) -> Result<(Vec<usize>, &[u8]), IdxError> {
    let head = 4 + 4 * ndims;
    if bytes.len() < 4 {
        return Err(IdxError::TooShort { len: bytes.len() });
    }
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let found = be(0);
    if found != magic {
        return Err(IdxError::WrongMagic { found, expected: magic });
    }
    if bytes.len() < head {
        return Err(IdxError::TooShort { len: bytes.len() });
    }
    let dims: Vec<usize> = (0..ndims).map(|d| be(4 + 4 * d) as usize).collect();
    let expected = dims.iter().product::<usize>();
    let found = bytes.len() - head;
    if found < expected {
        return Err(IdxError::Truncated { expected, found });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes { expected, found });
    }
    Ok((dims, &bytes[head..]))
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
