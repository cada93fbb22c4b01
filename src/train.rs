//! The tutorial's training protocol (`convolutional_mlp.py`'s
//! `evaluate_lenet5`) as a state machine that the command line, the Web
//! Worker and the tests all drive, one unit of work per `step`: at most
//! `STEP_IMAGES` images of a training minibatch (whose gradients add up to
//! the minibatch's before the SGD update), or of a validation or test pass.
//! Pausing is not calling `step`; resuming is calling it again.
//!
//! Early stopping as in the tutorial: validate every
//! `min(n_train_batches, patience / 2)` minibatches (once per epoch with
//! its numbers); a validation error below `best * improvement_threshold`
//! raises patience to `max(patience, iter * patience_increase)`; a new best
//! is scored on the test set; training ends when `patience <= iter` or
//! after `epochs` epochs.

use crate::data::{Dataset, Mnist};
use crate::model::{LeNet5, IMAGE_LEN};
use crate::parallel::Team;
use crate::sgd::{momentum_step, sgd_step};

/// Images per `step`. A step of 50 images is about 0.66 GFLOP of training,
/// a tenth of a second or two in a browser: short enough for Pause to act
/// at once, small enough that the activations stay in cache, and a divisor
/// of the tutorial's batch of 500.
pub const STEP_IMAGES: usize = 50;

/// Hyper-parameters: one source of truth for every front end.
#[derive(Clone, Debug, PartialEq)]
pub struct Protocol {
    pub learning_rate: f32,
    /// 0 for the tutorial's plain SGD.
    pub momentum: f32,
    /// The learning rate is multiplied by this after each epoch (1 for the tutorial).
    pub lr_decay: f32,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    pub patience: usize,
    pub patience_increase: usize,
    pub improvement_threshold: f64,
}

impl Protocol {
    /// Exactly the tutorial's settings (its random seed was 23455).
    pub fn tutorial() -> Self {
        Protocol {
            learning_rate: 0.1,
            momentum: 0.0,
            lr_decay: 1.0,
            batch_size: 500,
            epochs: 200,
            seed: 23455,
            patience: 10_000,
            patience_increase: 2,
            improvement_threshold: 0.995,
        }
    }

    /// Same model, 99 % test accuracy in a few minutes: batches of 100
    /// (two full 50-image chunks on two workers), momentum 0.9, the
    /// learning rate decayed by 0.7 after each epoch. With the tutorial's
    /// seed, in Chromium on two workers: test error 2.49 % after one
    /// epoch, 1.20 % after three, 0.96 % after six (177-211 s here in
    /// `cargo xtask bench`).
    pub fn fast() -> Self {
        Protocol { learning_rate: 0.05, momentum: 0.9, lr_decay: 0.7, batch_size: 100, epochs: 8, ..Protocol::tutorial() }
    }

    /// A readable complaint about settings that cannot train.
    pub fn check(&self, train_len: usize) -> Result<(), String> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!("learning rate must be a positive number, got {}", self.learning_rate));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("momentum must be at least 0 and below 1, got {}", self.momentum));
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return Err(format!("learning-rate decay must be above 0 and at most 1, got {}", self.lr_decay));
        }
        if self.batch_size == 0 || self.batch_size > train_len {
            return Err(format!("batch size must be between 1 and {train_len}, got {}", self.batch_size));
        }
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Validation,
    Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// All epochs ran.
    Epochs,
    /// Patience ran out (early stopping).
    Patience,
    /// The cost became NaN or infinite; the best model so far is kept.
    Diverged,
}

/// What one `step` did.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Part of a minibatch's gradient: `done` of `total` images.
    Accumulated { done: usize, total: usize },
    /// One SGD step on minibatch `minibatch` (0-based) of `epoch` (1-based).
    Trained { epoch: usize, minibatch: usize, iter: usize, cost: f32 },
    /// Part of a validation or test pass: `done` of `total` examples.
    Evaluating { split: Split, done: usize, total: usize },
    /// A validation pass ended after `minibatch` minibatches (1-based, as the tutorial prints).
    Validated { epoch: usize, minibatch: usize, error: f64, best: bool },
    /// The new best model's test error.
    Tested { epoch: usize, minibatch: usize, error: f64 },
    /// Training is over; further steps return this again.
    Finished { reason: StopReason, best_validation: f64, best_iter: usize, test_score: f64 },
}

