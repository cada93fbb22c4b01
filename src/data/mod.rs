//! MNIST: IDX parsing and the tutorial's split (the first 50,000 training
//! images to train, the last 10,000 to validate, the 10,000 test images to
//! test). Images stay `u8`; batches are converted to `f32` as value/256,
//! the scaling of the tutorial's `mnist.pkl.gz`.

pub mod collection;
pub mod idx;
pub mod strokes;

use std::fmt;

use crate::model::IMAGE_LEN;
pub use collection::Collection;
pub use idx::{declared_len, parse_images, parse_labels, write_images, write_labels, IdxError, Images};

/// The four files of the MNIST distribution, in the order `Mnist::from_bytes` takes them.
pub const FILES: [&str; 4] = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

pub const TRAIN_SIZE: usize = 50_000;

/// Images (N,28,28) as bytes, with their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Images start..start+count as f32 (count,784) in `x`, and their labels.
    pub fn batch(&self, x: &mut [f32], start: usize, count: usize) -> &[u8] {
        let pixels = &self.images[start * IMAGE_LEN..(start + count) * IMAGE_LEN];
        for (v, &p) in x[..count * IMAGE_LEN].iter_mut().zip(pixels) {
            *v = f32::from(p) / 256.0;
        }
        &self.labels[start..start + count]
    }

    /// Examples start..end.
    pub fn slice(&self, start: usize, end: usize) -> Dataset {
        Dataset { images: self.images[start * IMAGE_LEN..end * IMAGE_LEN].to_vec(), labels: self.labels[start..end].to_vec() }
    }
}

/// A data error that names the file it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct DataError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for DataError {}

/// One of the two sets a run scores but never trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldOut {
    Validation,
    Test,
}

impl HeldOut {
    pub fn name(self) -> &'static str {
        match self {
            HeldOut::Validation => "validation",
            HeldOut::Test => "test",
        }
    }
}

/// The tutorial's split of a collection in MNIST's format: MNIST itself,
/// Fashion-MNIST, or any four IDX files of 28x28 images and ten labels.
#[derive(Clone, Debug, Default)]
pub struct Mnist {
    pub train: Dataset,
    pub valid: Dataset,
    pub test: Dataset,
}

impl Mnist {
    /// Which collection these are (MNIST, Fashion-MNIST), if one of them.
    pub fn collection(&self) -> Option<Collection> {
        Collection::recognize(&self.test.labels)
    }

    /// Parses the four raw IDX files, given in `FILES` order as
    /// (name, bytes), and splits them as the tutorial does.
    pub fn from_bytes(files: [(&str, &[u8]); 4]) -> Result<Mnist, DataError> {
        let err = |file: &str, message: String| DataError { file: file.to_string(), message };
        let images = |(name, bytes): (&str, &[u8])| -> Result<Vec<u8>, DataError> {
            let im = parse_images(bytes).map_err(|e| err(name, e.to_string()))?;
            if (im.rows, im.cols) != (28, 28) {
                return Err(err(name, format!("images are {}x{}, LeNet-5 reads 28x28", im.rows, im.cols)));
            }
            Ok(im.pixels)
        };
        let labels = |(name, bytes): (&str, &[u8])| parse_labels(bytes).map_err(|e| err(name, e.to_string()));
        let paired = |imgs: Vec<u8>, labels: Vec<u8>, name: &str| {
            if imgs.len() != labels.len() * IMAGE_LEN {
                return Err(err(name, format!("{} labels for {} images", labels.len(), imgs.len() / IMAGE_LEN)));
            }
            Ok(Dataset { images: imgs, labels })
        };
        let full = paired(images(files[0])?, labels(files[1])?, files[1].0)?;
        let test = paired(images(files[2])?, labels(files[3])?, files[3].0)?;
        if full.len() <= TRAIN_SIZE {
            let message = format!("{} training images: the split needs more than {TRAIN_SIZE}", full.len());
            return Err(err(files[0].0, message));
        }
        if test.is_empty() {
            return Err(err(files[2].0, "no test images: the test set must not be empty".into()));
        }
        Ok(Mnist { train: full.slice(0, TRAIN_SIZE), valid: full.slice(TRAIN_SIZE, full.len()), test })
    }

