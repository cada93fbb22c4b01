//! The training worker: it downloads MNIST, then drives a `Lead` in
//! slices of about `SLICE_MS`, yielding to its event loop between slices
//! so that Pause, Resume and Stop act at once. After each slice it posts a
//! `Progress`, and now and then the weights; at each epoch's end, a pause
//! and the run's finish, a checkpoint. Between slices it also predicts the
//! test set for the page's confusion matrix. A worker told to `Serve`
//! becomes a helper instead (see `helper`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::fetch::{fetch_idx_gz, DownloadError};
use super::js::{pack, payload_f32, payload_u8, unpack};
use super::lead::{Lead, Link};
use super::now_ms;
use super::wire::{FromWorker, Progress, Settings, ToWorker, MAX_WORKERS};
use crate::confusion::{predict, Prediction};
use crate::data::{Mnist, FILES};
use crate::model::{param_count, LeNet5, IMAGE_LEN};
use crate::train::{log, Event, Snapshot, Trainer};

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

/// A run asked for: a new one or a checkpoint's, and how many workers share it.
struct Start {
    run: Run,
    workers: usize,
}

enum Run {
    New(Settings),
    Resume(Box<Snapshot>),
}

/// Test images a slice of evaluation predicts: about as long as a
/// training slice on one worker.
const EVALUATION_PIECE: usize = 200;

/// The data set, and the base URL it came from.
struct Loaded {
    mnist: Arc<Mnist>,
    data_url: String,
}

/// What the worker is doing. Each phase holds what exists in it, so that
/// a run and idle data, say, cannot both be there.
enum Phase {
    /// No data: nothing asked yet, or the last download failed.
    Empty { helpers: Vec<Link> },
    /// MNIST on its way; a run asked for meanwhile waits in `queued`.
    Loading { helpers: Vec<Link>, queued: Option<Start> },
    /// The data is here, no run is.
    Idle { data: Loaded, helpers: Vec<Link> },
    /// A run holds the data (`data` shares it) and the helpers; `queued`
    /// starts when it ends.
    Running { control: Rc<Control>, queued: Option<Start>, data: Arc<Mnist> },
}

thread_local! {
    /// Whether this worker's script is a module (its helpers start the same way).
    static MODULE: Cell<bool> = const { Cell::new(false) };
    static PHASE: RefCell<Phase> = const { RefCell::new(Phase::Empty { helpers: Vec::new() }) };
    /// The latest evaluation asked for, until its task takes it.
    static EVALUATION: RefCell<Option<(u32, Vec<f32>)>> = const { RefCell::new(None) };
    /// The id of the latest evaluation asked for: a running one that sees
    /// a newer id gives up.
    static LATEST_EVALUATION: Cell<u32> = const { Cell::new(0) };
}

/// The phase, taken out to be moved on (each handler puts one back).
fn take_phase() -> Phase {
    PHASE.with(|p| std::mem::replace(&mut *p.borrow_mut(), Phase::Empty { helpers: Vec::new() }))
}

fn set_phase(phase: Phase) {
    PHASE.with(|p| *p.borrow_mut() = phase);
}

/// How the message handler steers a running `drive`.
#[derive(Default)]
struct Control {
    paused: Cell<bool>,
    /// Some(announce) once asked to stop; announce: post `Stopped` (a
    /// Stop), or not (a new Start replacing the run).
    stop: Cell<Option<bool>>,
    /// Resolves the promise a paused run sleeps on.
    wake: RefCell<Option<js_sys::Function>>,
}

impl Control {
    async fn sleep(&self) {
        let promise = js_sys::Promise::new(&mut |resolve, _| *self.wake.borrow_mut() = Some(resolve));
        let _ = JsFuture::from(promise).await;
    }

