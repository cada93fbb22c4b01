//! The tutorial's training protocol (`convolutional_mlp.py`'s
//! `evaluate_lenet5`) as a state machine. It never works a chunk itself:
//! a driver asks it for the next step's `plan`, works the chunks wherever
//! it likes (`plan::work`), hands the outcomes to `add` in chunk order and
//! ends the step with `finish`. Pausing is not asking for the next plan.
//!
//! Early stopping as in the tutorial: validate every
//! `min(n_train_batches, patience / 2)` minibatches (once per epoch with
//! its numbers); a validation error below `best * improvement_threshold`
//! raises patience to `max(patience, iter * patience_increase)`; a new best
//! is scored on the test set; training ends when `patience <= iter` or
//! after `epochs` epochs.

use std::sync::Arc;

use super::event::{Event, StopReason, Validation};
use super::plan::{Outcome, Plan, Task, CHUNK_IMAGES};
use super::protocol::{Protocol, Schedule};
use super::snapshot::Snapshot;
use super::sum::GradTree;
use crate::augment::Distortion;
use crate::data::HeldOut;
use crate::data::{Collection, Mnist};
use crate::model::LeNet5;
use crate::sgd::{momentum_step, sgd_step};

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// `done` images of the current minibatch are in `grad_sum`, their
    /// summed losses in `loss_sum`.
    Train {
        done: usize,
        loss_sum: f64,
    },
    Evaluate {
        set: HeldOut,
        done: usize,
        errors: usize,
    },
    Finished(StopReason),
}

pub struct Trainer {
    pub protocol: Protocol,
    pub model: LeNet5,
    /// Shared, so that the data can be read (a worker's evaluation, say)
    /// while a run holds it.
    pub data: Arc<Mnist>,
    /// Parameters of the model with the best validation error so far.
    pub best_params: Vec<f32>,
    pub best_validation: f64,
    pub best_iter: usize,
    pub test_score: f64,
    epoch: usize,
    minibatch: usize,
    iterations: usize,
    patience: usize,
    phase: Phase,
    /// dL/dparams of the minibatch, summed over its chunks.
    grad_sum: GradTree,
    /// The momentum's running sum (empty for plain SGD).
    velocity: Vec<f32>,
    /// Workers (threads or Web Workers) a step's chunks go to at once.
    workers: usize,
    /// Chunks per step for each of them.
    chunks_per_worker: usize,
    /// Every validation pass so far, with the test score of each new best.
    pub history: Vec<Validation>,
}

impl Trainer {
    /// A new run, or why `protocol` cannot train on `data`.
    pub fn new(protocol: Protocol, data: impl Into<Arc<Mnist>>) -> Result<Trainer, String> {
        let data = data.into();
        protocol.check(data.train.len())?;
        data.check()?;
        let model = LeNet5::new(protocol.seed);
        let mut trainer = Trainer {
            history: Vec::new(),
            best_params: model.params.clone(),
            grad_sum: GradTree::default(),
            velocity: if protocol.momentum > 0.0 { vec![0.0; model.params.len()] } else { Vec::new() },
            model,
            workers: 1,
            chunks_per_worker: 1,
            patience: protocol.patience,
            protocol,
            data,
            best_validation: f64::INFINITY,
            best_iter: 0,
            test_score: 0.0,
            epoch: 1,
            minibatch: 0,
            iterations: 0,
            phase: Phase::Train { done: 0, loss_sum: 0.0 },
        };
        // Room for every validation of the run, so that keeping the
        // history never allocates during training.
        let per_epoch = trainer.train_batches().div_ceil(trainer.validation_frequency());
        trainer.history.reserve(trainer.protocol.epochs.saturating_mul(per_epoch).min(1 << 16));
        Ok(trainer)
    }

    /// Plans steps of up to `chunks_per_worker` chunks for each of `workers`. More
    /// than one sends a Web Worker several chunks at once, so that what a
    /// message costs is paid once for all of them. Neither changes the
    /// weights for batches over `CHUNK_IMAGES`; smaller batches are shared
    /// out evenly, which changes only the order of a sum.
    pub fn share_with(&mut self, workers: usize, chunks_per_worker: usize) {
        self.workers = workers.max(1);
        self.chunks_per_worker = chunks_per_worker.max(1);
    }