    /// Why these sets cannot train and be scored, if they cannot: an
    /// empty set, or images and labels that do not pair up.
    pub fn check(&self) -> Result<(), String> {
        for (name, set) in [("training", &self.train), ("validation", &self.valid), ("test", &self.test)] {
            if set.is_empty() {
                return Err(format!("the {name} set is empty"));
            }
            if set.images.len() != set.labels.len() * IMAGE_LEN {
                return Err(format!("the {name} set has {} labels for {} bytes of images", set.labels.len(), set.images.len()));
            }
        }
        Ok(())
    }

    /// The validation or the test set.
    pub fn held_out(&self, set: HeldOut) -> &Dataset {
        match set {
            HeldOut::Validation => &self.valid,
            HeldOut::Test => &self.test,
        }
    }

    /// Reads the four files from `dir`, each raw or gzipped (`NAME.gz`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<Mnist, DataError> {
        let contents = FILES.map(|name| read_idx(dir, name));
        let mut read = Vec::with_capacity(4);
        for c in contents {
            read.push(c?);
        }
        let f = |i: usize| (read[i].0.as_str(), read[i].1.as_slice());
        Mnist::from_bytes([f(0), f(1), f(2), f(3)])
    }
}

/// The IDX file `name` in `dir`, raw or else gzipped (`name.gz`), as
/// (path, bytes); never more than an IDX file this reader accepts holds,
/// however much a compressed file would expand to.
#[cfg(not(target_arch = "wasm32"))]
fn read_idx(dir: &std::path::Path, name: &str) -> Result<(String, Vec<u8>), DataError> {
    use std::io::Read;
    let limit = (idx::MAX_DATA_BYTES + 16) as u64;
    let (raw, gz) = (dir.join(name), dir.join(format!("{name}.gz")));
    let path = if raw.exists() || !gz.exists() { raw } else { gz };
    let file = path.display().to_string();
    let error = |message: String| DataError { file: file.clone(), message };
    let opened = std::fs::File::open(&path)
        .map_err(|e| error(format!("{e} (nor is there {name}.gz; `cargo xtask fetch-data` downloads MNIST and Fashion-MNIST)")))?;
    let mut bytes = Vec::new();
    let read = if path.extension().is_some_and(|x| x == "gz") {
        flate2::read::GzDecoder::new(opened).take(limit + 1).read_to_end(&mut bytes)
    } else {
        opened.take(limit + 1).read_to_end(&mut bytes)
    };
    read.map_err(|e| error(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(error(format!("more than {limit} bytes, more than an IDX file this reader accepts holds")));
    }
    Ok((file, bytes))
}

/// The files of a set of extra digits, as the page's *Download my digits*
/// writes them.
pub const EXTRA_FILES: [&str; 2] = ["personal-images-idx3-ubyte", "personal-labels-idx1-ubyte"];

/// Extra training digits from `dir` (`EXTRA_FILES`): 28x28 images, one
/// digit label each.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_extra(dir: &std::path::Path) -> Result<Dataset, DataError> {
    let read = |name: &str| -> Result<(String, Vec<u8>), DataError> {
        let path = dir.join(name);
        let file = path.display().to_string();
        let len = std::fs::metadata(&path).map_err(|e| DataError { file: file.clone(), message: e.to_string() })?.len();
        if len > (idx::MAX_DATA_BYTES + 16) as u64 {
            return Err(DataError { file, message: format!("{len} bytes, more than an IDX file this reader accepts holds") });
        }
        let bytes = std::fs::read(&path).map_err(|e| DataError { file: file.clone(), message: e.to_string() })?;
        Ok((file, bytes))
    };
    let ((image_file, images), (label_file, labels)) = (read(EXTRA_FILES[0])?, read(EXTRA_FILES[1])?);
    digits_from_idx(&images, &labels).map_err(|(images, message)| DataError { file: if images { image_file } else { label_file }, message })
}

/// 28x28 digits from an IDX pair (images, labels), or what is wrong, and
/// whether with the images (true) or the labels (false): what `lenet
/// train --extra` and the page's *Add digits* both read.
pub fn digits_from_idx(images: &[u8], labels: &[u8]) -> Result<Dataset, (bool, String)> {
    let images = parse_images(images).map_err(|e| (true, e.to_string()))?;
    if (images.rows, images.cols) != (crate::model::IMAGE_SIDE, crate::model::IMAGE_SIDE) {
        return Err((true, format!("images of {}x{}, where MNIST's are 28x28", images.rows, images.cols)));
    }
    let labels = parse_labels(labels).map_err(|e| (false, e.to_string()))?;
    if labels.len() != images.count {
        return Err((false, format!("{} labels for {} images", labels.len(), images.count)));
    }
    Ok(Dataset { images: images.pixels, labels })
}