    fn wake(&self) {
        if let Some(resolve) = self.wake.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &FromWorker) {
    post_with(message, None);
}

/// Posts `message` with `payload` beside it, its buffer transferred.
fn post_with(message: &FromWorker, payload: Option<&js_sys::Object>) {
    let (packed, transfer) = pack(message, payload);
    // A page that has gone away needs no answer.
    let _ = scope().post_message_with_transfer(&packed, &transfer);
}

fn post_weights(params: &[f32], best: bool) {
    post_with(&FromWorker::Weights { best }, Some(&js_sys::Float32Array::from(params)));
}

/// The run's state as a checkpoint file, if it stands between minibatches.
fn post_checkpoint(trainer: &Trainer) {
    let Some(snapshot) = trainer.snapshot() else {
        return;
    };
    let bytes = crate::checkpoint::save(&snapshot);
    let message = FromWorker::Checkpoint { epoch: trainer.epoch(), iterations: trainer.iterations(), finished: trainer.is_finished() };
    post_with(&message, Some(&js_sys::Uint8Array::from(&bytes[..])));
}

/// Entry point of the worker's wasm; `module`: whether the worker's script
/// is a module (its helpers are started the same way).
pub fn start(module: bool) {
    MODULE.with(|m| m.set(module));
    // A panic is a bug: tell the page, which restarts this worker, then
    // let the console show it as usual.
    std::panic::set_hook(Box::new(|info| {
        post(&FromWorker::Crashed { message: info.to_string() });
        console_error_panic_hook::hook(info);
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| match unpack::<ToWorker>(&e.data()) {
        Ok((message, payload)) => handle(message, &payload),
        Err(error) => post(&FromWorker::Error { message: error }),
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler must outlive this function: it serves the worker's whole life.
    on_message.forget();
    post(&FromWorker::Ready);
}

fn running() -> Option<Rc<Control>> {
    PHASE.with(|p| match &*p.borrow() {
        Phase::Running { control, .. } => Some(control.clone()),
        _ => None,
    })
}

/// The data set, once it is here.
fn data() -> Option<Arc<Mnist>> {
    PHASE.with(|p| match &*p.borrow() {
        Phase::Idle { data, .. } => Some(data.mnist.clone()),
        Phase::Running { data, .. } => Some(data.clone()),
        _ => None,
    })
}

/// Starts or ends helper workers until there are `count`.
fn ensure_helpers(helpers: &mut Vec<Link>, count: usize) -> Result<(), String> {
    let count = count.min(MAX_WORKERS - 1);
    helpers.truncate(count);
    let script = scope().location().href();
    while helpers.len() < count {
        helpers.push(Link::spawn(&script, MODULE.with(Cell::get))?);
    }
    Ok(())
}

fn handle(message: ToWorker, payload: &JsValue) {
    match message {
        ToWorker::Load { data_url, workers } => {
            let phase = match take_phase() {
                Phase::Empty { mut helpers } => {
                    report(ensure_helpers(&mut helpers, workers.saturating_sub(1)));
                    load(data_url);
                    Phase::Loading { helpers, queued: None }
                }
                Phase::Idle { data, mut helpers } => {
                    report(ensure_helpers(&mut helpers, workers.saturating_sub(1)));
                    Phase::Idle { data, helpers }
                }
                other => other,
            };
            set_phase(phase);
        }
        ToWorker::Start { settings, data_url, workers } => queue(Start { run: Run::New(settings), workers }, data_url),
        ToWorker::Restore { data_url, workers } => match payload_u8(payload).and_then(|bytes| crate::checkpoint::load(&bytes)) {
            Ok(snapshot) => queue(Start { run: Run::Resume(Box::new(snapshot)), workers }, data_url),
            Err(e) => post(&FromWorker::Error { message: format!("the run cannot be resumed: {e}") }),
        },
        ToWorker::Evaluate { id } => match payload_f32(payload) {
            Ok(params) if params.len() == param_count() => {
                LATEST_EVALUATION.with(|l| l.set(id));
                let idle = EVALUATION.with(|e| e.borrow_mut().replace((id, params)).is_none());
                if idle {
                    evaluate_when_loaded();
                }
            }
            Ok(params) => {
                post(&FromWorker::Error { message: format!("{} parameters to evaluate, LeNet-5 has {}", params.len(), param_count()) })
            }
            Err(message) => post(&FromWorker::Error { message }),
        },
        ToWorker::Images { indices } => {
            let Some(data) = data() else {
                return post(&FromWorker::Error { message: "the test images are not loaded yet".into() });
            };
            let test = &data.test;
            let mut pixels = Vec::with_capacity(indices.len() * IMAGE_LEN);
            for &i in &indices {
                let i = i as usize;
                if i >= test.len() {
                    return post(&FromWorker::Error { message: format!("there is no test image {i} (of {})", test.len()) });
                }
                pixels.extend_from_slice(&test.images[i * IMAGE_LEN..(i + 1) * IMAGE_LEN]);
            }
            post_with(&FromWorker::Images { indices }, Some(&js_sys::Uint8Array::from(&pixels[..])));
        }
        ToWorker::Serve => super::helper::serve(scope().unchecked_ref()),
        ToWorker::Crash => panic!("a deliberate panic, asked for by the page's ?test-crash"),
        // The run posts `Paused` once it has stopped stepping.
        ToWorker::Pause => {
            if let Some(control) = running() {
                control.paused.set(true);
            }
        }
        ToWorker::Resume => {
            if let Some(control) = running().filter(|c| c.paused.get()) {
                control.paused.set(false);
                control.wake();
                post(&FromWorker::Resumed);
            }
        }
        ToWorker::Stop => match take_phase() {
            Phase::Running { control, data, .. } => {
                control.stop.set(Some(true));
                control.wake();
                set_phase(Phase::Running { control, queued: None, data });
            }
            Phase::Loading { helpers, .. } => {
                set_phase(Phase::Loading { helpers, queued: None });
                post(&FromWorker::Stopped);
            }
            other => {
                set_phase(other);
                post(&FromWorker::Stopped);
            }
        },
    }
}

/// Starts `start` once the data is here and the run before it has ended.
fn queue(start: Start, data_url: String) {
    match take_phase() {
        Phase::Empty { helpers } => {
            load(data_url);
            set_phase(Phase::Loading { helpers, queued: Some(start) });
        }
        Phase::Loading { helpers, .. } => set_phase(Phase::Loading { helpers, queued: Some(start) }),
        Phase::Idle { data, helpers } => begin(start, data, helpers),
        // The run gives the data back when it ends, and the queued one starts then.
        Phase::Running { control, data, .. } => {
            control.stop.set(Some(false));
            control.wake();
            set_phase(Phase::Running { control, queued: Some(start), data });
        }
    }
}

/// Runs the evaluation asked for, if the data is here (else the load
/// calls again when it is), in pieces between which the worker's other
/// tasks run: a training run goes on meanwhile.
fn evaluate_when_loaded() {
    let Some(data) = data() else { return };
    let Some((id, params)) = EVALUATION.with(|e| e.borrow_mut().take()) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let mut model = LeNet5::from_params(params);
        let test = &data.test;
        let mut predictions: Vec<Prediction> = Vec::with_capacity(test.len());
        for first in (0..test.len()).step_by(EVALUATION_PIECE) {
            if LATEST_EVALUATION.with(Cell::get) != id {
                break;
            }
            predict(&mut model, test, first, (first + EVALUATION_PIECE).min(test.len()), &mut predictions);
            next_tick().await;
        }
        if predictions.len() == test.len() {
            let payload: Vec<f32> = predictions.iter().flat_map(|p| [f32::from(p.label), f32::from(p.predicted), p.probability]).collect();
            post_with(&FromWorker::Evaluated { id }, Some(&js_sys::Float32Array::from(&payload[..])));
        }
        // A newer evaluation may have come meanwhile.
        evaluate_when_loaded();
    });
}

fn report(result: Result<(), String>) {
    if let Err(message) = result {
        post(&FromWorker::Error { message });
    }
}

/// Downloads and parses the four files, then starts the queued run.
fn load(data_url: String) {
    wasm_bindgen_futures::spawn_local(async move {
        let result = download_all(&data_url).await;
        let Phase::Loading { helpers, queued } = take_phase() else { unreachable!("only a load leaves Loading") };
        match result {
            Ok(mnist) => {
                post(&FromWorker::DataReady { train: mnist.train.len(), valid: mnist.valid.len(), test: mnist.test.len() });
                let data = Loaded { mnist: Arc::new(mnist), data_url };
                match queued {
                    Some(start) => begin(start, data, helpers),
                    None => set_phase(Phase::Idle { data, helpers }),
                }
                evaluate_when_loaded();
            }
            Err(DownloadError { message, not_found }) => {
                set_phase(Phase::Empty { helpers });
                post(&if not_found { FromWorker::DataMissing { message } } else { FromWorker::Error { message } });
            }
        }
    });
}

async fn download_all(base: &str) -> Result<Mnist, DownloadError> {
    let mut files = Vec::new();
    for name in FILES {
        let file = format!("{name}.gz");
        let url = format!("{base}{file}");
        let (label, mut last_post) = (file.clone(), 0.0);
        let bytes = fetch_idx_gz(&url, move |loaded, total| {
            // Progress at most every 50 ms: the page redraws no faster.
            if now_ms() - last_post > 50.0 || Some(loaded) == total {
                last_post = now_ms();
                post(&FromWorker::Download { file: label.clone(), loaded, total });
            }
        })
        .await
        .map_err(|e| DownloadError { message: format!("{file}: {}", e.message), ..e })?;
        files.push((file, bytes));
    }
    let f = |i: usize| (files[i].0.as_str(), files[i].1.as_slice());
    Ok(Mnist::from_bytes([f(0), f(1), f(2), f(3)]).map_err(|e| e.to_string())?)
}

/// Starts a run on the data, or says why it cannot (and stays idle).
fn begin(start: Start, data: Loaded, mut helpers: Vec<Link>) {
    let len = data.mnist.train.len();
    let trainer = ensure_helpers(&mut helpers, start.workers.saturating_sub(1)).and_then(|()| match start.run {
        Run::New(settings) => settings.protocol(len).and_then(|protocol| Trainer::new(protocol, data.mnist.clone())),
        Run::Resume(snapshot) => Trainer::resume(*snapshot, data.mnist.clone()),
    });
    let trainer = match trainer {
        Ok(trainer) => trainer,
        Err(message) => {
            set_phase(Phase::Idle { data, helpers });
            return post(&FromWorker::Error { message });
        }
    };
    let chunks_per_worker = if helpers.is_empty() { 1 } else { CHUNKS_PER_WORKER };
    let control = Rc::new(Control::default());
    set_phase(Phase::Running { control: control.clone(), queued: None, data: data.mnist });
    let lead = Lead::new(trainer, helpers, chunks_per_worker);
    wasm_bindgen_futures::spawn_local(drive(lead, control, data.data_url));
}

/// Runs a run to its end (or its stop), then goes back to idle with the
/// data and the helpers and starts whatever was queued meanwhile. Helpers
/// that failed are ended: the next run starts new ones.
async fn drive(mut lead: Lead, control: Rc<Control>, data_url: String) {
    post_weights(&lead.trainer.model.params, false);
    let result = train(&mut lead, &control, &data_url).await;
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
    let Phase::Running { queued, .. } = take_phase() else { unreachable!("only a run's end leaves Running") };
    match queued {
        Some(start) => begin(start, data, helpers),
        None => set_phase(Phase::Idle { data, helpers }),
    }
}

async fn train(lead: &mut Lead, control: &Control, data_url: &str) -> Result<(), String> {
    lead.connect(data_url).await?;
    let mut slices = Slices::new(&lead.trainer);
    let mut saved_epoch = lead.trainer.epoch();
    loop {
        if control.stop.get().is_some() {
            return Ok(());
        }
        // A pause waits for the minibatch (or evaluation pass) in progress,
        // so that the run can be saved where it stands.
        if control.paused.get() && lead.trainer.between_minibatches() {
            post_checkpoint(&lead.trainer);
            post(&FromWorker::Paused);
            control.sleep().await;
            continue;
        }
        let (progress, finished) = slices.run(lead, control.paused.get()).await?;
        post(&FromWorker::Progress(Box::new(progress)));
        if let Some((params, best)) = slices.weights_due(lead, finished.is_some()) {
            post_weights(params, best);
        }
        let t = &lead.trainer;
        if finished.is_some() || (t.epoch() != saved_epoch && t.between_minibatches()) {
            saved_epoch = t.epoch();
            post_checkpoint(t);
        }
        if let Some(message) = finished {
            post(&message);
            return Ok(());
        }
        next_tick().await;
    }
}

/// Lets the worker's event loop run (messages from the page among them).
/// A message to itself rather than `setTimeout(0)`, which browsers clamp
/// to 4 ms once timers nest: idle time in every slice.
async fn next_tick() {
    thread_local! {
        static CHANNEL: web_sys::MessageChannel = web_sys::MessageChannel::new().expect("MessageChannel exists");
    }
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        CHANNEL.with(|c| {
            c.port1().set_onmessage(Some(&resolve));
            c.port2().post_message(&JsValue::NULL).expect("a port can post to its pair");
        })
    });
    let _ = JsFuture::from(promise).await;
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
