//! A run's whole state between two minibatches, as a checkpoint file
//! holds it (`crate::checkpoint`), and the one check every reader of a
//! run makes before it keeps or resumes one.

use super::event::{StopReason, Validation};
use super::protocol::Protocol;
use crate::data::Collection;

/// Everything a run needs to continue exactly where it was: what a
/// checkpoint file holds (see `crate::checkpoint`). Taken between
/// minibatches, where nothing is half done.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub protocol: Protocol,
    pub params: Vec<f32>,
    /// The momentum's running sum (empty for plain SGD).
    pub velocity: Vec<f32>,
    pub best_params: Vec<f32>,
    pub best_validation: f64,
    pub best_iter: usize,
    pub test_score: f64,
    pub epoch: usize,
    pub minibatch: usize,
    pub iterations: usize,
    pub patience: usize,
    /// Some once the run is over.
    pub finished: Option<StopReason>,
    pub history: Vec<Validation>,
    /// What it trains on: MNIST, Fashion-MNIST, or other data (None).
    pub dataset: Option<Collection>,
}

impl Snapshot {
    /// Whether this run can go on, training on `train_len` images: what
    /// every reader of a run (the command line's `--resume`, the page's
    /// file input and stored run, the worker's Resume) asks before it
    /// keeps or uses one. The protocol is checked as settings are; then the
    /// parameters' lengths and values, the counters against the protocol
    /// (in checked arithmetic, so that no count wraps), the scores and
    /// the history, which is bounded by what such a run can have.
    pub fn check(&self, train_len: usize) -> Result<(), String> {
        let p = &self.protocol;
        p.check(train_len)?;
        let n = crate::model::param_count();
        let momentum = if p.momentum > 0.0 { n } else { 0 };
        for (name, values, len) in [("params", &self.params, n), ("best", &self.best_params, n), ("velocity", &self.velocity, momentum)] {
            if values.len() != len {
                return Err(format!("its {name} has {} values, LeNet-5 and its protocol need {len}", values.len()));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(format!("its {name} holds a non-finite value"));
            }
        }
        let batches = train_len / p.batch_size;
        // Patience may run out on an epoch's last minibatch, before the
        // epoch rolls over.
        let last_minibatch = if self.finished.is_some() { batches } else { batches - 1 };
        let in_epoch = (1..=p.epochs).contains(&self.epoch) && self.minibatch <= last_minibatch;
        // A run in progress stands at a minibatch of its epoch; a finished
        // one may have stopped anywhere (patience) or after its last epoch.
        let counted = match self.finished {
            None => {
                let before = self.epoch.checked_sub(1).and_then(|done| done.checked_mul(batches));
                before.and_then(|m| m.checked_add(self.minibatch)) == Some(self.iterations)
            }
            Some(_) => self.epoch.checked_mul(batches).is_some_and(|m| self.iterations <= m),
        };
        if !(in_epoch && counted && self.best_iter <= self.iterations && self.patience >= p.patience) {
            return Err(format!(
                "its counters do not fit its protocol: epoch {} of {}, minibatch {} of {batches}, iterations {}, best at {}, patience {}",
                self.epoch, p.epochs, self.minibatch, self.iterations, self.best_iter, self.patience
            ));
        }
        if self.patience > u32::MAX as usize {
            return Err(format!("its patience {} is more than a run can count", self.patience));
        }
        let score = |v: f64| (0.0..=1.0).contains(&v);
        if !score(self.test_score) {
            return Err(format!("its test score {} is not an error rate", self.test_score));
        }
        // Before its first validation, a run's best is infinite.
        if !(score(self.best_validation) || (self.best_validation == f64::INFINITY && self.history.is_empty())) {
            return Err(format!("its best validation error {} is not an error rate", self.best_validation));
        }
        let frequency = batches.min(p.patience / 2).max(1);
        let most = p.epochs.saturating_mul(batches.div_ceil(frequency));
        if self.history.len() > most {
            return Err(format!("its history holds {} validations, more than its protocol's {most}", self.history.len()));
        }
        let mut last_iter = None;
        for v in &self.history {
            let ordered = last_iter.is_none_or(|last| v.iter > last) && v.iter < self.iterations;
            if !(ordered && (1..=self.epoch).contains(&v.epoch) && score(v.error) && v.test.is_none_or(score)) {
                return Err(format!(
                    "its history has a validation that does not fit the run: epoch {}, iteration {}, error {}",
                    v.epoch, v.iter, v.error
                ));
            }
            if v.error < self.best_validation {
                return Err(format!("its history has a validation error {} below its best {}", v.error, self.best_validation));
            }
            last_iter = Some(v.iter);
        }
        Ok(())
    }
}
