//! What the trainer reports: each step's `Event`, the `Validation`s a run
//! keeps in its history, and why a run ended.

use crate::data::HeldOut;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// All epochs ran.
    Epochs,
    /// Patience ran out (early stopping).
    Patience,
    /// The cost became NaN or infinite; the best model so far is kept.
    Diverged,
}

impl StopReason {
    /// The reason's one-word name, as messages carry it.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Epochs => "epochs",
            StopReason::Patience => "patience",
            StopReason::Diverged => "diverged",
        }
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Part of a minibatch's gradient: `done` of `total` images.
    Accumulated { done: usize, total: usize },
    /// One SGD step on minibatch `minibatch` (0-based) of `epoch` (1-based).
    Trained { epoch: usize, minibatch: usize, iter: usize, cost: f32 },
    /// Part of a validation or test pass: `done` of `total` examples.
    Evaluating { set: HeldOut, done: usize, total: usize },
    /// A validation pass ended after `minibatch` minibatches (1-based, as the tutorial prints).
    Validated { epoch: usize, minibatch: usize, error: f64, best: bool },
    /// The new best model's test error.
    Tested { epoch: usize, minibatch: usize, error: f64 },
    /// Training is over; further steps return this again.
    Finished { reason: StopReason, best_validation: f64, best_iter: usize, test_score: f64 },
}

/// One validation pass, and the test score when it found a new best.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Validation {
    pub epoch: usize,
    /// The tutorial's `iter` of the minibatch it followed (0-based).
    pub iter: usize,
    pub error: f64,
    pub test: Option<f64>,
}
