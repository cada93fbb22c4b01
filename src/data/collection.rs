//! Which ten-class collection of 28x28 grey images: MNIST's handwritten
//! digits, or Zalando's Fashion-MNIST, made as its drop-in replacement
//! (the same four IDX files, the same sizes, ten classes of clothing).

use crate::preprocess::Framing;

/// One of the two collections; MNIST is the tutorial's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Collection {
    #[default]
    Mnist,
    Fashion,
}

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const CLOTHES: [&str; 10] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

impl Collection {
    pub const ALL: [Collection; 2] = [Collection::Mnist, Collection::Fashion];

    /// The name in settings, URLs, files and checkpoints: `mnist`, `fashion`.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Mnist => "mnist",
            Collection::Fashion => "fashion",
        }
    }

    pub fn parse(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }

    /// As people write it.
    pub fn title(self) -> &'static str {
        match self {
            Collection::Mnist => "MNIST",
            Collection::Fashion => "Fashion-MNIST",
        }
    }

    /// What each label means, by label.
    pub fn classes(self) -> &'static [&'static str; 10] {
        match self {
            Collection::Mnist => &DIGITS,
            Collection::Fashion => &CLOTHES,
        }
    }

    /// The collection whose test set has exactly these labels, if any:
    /// what a run trained on, known from the data alone (a run remembers
    /// it, and does not go on with another).
    pub fn recognize(test_labels: &[u8]) -> Option<Collection> {
        let fingerprint = fnv1a(test_labels);
        Collection::ALL.into_iter().find(|c| c.test_labels_fingerprint() == fingerprint)
    }

    /// FNV-1a of the 10,000 labels of the official test set.
    fn test_labels_fingerprint(self) -> u64 {
        match self {
            Collection::Mnist => 0xfca1_a11d_31bd_96bb,
            Collection::Fashion => 0x25bd_f812_3f06_fac3,
        }
    }

    /// How its images are framed, for a drawing to match them.
    pub fn framing(self) -> Framing {
        match self {
            Collection::Mnist => Framing::Digit,
            Collection::Fashion => Framing::Item,
        }
    }

    /// Where `cargo xtask fetch-data` puts its four files.
    pub fn dir(self) -> &'static str {
        match self {
            Collection::Mnist => "data/mnist",
            Collection::Fashion => "data/fashion-mnist",
        }
    }
}

/// The 64-bit FNV-1a hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
