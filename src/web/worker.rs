//! The training worker. It downloads and parses MNIST, then drives the
//! core's `Trainer` in chunks of about `CHUNK_MS`, yielding to its event
//! loop between chunks so that Pause, Resume and Stop act at once. After
//! each chunk it posts a `Progress`, and now and then the weights.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::download::fetch_bytes;
use super::now_ms;
use super::protocol::{decode, encode, encode_weights, FromWorker, Progress, Settings, ToWorker};
use crate::data::{Mnist, FILES};
use crate::train::{Event, Split, StopReason, Trainer};

/// Work per chunk: long enough that messaging costs nothing, short enough
/// that a click on Pause is answered within a tenth of a second.
const CHUNK_MS: f64 = 60.0;
/// How often the page gets fresh weights to classify with.
const SHARE_WEIGHTS_MS: f64 = 1000.0;

struct Session {
    trainer: Trainer,
    paused: bool,
    /// Training time so far, pauses excluded, and training throughput.
    elapsed_ms: f64,
    images_per_second: f64,
    last_shared: f64,
    done_in_batch: usize,
    /// Test error of the best model, once its test pass has run.
    test_score: Option<f64>,
}

#[derive(Default)]
struct State {
    data: Option<Mnist>,
    loading: bool,
    session: Option<Session>,
    /// A run asked for while the data was still loading.
    queued: Option<Settings>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static TICK: Closure<dyn FnMut()> = Closure::new(tick);
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

/// Entry point of the worker's wasm.
pub fn start() {
    console_error_panic_hook::set_once();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| match decode::<ToWorker>(e.data()) {
        Ok(message) => handle(message),
        Err(error) => post(&FromWorker::Error { message: error }),
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler must outlive this function: it serves the worker's whole life.
    on_message.forget();
    post(&FromWorker::Ready);
}

fn handle(message: ToWorker) {
    match message {
        ToWorker::Load { data_url } => load(data_url),
        ToWorker::Start { settings, data_url } => {
            let ready = STATE.with(|s| {
                let mut s = s.borrow_mut();
                // A new run: the old one's data comes back to the pool.
                if let Some(old) = s.session.take() {
                    s.data = Some(old.trainer.data);
                }
                s.queued = Some(settings);
                s.data.is_some()
            });
            if ready {
                start_queued();
            } else {
                load(data_url);
            }
        }
        ToWorker::Pause => set_paused(true),
        ToWorker::Resume => set_paused(false),
        ToWorker::Stop => {
            let stopped = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.queued = None;
                let session = s.session.take()?;
                s.data = Some(session.trainer.data);
                Some(session.trainer.best_params)
            });
            if let Some(best) = stopped {
                post_weights(&best);
            }
            post(&FromWorker::Stopped);
        }
    }
}

fn set_paused(paused: bool) {
    let changed = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let session = s.session.as_mut().filter(|x| !x.trainer.is_finished() && x.paused != paused)?;
        session.paused = paused;
        Some(())
    });
    if changed.is_some() {
        post(if paused { &FromWorker::Paused } else { &FromWorker::Resumed });
        if !paused {
            schedule();
        }
    }
}

/// Downloads and parses the four files, unless that is done or under way.
fn load(data_url: String) {
    let busy = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let busy = s.loading || s.data.is_some();
        s.loading = true;
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
                STATE.with(|s| s.borrow_mut().data = Some(mnist));
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

fn start_queued() {
    let started = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let settings = s.queued.take()?;
        let data = s.data.take()?;
        let protocol = settings.protocol();
        if let Err(message) = protocol.check(data.train.len()) {
            s.data = Some(data);
            return Some(Err(message));
        }
        let trainer = Trainer::new(protocol, data).expect("settings were checked");
        let params = trainer.model.params.clone();
        s.session =
            Some(Session { trainer, paused: false, elapsed_ms: 0.0, images_per_second: 0.0, last_shared: now_ms(), done_in_batch: 0, test_score: None });
        Some(Ok(params))
    });
    match started {
        Some(Ok(params)) => {
            post_weights(&params);
            schedule();
        }
        Some(Err(message)) => post(&FromWorker::Error { message }),
        None => {}
    }
}

fn schedule() {
    TICK.with(|tick| {
        scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), 0)
            .expect("setTimeout works in workers");
    });
}

/// One chunk of training.
fn tick() {
    let outcome = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let session = s.session.as_mut().filter(|x| !x.paused && !x.trainer.is_finished())?;
        Some(run_chunk(session))
    });
    let Some((progress, share, finished)) = outcome else { return };
    post(&FromWorker::Progress(progress));
    if let Some(params) = share {
        post_weights(&params);
    }
    match finished {
        Some(message) => post(&message),
        None => schedule(),
    }
}

/// Steps the trainer for about `CHUNK_MS`; returns what happened, the
/// weights if it is time to share them, and the closing message if the
/// run ended.
fn run_chunk(session: &mut Session) -> (Progress, Option<Vec<f32>>, Option<FromWorker>) {
    let mut progress = Progress::default();
    let start = now_ms();
    let (mut train_ms, mut train_images, mut new_best) = (0.0, 0usize, false);
    let batch = session.trainer.protocol.batch_size;
    let mut finished = None;
    while now_ms() - start < CHUNK_MS {
        let t0 = now_ms();
        let event = session.trainer.step();
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
                    progress.log.push(format!("training @ iter = {iter} (epoch {epoch}, minibatch {})", minibatch + 1));
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
    (progress, share, finished)
}
