//! A run, driven in slices of about `SLICE_MS` and yielding to the
//! worker's event loop between them, so that Pause, Resume and Stop act
//! at once. After each slice it posts a `Progress`, and now and then the
//! weights; at each epoch's end, a pause and the run's finish, it keeps
//! the run (`keep`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{ensure_helpers, keep, post, post_with, set_stage, take_stage, Loaded, Stage};
use crate::train::{log, Event, Trainer};
use crate::web::lead::{Lead, Link};
use crate::web::store::{StoredRun, MAX_COSTS, MAX_LOG_CHARS};
use crate::web::wire::{FromWorker, Progress, Settings};
use crate::web::{next_task, now_ms};

/// A slice of the worker's time between two looks at its messages: long
/// enough that messaging costs nothing, short enough that a click on
/// Pause is answered within a tenth of a second on one worker.
const SLICE_MS: f64 = 60.0;
/// Chunks a step gives each worker when there are helpers, at most. Each
/// step ends with the lead waiting for the slowest helper and taking in
/// its gradient sums (the benchmark's step profile shows that wait); five
/// chunks each make a tutorial minibatch (10 chunks) one step on two
/// workers, so that wait is paid once per minibatch, and a step is still
/// short enough for Pause to act at once.
const CHUNKS_PER_WORKER: usize = 5;
/// How often the page gets fresh weights to classify with.
const SHARE_WEIGHTS_MS: f64 = 1000.0;

/// A run asked for: a new one or the kept one, and how many workers share it.
pub(super) struct Start {
    pub run: Run,
    pub workers: usize,
}

pub(super) enum Run {
    New(Settings),
    Resume(Rc<StoredRun>),
}

/// How the message handler steers a running `drive`.
#[derive(Default)]
pub(super) struct Control {
    pub paused: Cell<bool>,
    /// Some(announce) once asked to stop; announce: post `Stopped` (a
    /// Stop), or not (a new Start replacing the run).
    pub stop: Cell<Option<bool>>,
    /// Resolves the promise a paused run sleeps on.
    wake: RefCell<Option<js_sys::Function>>,
}

impl Control {
    async fn sleep(&self) {
        let promise = js_sys::Promise::new(&mut |resolve, _| *self.wake.borrow_mut() = Some(resolve));
        let _ = JsFuture::from(promise).await;
    }

