//! Where a model errs: its prediction for each image of a set, and the
//! confusion matrix they make (rows: the true digit; columns: the
//! predicted one). The page's table and gallery and `lenet evaluate`
//! read the same counts.

use crate::data::Dataset;
use crate::model::{LeNet5, CLASSES, IMAGE_LEN};
use crate::tensor::argmax;

/// Images a `predict` call runs through the network at once.
const PIECE: usize = 100;

/// The network's answer for one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub label: u8,
    pub predicted: u8,
    /// The probability the network gives its prediction.
    pub probability: f32,
}

/// Appends to `out` the predictions for images `first..end` of `set`.
pub fn predict(model: &mut LeNet5, set: &Dataset, first: usize, end: usize, out: &mut Vec<Prediction>) {
    let mut x = vec![0.0; PIECE * IMAGE_LEN];
    for start in (first..end).step_by(PIECE) {
        let count = PIECE.min(end - start);
        let labels = set.batch(&mut x, start, count);
        let probs = model.forward(&x[..count * IMAGE_LEN]);
        out.extend(probs.chunks_exact(CLASSES).zip(labels).map(|(p, &label)| {
            let predicted = argmax(p);
            Prediction { label, predicted: predicted as u8, probability: p[predicted] }
        }));
    }
}

/// How many images of each true digit were read as each digit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    counts: [[usize; CLASSES]; CLASSES],
}

impl Confusion {
    pub fn of(predictions: &[Prediction]) -> Confusion {
        let mut c = Confusion::default();
        for p in predictions {
            c.counts[usize::from(p.label)][usize::from(p.predicted)] += 1;
        }
        c
    }

    pub fn count(&self, truth: usize, predicted: usize) -> usize {
        self.counts[truth][predicted]
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// The off-diagonal sum: images read as another digit.
    pub fn errors(&self) -> usize {
        self.total() - (0..CLASSES).map(|d| self.counts[d][d]).sum::<usize>()
    }

    /// Errors in % of all images (0 for none).
    pub fn error_percent(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            self.errors() as f64 * 100.0 / total as f64
        }
    }

    /// The indices (into `predictions`) of one cell's images.
    pub fn cell(predictions: &[Prediction], truth: usize, predicted: usize) -> impl Iterator<Item = usize> + '_ {
        predictions
            .iter()
            .enumerate()
            .filter(move |(_, p)| usize::from(p.label) == truth && usize::from(p.predicted) == predicted)
            .map(|(i, _)| i)
    }

    /// The matrix as text: a header of predicted digits, then one row per
    /// true digit.
    pub fn to_text(&self) -> String {
        let mut text = String::from("true\\pred");
        for d in 0..CLASSES {
            text += &format!("{d:>6}");
        }
        for (truth, row) in self.counts.iter().enumerate() {
            text += &format!("\n{truth:>9}");
            for count in row {
                text += &format!("{count:>6}");
            }
        }
        text
    }
}
