//! The training worker. It downloads and parses MNIST, then drives the
//! core's `Trainer` in chunks of about `CHUNK_MS`, yielding to its event
//! loop between chunks so that Pause, Resume and Stop act at once. After
//! each chunk it posts a `Progress`, and now and then the weights.
//!
//! With helpers (`#workers` > 1) this worker is the lead: it starts the
//! helper workers itself (running its own script) and shares each step's
//! chunks out over them (see `team`). A worker told to `Serve` is a helper.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::download::fetch_bytes;
use super::{clock_ms, now_ms};
use super::protocol::{decode, encode, encode_weights, FromWorker, Progress, Settings, StepTimes, ToWorker};
use super::team::{self, Link};
use crate::data::{Mnist, FILES};
use crate::model::IMAGE_LEN;
use crate::train::{work, Event, Split, StopReason, Task, Trainer, STEP_IMAGES};

/// Work per chunk of steps: long enough that messaging costs nothing,
/// short enough that a click on Pause is answered within a tenth of a
/// second on one worker (with helpers, a step alone takes about 150 ms).
const CHUNK_MS: f64 = 60.0;
/// Chunks of `STEP_IMAGES` a step gives each worker when there are
/// helpers. Each step ends with the lead waiting for the slowest helper
/// (10-21 ms a step in the benchmark's step profile, from the chunks'
/// uneven times); three chunks
/// each pay that once for 150 images a worker, and keep a step near
/// 150 ms, so that Pause still acts within a fifth of a second.
const CHUNKS_PER_WORKER: usize = 3;
/// How often the page gets fresh weights to classify with.
const SHARE_WEIGHTS_MS: f64 = 1000.0;

/// A run in progress, owned by the task that drives it (`drive`).
struct Run {
    trainer: Trainer,
    helpers: Vec<Link>,
    /// The lead's image buffer, and where a helper's gradient lands.
    x: Vec<f32>,
    grads: Vec<f32>,
    /// Training time so far, pauses excluded, and training throughput.
    elapsed_ms: f64,
    images_per_second: f64,
    last_shared: f64,
    done_in_batch: usize,
    /// Test error of the best model, once its test pass has run.
    test_score: Option<f64>,
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

#[derive(Default)]
struct State {
    /// Whether this worker's script is a module (see `start`).
    module: bool,
    /// The data, while no run holds it, and the base URL it came from.
    data: Option<Mnist>,
    source: String,
    loading: bool,
    /// The helper workers this worker started, while no run holds them.
    helpers: Vec<Link>,
    running: Option<Rc<Control>>,
    /// A run asked for while the data was loading or another run ending.
    queued: Option<(Settings, usize)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &FromWorker) {
    scope().post_message(&encode(message)).expect("the page listens");
}

fn post_weights(params: &[f32]) {
    let (message, transfer) = encode_weights(params);
    scope().post_message_with_transfer(&message, &transfer).expect("the page listens");
}

/// Entry point of the worker's wasm; `module`: whether the worker's script
/// is a module (its helpers are started the same way).
pub fn start(module: bool) {
    console_error_panic_hook::set_once();
    STATE.with(|s| s.borrow_mut().module = module);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| match decode::<ToWorker>(e.data()) {
        Ok(message) => handle(message),
        Err(error) => post(&FromWorker::Error { message: error }),
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler must outlive this function: it serves the worker's whole life.
    on_message.forget();
    post(&FromWorker::Ready);
}

fn running() -> Option<Rc<Control>> {
    STATE.with(|s| s.borrow().running.clone())
}

/// Starts or ends helper workers until there are `count`, unless a run
/// holds them (it has the number it started with).
fn ensure_helpers(count: usize) -> Result<(), String> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.running.is_some() {
            return Ok(());
        }
        s.helpers.truncate(count);
        let script = scope().location().href();
        while s.helpers.len() < count {
            let link = Link::spawn(&script, s.module)?;
            s.helpers.push(link);
        }
        Ok(())
    })
}