/// What the chunks of a step do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// The loss and gradient of training images.
    Train,
    /// Count the errors on a validation or test pass.
    Evaluate(Split),
}

/// One step's work: examples `first..end` of the task's set, in chunks of
/// `per` (the last may be short). Chunks are independent of each other,
/// so threads or Web Workers can share them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub task: Task,
    pub first: usize,
    pub end: usize,
    pub per: usize,
}

impl Plan {
    pub fn chunks(&self) -> usize {
        (self.end - self.first).div_ceil(self.per)
    }

    /// (first example, count) of chunk `i`.
    pub fn chunk(&self, i: usize) -> (usize, usize) {
        let start = self.first + i * self.per;
        assert!(start < self.end, "chunk {i} is past the plan's end");
        (start, self.per.min(self.end - start))
    }

    /// The chunks worker `w` of `workers` takes: consecutive blocks, the
    /// first to worker 0, which adds the outcomes in chunk order (its own
    /// as it goes, then the others' as they arrive).
    pub fn share(&self, w: usize, workers: usize) -> std::ops::Range<usize> {
        let (chunks, each) = (self.chunks(), self.chunks().div_ceil(workers));
        (w * each).min(chunks)..((w + 1) * each).min(chunks)
    }
}

/// What a chunk found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Mean loss of `count` images; the gradient is in the model's `grads`.
    Trained { loss: f32, count: usize },
    Counted { errors: usize, count: usize },
}

/// Works chunk `i` of `plan` on `model` (holding the trainer's
/// parameters), with `x` as its image buffer of `STEP_IMAGES` x 784.
pub fn work(model: &mut LeNet5, data: &Mnist, plan: &Plan, i: usize, x: &mut [f32]) -> Outcome {
    let (first, count) = plan.chunk(i);
    let images = &mut x[..count * IMAGE_LEN];
    match plan.task {
        Task::Train => {
            let labels = data.train.batch(images, first, count);
            Outcome::Trained { loss: model.loss_and_grad(images, labels), count }
        }
        Task::Evaluate(split) => {
            let labels = data.split(split).batch(images, first, count);
            Outcome::Counted { errors: model.count_errors(images, labels), count }
        }
    }
}

