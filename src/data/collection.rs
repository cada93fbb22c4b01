//! Which ten-class collection of 28x28 grey images: MNIST's handwritten
//! digits, or Zalando's Fashion-MNIST, made as its drop-in replacement
//! (the same four IDX files, the same sizes, ten classes of clothing).

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

    /// Where `cargo xtask fetch-data` puts its four files.
    pub fn dir(self) -> &'static str {
        match self {
            Collection::Mnist => "data/mnist",
            Collection::Fashion => "data/fashion-mnist",
        }
    }
}