fn handle(message: ToWorker) {
    match message {
        ToWorker::Load { data_url, workers } => {
            if let Err(message) = ensure_helpers(workers.saturating_sub(1)) {
                post(&FromWorker::Error { message });
            }
            load(data_url);
        }
        ToWorker::Start { settings, data_url, workers } => {
            let ready = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.queued = Some((settings, workers));
                s.data.is_some()
            });
            // A run still going gives the data back when it ends, and
            // starts the queued one then.
            if let Some(control) = running() {
                control.stop.set(Some(false));
                control.wake();
            } else if ready {
                start_queued();
            } else {
                load(data_url);
            }
        }
        ToWorker::Serve => team::serve(scope().unchecked_ref()),
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
        ToWorker::Stop => {
            STATE.with(|s| s.borrow_mut().queued = None);
            match running() {
                Some(control) => {
                    control.stop.set(Some(true));
                    control.wake();
                }
                None => post(&FromWorker::Stopped),
            }
        }
    }
}

/// Downloads and parses the four files, unless that is done or under way.
fn load(data_url: String) {
    let busy = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let busy = s.loading || s.data.is_some() || s.running.is_some();
        s.loading |= !busy;
        busy
    });
    if busy {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let result = download_all(&data_url).await;
        STATE.with(|s| s.borrow_mut().loading = false);
        match result {
            Ok(mnist) => {
                post(&FromWorker::DataReady { train: mnist.train.len(), valid: mnist.valid.len(), test: mnist.test.len() });
                STATE.with(|s| {
                    let mut s = s.borrow_mut();
                    s.data = Some(mnist);
                    s.source = data_url;
                });
                start_queued();
            }
            Err(message) => {
                STATE.with(|s| s.borrow_mut().queued = None);
                post(&FromWorker::Error { message });
            }
        }
    });
}

async fn download_all(base: &str) -> Result<Mnist, String> {
    let mut files = Vec::new();
    for name in FILES {
        let file = format!("{name}.gz");
        let url = format!("{base}{file}");
        let mut last_post = 0.0;
        let bytes = fetch_bytes(&url, |loaded, total| {
            // Progress at most every 50 ms: the page redraws no faster.
            if now_ms() - last_post > 50.0 || Some(loaded) == total {
                last_post = now_ms();
                post(&FromWorker::Download { file: file.clone(), loaded, total });
            }
        })
        .await
        .map_err(|e| format!("{file}: {e}"))?;
        files.push((file, bytes));
    }
    let f = |i: usize| (files[i].0.as_str(), files[i].1.as_slice());
    Mnist::from_bytes([f(0), f(1), f(2), f(3)]).map_err(|e| e.to_string())
}

/// Starts the queued run if the data is here and no run holds it.
fn start_queued() {
    if let Some(workers) = STATE.with(|s| s.borrow().queued.as_ref().map(|q| q.1)) {
        if let Err(message) = ensure_helpers(workers.saturating_sub(1)) {
            STATE.with(|s| s.borrow_mut().queued = None);
            return post(&FromWorker::Error { message });
        }
    }
    let started = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.running.is_some() || s.data.is_none() {
            return None;
        }
        let (settings, _) = s.queued.take()?;
        let data = s.data.take()?;
        let protocol = match settings.protocol(data.train.len()) {
            Ok(p) => p,
            Err(message) => {
                s.data = Some(data);
                return Some(Err(message));
            }
        };
        let mut trainer = Trainer::new(protocol, data).expect("settings were checked");
        let helpers = std::mem::take(&mut s.helpers);
        let workers = helpers.len() + 1;
        trainer.share_with(workers, if workers > 1 { CHUNKS_PER_WORKER } else { 1 });
        let run = Run {
            grads: vec![0.0; trainer.model.params.len()],
            trainer,
            helpers,
            x: vec![0.0; STEP_IMAGES * IMAGE_LEN],
            elapsed_ms: 0.0,
            images_per_second: 0.0,
            last_shared: now_ms(),
            done_in_batch: 0,
            test_score: None,
        };
        let control = Rc::new(Control::default());
        s.running = Some(control.clone());
        Some(Ok((run, control, s.source.clone())))
    });
    match started {
        Some(Ok((run, control, source))) => wasm_bindgen_futures::spawn_local(drive(run, control, source)),
        Some(Err(message)) => post(&FromWorker::Error { message }),
        None => {}
    }
}