    pub fn wake(&self) {
        if let Some(resolve) = self.wake.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

/// What the kept run holds beside its checkpoint: the costs the chart
/// draws and the log, since the run began (before a resume too).
struct Record {
    costs: Vec<(u32, f32)>,
    log: String,
    workers: usize,
}

impl Record {
    fn add(&mut self, costs: &[(u32, f32)], lines: &[String]) {
        self.costs.extend_from_slice(costs);
        if self.costs.len() > MAX_COSTS {
            self.costs.drain(..self.costs.len() - MAX_COSTS);
        }
        for line in lines {
            self.log += line;
            self.log.push('\n');
        }
        // A log past twice what the page shows keeps its end.
        if self.log.len() > 2 * MAX_LOG_CHARS as usize {
            let mut cut = self.log.len() - MAX_LOG_CHARS as usize;
            while !self.log.is_char_boundary(cut) {
                cut += 1;
            }
            self.log.drain(..cut);
        }
    }

    /// The run kept with its checkpoint, if it stands between minibatches.
    fn keep(&self, trainer: &Trainer) {
        let Some(snapshot) = trainer.snapshot() else {
            return;
        };
        let run = StoredRun {
            checkpoint: crate::checkpoint::save(&snapshot),
            costs: self.costs.clone(),
            log: self.log.clone(),
            workers: self.workers,
        };
        keep::save(run, trainer.iterations(), trainer.is_finished());
    }
}

fn post_weights(params: &[f32], best: bool) {
    post_with(&FromWorker::Weights { best }, Some(&js_sys::Float32Array::from(params)));
}

/// Starts a run on the data, or says why it cannot (and stays idle).
pub(super) fn begin(start: Start, data: Loaded, mut helpers: Vec<Link>) {
    let (len, workers) = (data.mnist.train.len(), start.workers);
    let begun = ensure_helpers(&mut helpers, workers.saturating_sub(1)).and_then(|()| match start.run {
        Run::New(settings) => {
            let protocol = settings.protocol(len)?;
            let record = Record { costs: Vec::new(), log: String::new(), workers };
            let header = log::header(&protocol, workers, "worker");
            Ok((Trainer::new(protocol, data.mnist.clone())?, record, header))
        }
        Run::Resume(kept) => {
            let snapshot = crate::checkpoint::load(&kept.checkpoint).map_err(|e| format!("the run cannot be resumed: {e}"))?;
            let record = Record { costs: kept.costs.clone(), log: kept.log.clone(), workers };
            Ok((Trainer::resume(snapshot, data.mnist.clone())?, record, format!("... resumed on {workers} worker(s)")))
        }
    });
    let (trainer, mut record, note) = match begun {
        Ok(begun) => begun,
        Err(message) => {
            set_stage(Stage::Idle { data, helpers });
            return post(&FromWorker::Error { message });
        }
    };
    record.add(&[], std::slice::from_ref(&note));
    post(&FromWorker::Log { lines: vec![note] });
    let chunks_per_worker = if helpers.is_empty() { 1 } else { CHUNKS_PER_WORKER };
    let control = Rc::new(Control::default());
    set_stage(Stage::Running { control: control.clone(), queued: None, data: data.mnist });
    let lead = Lead::new(trainer, helpers, chunks_per_worker);
    wasm_bindgen_futures::spawn_local(drive(lead, record, control, data.data_url));
}

/// Runs a run to its end (or its stop), then goes back to idle with the
/// data and the helpers and starts whatever was queued meanwhile. Helpers
/// that failed are ended: the next run starts new ones.
async fn drive(mut lead: Lead, mut record: Record, control: Rc<Control>, data_url: String) {
    post_weights(&lead.trainer.model.params, false);
    let result = train(&mut lead, &mut record, &control, &data_url).await;
    if let Err(message) = &result {
        post(&FromWorker::Error { message: message.clone() });
    }
    if control.stop.get() == Some(true) {
        post_weights(&lead.trainer.best_params, true);
        post(&FromWorker::Stopped);
    }
    let (trainer, helpers) = lead.into_parts();
    let helpers = if result.is_ok() { helpers } else { Vec::new() };
    let data = Loaded { mnist: trainer.data, data_url };
    let Stage::Running { queued, .. } = take_stage() else { unreachable!("only a run's end leaves Running") };
    match queued {
        Some(start) => begin(start, data, helpers),
        None => set_stage(Stage::Idle { data, helpers }),
    }
}

async fn train(lead: &mut Lead, record: &mut Record, control: &Control, data_url: &str) -> Result<(), String> {
    lead.connect(data_url).await?;
    let mut slices = Slices::new(&lead.trainer);
    let mut saved_epoch = lead.trainer.epoch();
    loop {
        if control.stop.get().is_some() {
            return Ok(());
        }
        // A pause waits for the minibatch (or evaluation pass) in progress,
        // so that the run can be kept where it stands.
        if control.paused.get() && lead.trainer.between_minibatches() {
            record.keep(&lead.trainer);
            post(&FromWorker::Paused);
            control.sleep().await;
            continue;
        }
        let (progress, finished) = slices.run(lead, control.paused.get()).await?;
        record.add(&progress.costs, &progress.log);
        post(&FromWorker::Progress(Box::new(progress)));
        if let Some((params, best)) = slices.weights_due(lead, finished.is_some()) {
            post_weights(params, best);
        }
        let t = &lead.trainer;
        if finished.is_some() || (t.epoch() != saved_epoch && t.between_minibatches()) {
            saved_epoch = t.epoch();
            record.keep(t);
        }
        if let Some(message) = finished {
            post(&message);
            return Ok(());
        }
        next_task().await;
    }
}
/// The run's clock and counters across slices.
struct Slices {
    /// Training time so far, pauses excluded, and training throughput.
    elapsed_ms: f64,
    images_per_second: f64,
    last_shared: f64,
    /// Images of the current minibatch done before this slice.
    done_in_batch: usize,
    /// Test error of the best model, once its test pass has run.
    test_score: Option<f64>,
    new_best: bool,
}

impl Slices {
    fn new(trainer: &Trainer) -> Slices {
        Slices {
            elapsed_ms: 0.0,
            images_per_second: 0.0,
            last_shared: 0.0,
            done_in_batch: 0,
            // A resumed run's best model was tested before.
            test_score: trainer.history.iter().rev().find_map(|v| v.test).map(|t| t * 100.0),
            new_best: false,
        }
    }

    /// Steps the lead for about `SLICE_MS`, and no further than the epoch's
    /// end (or, if `to_boundary`, than the next minibatch's); returns what
    /// happened, and the closing message if the run ended.
    async fn run(&mut self, lead: &mut Lead, to_boundary: bool) -> Result<(Progress, Option<FromWorker>), String> {
        let mut progress = Progress::default();
        let start = now_ms();
        let (mut train_ms, mut train_images) = (0.0, 0usize);
        let (batch, batches, epoch) = (lead.trainer.protocol.batch_size, lead.trainer.train_batches(), lead.trainer.epoch());
        let mut finished = None;
        while now_ms() - start < SLICE_MS {
            let t0 = now_ms();
            let event = lead.step(&mut progress.steps).await?;
            let dt = now_ms() - t0;
            progress.log.extend(log::lines(&event, batches));
            if let Some(note) = log::evaluating(&event) {
                progress.evaluating = Some(note);
            }
            match event {
                Event::Accumulated { done, .. } => {
                    train_images += done - self.done_in_batch;
                    self.done_in_batch = done;
                    train_ms += dt;
                }
                Event::Trained { iter, cost, .. } => {
                    train_images += batch - self.done_in_batch;
                    self.done_in_batch = 0;
                    train_ms += dt;
                    progress.costs.push((iter as u32, cost));
                }
                Event::Validated { epoch, error, best, .. } => {
                    progress.validations.push((epoch as u32, error * 100.0));
                    self.new_best |= best;
                }
                Event::Tested { epoch, error, .. } => {
                    self.test_score = Some(error * 100.0);
                    progress.tests.push((epoch as u32, error * 100.0));
                }
                Event::Finished { reason, best_validation, best_iter, test_score } => {
                    finished = Some(FromWorker::Finished { reason, best_validation, best_iter, test_score });
                    break;
                }
                Event::Evaluating { .. } => {}
            }
            // An epoch's end is where the run is saved: the slice ends there.
            if (to_boundary || lead.trainer.epoch() != epoch) && lead.trainer.between_minibatches() {
                break;
            }
        }
        self.elapsed_ms += now_ms() - start;
        if train_ms > 0.0 {
            let rate = train_images as f64 * 1000.0 / train_ms;
            self.images_per_second = if self.images_per_second == 0.0 { rate } else { 0.8 * self.images_per_second + 0.2 * rate };
        }
        let t = &lead.trainer;
        if finished.is_some() {
            progress.log.push(log::ran_for(self.elapsed_ms / 1000.0, t.iterations() * batch));
        }
        progress.epoch = t.epoch();
        progress.epochs = t.protocol.epochs;
        progress.batches_per_epoch = batches;
        progress.iterations = t.iterations();
        progress.minibatch = t.minibatch();
        progress.images_per_second = self.images_per_second;
        progress.elapsed = self.elapsed_ms / 1000.0;
        progress.best_validation = t.best_validation.is_finite().then_some(t.best_validation * 100.0);
        progress.test_score = self.test_score;
        Ok((progress, finished))
    }

    /// The weights to send the page now, if any, and whether they are the
    /// best model's (at the end); the current ones after a new best or
    /// once a second.
    fn weights_due<'a>(&mut self, lead: &'a Lead, finished: bool) -> Option<(&'a [f32], bool)> {
        if finished {
            return Some((&lead.trainer.best_params, true));
        }
        if std::mem::take(&mut self.new_best) || now_ms() - self.last_shared > SHARE_WEIGHTS_MS {
            self.last_shared = now_ms();
            return Some((&lead.trainer.model.params, false));
        }
        None
    }
}