    /// The learning rate of the minibatch about to be trained: the
    /// protocol's, decayed once per epoch done, or along its cosine.
    pub fn learning_rate(&self) -> f32 {
        let p = &self.protocol;
        match p.schedule {
            Schedule::Step => p.learning_rate * p.lr_decay.powi(self.epoch as i32 - 1),
            Schedule::Cosine => {
                // The minibatch about to be trained, of all the run's.
                let done = self.iterations as f64 / (p.epochs * self.train_batches()) as f64;
                (f64::from(p.learning_rate) * 0.5 * (1.0 + (std::f64::consts::PI * done.min(1.0)).cos())) as f32
            }
        }
    }

    pub fn train_batches(&self) -> usize {
        self.data.train.len() / self.protocol.batch_size
    }

    pub fn validation_frequency(&self) -> usize {
        self.train_batches().min(self.protocol.patience / 2).max(1)
    }

    /// Minibatches trained so far (the tutorial's `iter + 1`).
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Minibatches done in the current epoch.
    pub fn minibatch(&self) -> usize {
        self.minibatch
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished(_))
    }

    /// The chunks of the next step, or None when the run is over. Each
    /// chunk can be worked anywhere (`plan::work`) on a model holding
    /// `self.model.params`; `add` then takes the outcomes in chunk order,
    /// and `finish` ends the step.
    pub fn plan(&self) -> Option<Plan> {
        let span = CHUNK_IMAGES * self.workers * self.chunks_per_worker;
        match self.phase {
            Phase::Train { done, .. } => {
                let (b, chunk_images) = (self.protocol.batch_size, self.chunk_images());
                let (first, batch_end) = (self.minibatch * b + done, (self.minibatch + 1) * b);
                Some(Plan {
                    task: Task::Train,
                    first,
                    end: batch_end.min(first + chunk_images * self.workers * self.chunks_per_worker),
                    chunk_images,
                    batch: b,
                    distortion: self.distortion(),
                })
            }
            Phase::Evaluate { set, done, .. } => {
                let total = self.data.held_out(set).len();
                Some(Plan::evaluation(set, done, total.min(done + span)))
            }
            Phase::Finished(_) => None,
        }
    }

    /// How this epoch's training images are distorted, if they are.
    fn distortion(&self) -> Option<Distortion> {
        let p = &self.protocol;
        p.augment.is_on().then_some(Distortion { augment: p.augment, seed: p.seed, epoch: self.epoch })
    }

    /// Images in a training chunk. A batch that fits in one chunk is
    /// shared out evenly; bigger ones go in chunks of `CHUNK_IMAGES`, so
    /// that the sums, and the weights, do not depend on the workers.
    fn chunk_images(&self) -> usize {
        let b = self.protocol.batch_size;
        if b <= CHUNK_IMAGES {
            b.div_ceil(self.workers)
        } else {
            CHUNK_IMAGES
        }
    }

    /// Chunks in a minibatch: the leaves of its gradient's tree.
    fn batch_chunks(&self) -> usize {
        self.protocol.batch_size.div_ceil(self.chunk_images())
    }

    /// Takes the outcome of the plan's next chunk (in chunk order): for a
    /// training chunk, its gradient is `grads`, or the trainer's own
    /// model's if None.
    pub fn add(&mut self, outcome: Outcome, grads: Option<&[f32]>) {
        let chunks = self.batch_chunks();
        match (&mut self.phase, outcome) {
            (Phase::Train { done, loss_sum }, Outcome::Trained { loss, count }) => {
                if *done == 0 {
                    self.grad_sum.start(chunks);
                }
                let (next, batch) = (self.grad_sum.next_chunk(), self.protocol.batch_size);
                self.grad_sum.push_chunk(next, grads.unwrap_or(&self.model.grads), count, batch);
                *done += count;
                *loss_sum += f64::from(loss) * count as f64;
            }
            (Phase::Evaluate { done, errors, .. }, Outcome::Counted { errors: e, count }) => {
                *done += count;
                *errors += e;
            }
            (phase, outcome) => {
                panic!("{outcome:?} does not fit {phase:?}: add the outcomes of `plan`'s chunks")
            }
        }
    }

    /// Takes the outcomes of the plan's next training chunks (in chunk
    /// order), worked and summed together elsewhere (see `GradTree`): their
    /// gradient comes as the sums of `GradTree::cover`, which `fill(k, sum)`
    /// writes, the k-th into a buffer of one float per parameter.
    #[track_caller]
    pub fn add_summed(&mut self, outcomes: &[Outcome], mut fill: impl FnMut(usize, &mut [f32])) {
        let chunks = self.batch_chunks();
        let Phase::Train { done, loss_sum } = &mut self.phase else {
            panic!("summed outcomes fit training chunks only, not {:?}", self.phase)
        };
        if *done == 0 {
            self.grad_sum.start(chunks);
        }
        let first = self.grad_sum.next_chunk();
        let cover = GradTree::cover(self.grad_sum.chunks(), first..first + outcomes.len());
        for (k, range) in cover.into_iter().enumerate() {
            self.grad_sum.push_node(range, self.model.params.len(), |sum| fill(k, sum));
        }
        for outcome in outcomes {
            let Outcome::Trained { loss, count } = *outcome else { panic!("{outcome:?} among summed training outcomes") };
            *done += count;
            *loss_sum += f64::from(loss) * count as f64;
        }
    }

    /// Ends the step `add` was fed for: the SGD update once a minibatch is
    /// whole, the verdict once a pass is; `Finished` again once the run is.
    pub fn finish(&mut self) -> Event {
        match self.phase {
            Phase::Train { done, loss_sum } => self.finish_train(done, loss_sum),
            Phase::Evaluate { set, done, errors } => self.finish_evaluation(set, done, errors),
            Phase::Finished(reason) => self.finished(reason),
        }
    }

    fn finish_train(&mut self, done: usize, loss_sum: f64) -> Event {
        let b = self.protocol.batch_size;
        if done < b {
            return Event::Accumulated { done, total: b };
        }
        let (epoch, minibatch, iter) = (self.epoch, self.minibatch, self.iterations);
        let cost = (loss_sum / b as f64) as f32;
        if !cost.is_finite() {
            self.phase = Phase::Finished(StopReason::Diverged);
            self.model.params.clone_from(&self.best_params);
            return Event::Trained { epoch, minibatch, iter, cost };
        }
        let (lr, mu, params) = (self.learning_rate(), self.protocol.momentum, &mut self.model.params);
        let grad = self.grad_sum.total().expect("every chunk of the minibatch was added");
        if mu > 0.0 {
            momentum_step(params, &mut self.velocity, grad, lr, mu);
        } else {
            sgd_step(params, grad, lr);
        }
        self.minibatch += 1;
        self.iterations += 1;
        if (iter + 1) % self.validation_frequency() == 0 {
            self.phase = Phase::Evaluate { set: HeldOut::Validation, done: 0, errors: 0 };
        } else {
            self.after_iteration(iter);
        }
        Event::Trained { epoch, minibatch, iter, cost }
    }

    /// The end-of-iteration checks: patience, then the epoch count.
    fn after_iteration(&mut self, iter: usize) {
        self.phase = Phase::Train { done: 0, loss_sum: 0.0 };
        if self.patience <= iter {
            self.phase = Phase::Finished(StopReason::Patience);
        } else if self.minibatch == self.train_batches() {
            self.minibatch = 0;
            if self.epoch == self.protocol.epochs {
                self.phase = Phase::Finished(StopReason::Epochs);
            } else {
                self.epoch += 1;
            }
        }
    }

    fn finish_evaluation(&mut self, set: HeldOut, done: usize, errors: usize) -> Event {
        let total = self.data.held_out(set).len();
        if done < total {
            return Event::Evaluating { set, done, total };
        }
        let error = errors as f64 / total as f64;
        // The pass belongs to the minibatch just trained: the epoch has not
        // rolled over yet, so `minibatch` counts it (1-based).
        let (epoch, minibatch, iter) = (self.epoch, self.minibatch, self.iterations - 1);
        match set {
            HeldOut::Validation => {
                let best = error < self.best_validation;
                if best {
                    if error < self.best_validation * self.protocol.improvement_threshold {
                        self.patience = self.patience.max(iter.saturating_mul(self.protocol.patience_increase));
                    }
                    self.best_validation = error;
                    self.best_iter = iter;
                    self.best_params.clone_from(&self.model.params);
                    self.phase = Phase::Evaluate { set: HeldOut::Test, done: 0, errors: 0 };
                } else {
                    self.after_iteration(iter);
                }
                self.history.push(Validation { epoch, iter, error, test: None });
                Event::Validated { epoch, minibatch, error, best }
            }
            HeldOut::Test => {
                self.test_score = error;
                if let Some(last) = self.history.last_mut() {
                    last.test = Some(error);
                }
                self.after_iteration(iter);
                Event::Tested { epoch, minibatch, error }
            }
        }
    }

    /// Whether the run stands between minibatches, where `snapshot`
    /// takes it (not while a minibatch, or a validation or test pass, is
    /// half done).
    pub fn between_minibatches(&self) -> bool {
        matches!(self.phase, Phase::Train { done: 0, .. } | Phase::Finished(_))
    }

    /// The run's state, between minibatches (None elsewhere).
    pub fn snapshot(&self) -> Option<Snapshot> {
        if !self.between_minibatches() {
            return None;
        }
        let finished = match self.phase {
            Phase::Finished(reason) => Some(reason),
            _ => None,
        };
        Some(Snapshot {
            protocol: self.protocol.clone(),
            params: self.model.params.clone(),
            velocity: self.velocity.clone(),
            best_params: self.best_params.clone(),
            best_validation: self.best_validation,
            best_iter: self.best_iter,
            test_score: self.test_score,
            epoch: self.epoch,
            minibatch: self.minibatch,
            iterations: self.iterations,
            patience: self.patience,
            finished,
            history: self.history.clone(),
            dataset: self.data.collection(),
        })
    }

    /// The run `snapshot` was taken of, continued on `data` (the data it
    /// was trained on): every later step is as if it had never stopped.
    /// A run that `Snapshot::check` refuses is an error.
    pub fn resume(snapshot: Snapshot, data: impl Into<Arc<Mnist>>) -> Result<Trainer, String> {
        let data = data.into();
        let mut s = snapshot;
        // A run that ended because its epochs ran out goes on if the
        // protocol now has more: it stands where an uninterrupted run
        // stands at that epoch's end.
        if s.finished == Some(StopReason::Epochs) && s.epoch < s.protocol.epochs {
            (s.finished, s.epoch) = (None, s.epoch + 1);
        }
        s.check(data.train.len()).map_err(|e| format!("the checkpoint cannot resume here: {e}"))?;
        if s.dataset != data.collection() {
            let name = |c: Option<Collection>| c.map_or("other data", Collection::title);
            return Err(format!("this run trained on {}: it cannot go on with {}", name(s.dataset), name(data.collection())));
        }
        let mut t = Trainer::new(s.protocol.clone(), data)?;
        t.model.params = s.params;
        t.velocity = s.velocity;
        t.best_params = s.best_params;
        t.best_validation = s.best_validation;
        t.best_iter = s.best_iter;
        t.test_score = s.test_score;
        t.epoch = s.epoch;
        t.minibatch = s.minibatch;
        t.iterations = s.iterations;
        t.patience = s.patience;
        t.phase = s.finished.map_or(Phase::Train { done: 0, loss_sum: 0.0 }, Phase::Finished);
        t.history.extend(s.history);
        Ok(t)
    }

    fn finished(&self, reason: StopReason) -> Event {
        Event::Finished { reason, best_validation: self.best_validation, best_iter: self.best_iter, test_score: self.test_score }
    }
}