/// `sum (+)= share * grads`: a minibatch's gradient from its chunks'.
pub fn accumulate(sum: &mut [f32], grads: &[f32], share: f32, first: bool) {
    assert_eq!(sum.len(), grads.len(), "one gradient per parameter");
    if first {
        sum.iter_mut().zip(grads).for_each(|(s, g)| *s = g * share);
    } else {
        sum.iter_mut().zip(grads).for_each(|(s, g)| *s += g * share);
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// `done` images of the current minibatch are in `grad_sum`, their
    /// summed losses in `loss_sum`.
    Train { done: usize, loss_sum: f64 },
    Evaluate { split: Split, done: usize, errors: usize },
    Finished(StopReason),
}

pub struct Trainer {
    pub protocol: Protocol,
    pub model: LeNet5,
    pub data: Mnist,
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
    /// dL/dparams of the minibatch, summed over its steps.
    grad_sum: Vec<f32>,
    /// The momentum's running sum (empty for plain SGD).
    velocity: Vec<f32>,
    team: Team,
    /// Chunks at once: the threads of `team`, or the workers of a caller
    /// that shares out the chunks itself (`share_with`).
    width: usize,
    /// Chunks per step for each of them.
    depth: usize,
    /// The outcomes of a round of `team.run`, kept to be reused.
    outcomes: Vec<Outcome>,
}

impl Trainer {
    pub fn new(protocol: Protocol, data: Mnist) -> Result<Trainer, String> {
        protocol.check(data.train.len())?;
        if data.valid.is_empty() || data.test.is_empty() {
            return Err("the validation and test sets must not be empty".into());
        }
        let model = LeNet5::new(protocol.seed);
        Ok(Trainer {
            best_params: model.params.clone(),
            grad_sum: vec![0.0; model.params.len()],
            velocity: if protocol.momentum > 0.0 { vec![0.0; model.params.len()] } else { Vec::new() },
            model,
            team: Team::new(1),
            width: 1,
            depth: 1,
            outcomes: Vec::new(),
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
        })
    }

    /// Works on up to `threads` chunks of `STEP_IMAGES` at once (natively;
    /// wasm32 has one thread). The weights do not depend on it.
    pub fn set_threads(&mut self, threads: usize) {
        self.team = Team::new(threads);
        self.width = self.team.size();
        self.depth = 1;
    }

    /// Plans steps of up to `depth` chunks for each of `workers`, for a
    /// caller that runs them on workers of its own (Web Workers) through
    /// `plan`, `work`, `add` and `finish`; `step` still works, a chunk after
    /// another. A depth over 1 sends a worker several chunks at once, so
    /// that what a message costs is paid once for all of them. Neither
    /// changes the weights for batches over `STEP_IMAGES`.
    pub fn share_with(&mut self, workers: usize, depth: usize) {
        self.width = workers.max(1);
        self.depth = depth.max(1);
    }

    /// This epoch's learning rate: the protocol's, decayed once per epoch
    /// done (a decay of 1 leaves it exactly as it is).
    pub fn learning_rate(&self) -> f32 {
        let p = &self.protocol;
        p.learning_rate * p.lr_decay.powi(self.epoch as i32 - 1)
    }

    /// Threads or workers the steps' chunks go to at once.
    pub fn width(&self) -> usize {
        self.width
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

    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished(_))
    }

    /// Does the next unit of work: plans it, works through its chunks on
    /// the team's threads, and adds their results in chunk order.
    pub fn step(&mut self) -> Event {
        let Some(plan) = self.plan() else { return self.finish() };
        let mut team = std::mem::take(&mut self.team);
        let mut outcomes = std::mem::take(&mut self.outcomes);
        let chunks = plan.chunks();
        for round in (0..chunks).step_by(team.size()) {
            let n = team.size().min(chunks - round);
            let data = &self.data;
            team.run(&mut self.model, n, |model, x, i| work(model, data, &plan, round + i, x), &mut outcomes);
            for (i, &outcome) in outcomes.iter().enumerate() {
                self.add(outcome, (i > 0).then(|| team.grads(i)));
            }
        }
        self.team = team;
        self.outcomes = outcomes;
        self.finish()
    }

    /// The chunks of the next step, or None when the run is over. Each
    /// chunk can be worked anywhere (`work`) on a model holding
    /// `self.model.params`; `add` then takes the outcomes in chunk order,
    /// and `finish` ends the step.
    pub fn plan(&self) -> Option<Plan> {
        match self.phase {
            Phase::Train { done, .. } => {
                let b = self.protocol.batch_size;
                // A batch that fits in one step is shared out evenly;
                // bigger ones go in chunks of `STEP_IMAGES`, so that the
                // sums, and the weights, do not depend on the width.
                let per = if b <= STEP_IMAGES { b.div_ceil(self.width) } else { STEP_IMAGES };
                let (first, batch_end) = (self.minibatch * b + done, (self.minibatch + 1) * b);
                Some(Plan { task: Task::Train, first, end: batch_end.min(first + per * self.width * self.depth), per })
            }
            Phase::Evaluate { split, done, .. } => {
                let total = self.data.split(split).len();
                Some(Plan { task: Task::Evaluate(split), first: done, end: total.min(done + STEP_IMAGES * self.width * self.depth), per: STEP_IMAGES })
            }
            Phase::Finished(_) => None,
        }
    }

    /// Takes the outcome of the plan's next chunk (in chunk order): for a
    /// training chunk, its gradient is `grads`, or the trainer's own
    /// model's if None.
    pub fn add(&mut self, outcome: Outcome, grads: Option<&[f32]>) {
        match (&mut self.phase, outcome) {
            (Phase::Train { done, loss_sum }, Outcome::Trained { loss, count }) => {
                // The minibatch's loss is the mean over its images: each
                // chunk's mean gradient counts count/b of it.
                let share = count as f32 / self.protocol.batch_size as f32;
                accumulate(&mut self.grad_sum, grads.unwrap_or(&self.model.grads), share, *done == 0);
                *done += count;
                *loss_sum += f64::from(loss) * count as f64;
            }
            (Phase::Evaluate { done, errors, .. }, Outcome::Counted { errors: e, count }) => {
                *done += count;
                *errors += e;
            }
            (phase, outcome) => panic!("{outcome:?} does not fit {phase:?}: add the outcomes of `plan`'s chunks"),
        }
    }

    /// Ends the step `add` was fed for: the SGD update once a minibatch is
    /// whole, the verdict once a pass is; `Finished` again once the run is.
    pub fn finish(&mut self) -> Event {
        match self.phase.clone() {
            Phase::Train { done, loss_sum } => self.finish_train(done, loss_sum),
            Phase::Evaluate { split, done, errors } => self.finish_evaluation(split, done, errors),
            Phase::Finished(reason) => self.finished(reason),
        }
    }

    /// Steps until the run is over; `on_event` sees every event.
    pub fn run(&mut self, mut on_event: impl FnMut(&Trainer, &Event)) -> Event {
        loop {
            let event = self.step();
            on_event(self, &event);
            if let Event::Finished { .. } = event {
                return event;
            }
        }
    }

    fn finish_train(&mut self, done: usize, loss_sum: f64) -> Event {
        let b = self.protocol.batch_size;
        if done < b {
            return Event::Accumulated { done, total: b };
        }
        let (epoch, minibatch, iter) = (self.epoch, self.minibatch, self.iterations());
        let cost = (loss_sum / b as f64) as f32;
        if !cost.is_finite() {
            self.phase = Phase::Finished(StopReason::Diverged);
            self.model.params.clone_from(&self.best_params);
            return Event::Trained { epoch, minibatch, iter, cost };
        }
        let (lr, mu, params) = (self.learning_rate(), self.protocol.momentum, &mut self.model.params);
        if mu > 0.0 {
            momentum_step(params, &mut self.velocity, &self.grad_sum, lr, mu);
        } else {
            sgd_step(params, &self.grad_sum, lr);
        }
        self.minibatch += 1;
        self.iterations += 1;
        if (iter + 1) % self.validation_frequency() == 0 {
            self.phase = Phase::Evaluate { split: Split::Validation, done: 0, errors: 0 };
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

    fn finish_evaluation(&mut self, split: Split, done: usize, errors: usize) -> Event {
        let total = self.data.split(split).len();
        if done < total {
            return Event::Evaluating { split, done, total };
        }
        let error = errors as f64 / total as f64;
        // The pass belongs to the minibatch just trained: the epoch has not
        // rolled over yet, so `minibatch` counts it (1-based).
        let (epoch, minibatch, iter) = (self.epoch, self.minibatch, self.iterations() - 1);
        match split {
            Split::Validation => {
                let best = error < self.best_validation;
                if best {
                    if error < self.best_validation * self.protocol.improvement_threshold {
                        self.patience = self.patience.max(iter * self.protocol.patience_increase);
                    }
                    self.best_validation = error;
                    self.best_iter = iter;
                    self.best_params.clone_from(&self.model.params);
                    self.phase = Phase::Evaluate { split: Split::Test, done: 0, errors: 0 };
                } else {
                    self.after_iteration(iter);
                }
                Event::Validated { epoch, minibatch, error, best }
            }
            Split::Test => {
                self.test_score = error;
                self.after_iteration(iter);
                Event::Tested { epoch, minibatch, error }
            }
        }
    }

    fn finished(&self, reason: StopReason) -> Event {
        Event::Finished {
            reason,
            best_validation: self.best_validation,
            best_iter: self.best_iter,
            test_score: self.test_score,
        }
    }
}

/// Misclassified examples of `set`, `STEP_IMAGES` at a time on each of
/// the team's workers.
pub fn count_errors(team: &mut Team, model: &mut LeNet5, set: &Dataset) -> usize {
    let span = STEP_IMAGES * team.size();
    let mut errors = Vec::new();
    (0..set.len())
        .step_by(span)
        .map(|start| {
            let chunks = team.size().min((set.len() - start).div_ceil(STEP_IMAGES));
            let f = |model: &mut LeNet5, x: &mut [f32], i: usize| {
                let first = start + i * STEP_IMAGES;
                let count = STEP_IMAGES.min(set.len() - first);
                let labels = set.batch(x, first, count);
                model.count_errors(&x[..count * IMAGE_LEN], labels)
            };
            team.run(model, chunks, f, &mut errors);
            errors.iter().sum::<usize>()
        })
        .sum()
}