/// Runs a run to its end (or its stop), then gives the data and the
/// helpers back and starts whatever was queued meanwhile. Helpers that
/// failed are ended: the next run starts new ones.
async fn drive(mut run: Run, control: Rc<Control>, source: String) {
    post_weights(&run.trainer.model.params);
    let result = train(&mut run, &control, &source).await;
    if let Err(message) = &result {
        post(&FromWorker::Error { message: message.clone() });
    }
    if control.stop.get() == Some(true) {
        post_weights(&run.trainer.best_params);
        post(&FromWorker::Stopped);
    }
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.data = Some(run.trainer.data);
        if result.is_ok() {
            s.helpers = run.helpers;
        }
        s.running = None;
    });
    start_queued();
}

async fn train(run: &mut Run, control: &Control, source: &str) -> Result<(), String> {
    for link in &mut run.helpers {
        link.connect(&run.trainer.data, source).await?;
    }
    loop {
        if control.stop.get().is_some() {
            return Ok(());
        }
        if control.paused.get() {
            post(&FromWorker::Paused);
            control.sleep().await;
            continue;
        }
        let (progress, share, finished) = run_chunk(run).await?;
        post(&FromWorker::Progress(progress));
        if let Some(params) = share {
            post_weights(&params);
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
/// to 4 ms once timers nest: 4 ms idle in every 60 ms chunk.
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

/// One step of the trainer: the plan's first block of chunks here, the
/// others on the helpers, the outcomes added in chunk order. Training
/// steps add their times to `times`.
async fn step(run: &mut Run, times: &mut StepTimes) -> Result<Event, String> {
    let t = &mut run.trainer;
    let Some(plan) = t.plan() else { return Ok(t.finish()) };
    // One clock for the lead's times and the helpers' (see `clock_ms`).
    let start = clock_ms();
    // The parameters change only with an SGD step.
    let version = t.iterations();
    let workers = run.helpers.len() + 1;
    for (w, link) in (1..workers).zip(&mut run.helpers) {
        for i in plan.share(w, workers) {
            link.send(&plan, i, &t.model.params, version)?;
        }
    }
    let own_start = clock_ms();
    for i in plan.share(0, workers) {
        let own = work(&mut t.model, &t.data, &plan, i, &mut run.x);
        t.add(own, None);
    }
    let free = clock_ms();
    let own_ms = free - own_start;
    let (mut helpers, mut handling, mut wait, mut in_flight) = (0.0, 0.0, 0.0, 0.0);
    for (w, link) in (1..workers).zip(&mut run.helpers) {
        let mut last: Option<team::Times> = None;
        for _ in plan.share(w, workers) {
            let wait_start = clock_ms();
            let (outcome, chunk) = link.receive(&mut run.grads).await?;
            wait += clock_ms() - wait_start;
            helpers += chunk.work;
            handling += chunk.answered - chunk.taken - chunk.work;
            match last {
                None => in_flight += chunk.taken - start,
                Some(last) => handling += chunk.taken - last.answered,
            }
            last = Some(chunk);
            t.add(outcome, Some(&run.grads));
        }
        // The last reply's way to the lead, from when the lead was free to take it.
        if let Some(last) = last {
            in_flight += (last.arrived - last.answered.max(free)).max(0.0);
        }
    }
    let event = t.finish();
    if plan.task == Task::Train {
        times.steps += 1;
        times.images += (plan.end - plan.first) as u32;
        times.own += own_ms;
        times.helpers += helpers;
        times.handling += handling;
        times.wait += wait;
        times.in_flight += in_flight;
        times.rest += clock_ms() - start - own_ms - wait;
    }
    Ok(event)
}

/// Steps the trainer for about `CHUNK_MS`; returns what happened, the
/// weights if it is time to share them, and the closing message if the
/// run ended.
async fn run_chunk(session: &mut Run) -> Result<(Progress, Option<Vec<f32>>, Option<FromWorker>), String> {
    let mut progress = Progress::default();
    let start = now_ms();
    let (mut train_ms, mut train_images, mut new_best) = (0.0, 0usize, false);
    let batch = session.trainer.protocol.batch_size;
    let mut finished = None;
    while now_ms() - start < CHUNK_MS {
        let t0 = now_ms();
        let event = step(session, &mut progress.steps).await?;
        let dt = now_ms() - t0;
        let batches = session.trainer.train_batches();
        match &event {
            Event::Accumulated { done, .. } => {
                train_images += done - session.done_in_batch;
                session.done_in_batch = *done;
                train_ms += dt;
            }
            Event::Trained { epoch, minibatch, iter, cost } => {
                train_images += batch - session.done_in_batch;
                session.done_in_batch = 0;
                train_ms += dt;
                progress.costs.push((*iter as u32, *cost));
                if iter % 100 == 0 {
                    progress.log.push(format!("training @ iter = {iter} (epoch {epoch}, minibatch {}), cost {cost}", minibatch + 1));
                }
            }
            Event::Evaluating { split, done, total } => {
                let name = if *split == Split::Validation { "validation" } else { "test" };
                progress.evaluating = Some(format!("{name} {done}/{total}"));
            }
            Event::Validated { epoch, minibatch, error, best } => {
                progress.validations.push((*epoch as u32, error * 100.0));
                progress.log.push(format!(
                    "epoch {epoch}, minibatch {minibatch}/{batches}, validation error {:.2} %",
                    error * 100.0
                ));
                new_best |= *best;
            }
            Event::Tested { epoch, minibatch, error } => {
                session.test_score = Some(error * 100.0);
                progress.tests.push((*epoch as u32, error * 100.0));
                progress.log.push(format!(
                    "     epoch {epoch}, minibatch {minibatch}/{batches}, test error of best model {:.2} %",
                    error * 100.0
                ));
            }
            Event::Finished { reason, best_validation, best_iter, test_score } => {
                progress.log.push("Optimization complete.".into());
                if *reason == StopReason::Diverged {
                    progress.log.push("Training diverged (the cost became NaN or infinite): lower the learning rate.".into());
                }
                progress.log.push(format!(
                    "Best validation score of {:.2} % obtained at iteration {}, with test performance {:.2} %",
                    best_validation * 100.0,
                    best_iter + 1,
                    test_score * 100.0
                ));
                let reason = match reason {
                    StopReason::Epochs => "epochs",
                    StopReason::Patience => "patience",
                    StopReason::Diverged => "diverged",
                };
                finished = Some(FromWorker::Finished {
                    reason: reason.into(),
                    best_validation: *best_validation,
                    best_iter: *best_iter,
                    test_score: *test_score,
                });
                break;
            }
        }
    }
    session.elapsed_ms += now_ms() - start;
    if train_ms > 0.0 {
        let rate = train_images as f64 * 1000.0 / train_ms;
        session.images_per_second =
            if session.images_per_second == 0.0 { rate } else { 0.8 * session.images_per_second + 0.2 * rate };
    }
    let t = &session.trainer;
    progress.epoch = t.epoch();
    progress.epochs = t.protocol.epochs;
    progress.batches_per_epoch = t.train_batches();
    progress.iterations = t.iterations();
    progress.minibatch = t.iterations() - (t.epoch() - 1) * t.train_batches();
    progress.images_per_second = session.images_per_second;
    progress.elapsed = session.elapsed_ms / 1000.0;
    progress.best_validation = t.best_validation.is_finite().then_some(t.best_validation * 100.0);
    progress.test_score = session.test_score;
    let share = if finished.is_some() {
        Some(t.best_params.clone())
    } else if new_best || now_ms() - session.last_shared > SHARE_WEIGHTS_MS {
        session.last_shared = now_ms();
        Some(t.model.params.clone())
    } else {
        None
    };
    Ok((progress, share, finished))
}
