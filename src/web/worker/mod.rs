//! The training worker: it downloads MNIST, drives runs (`run`), predicts
//! the test set for the page between slices (`evaluate`) and keeps the
//! run across reloads (`keep`). A worker told to `Serve` becomes a helper
//! instead (see `helper`).
//!
//! | module     | what                                                       |
//! |------------|------------------------------------------------------------|
//! | `mod`      | its stages, the messages' dispatch, posting to the page    |
//! | `run`      | a run driven in slices: progress, weights, checkpoints     |
//! | `evaluate` | the page's evaluations and gallery images                  |
//! | `keep`     | the kept run: in this worker and in IndexedDB              |
//! | `learn`    | the model fine-tuned on the user's own digits              |

mod evaluate;
mod keep;
mod learn;
mod run;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use self::run::{Control, Run, Start};
use super::fetch::{download_mnist, DownloadError};
use super::js::{pack, payload_f32, payload_u8, unpack};
use super::lead::Link;
use super::wire::{FromWorker, ToWorker, MAX_WORKERS};
use crate::data::Mnist;

/// The data set, and the base URL it came from.
struct Loaded {
    mnist: Arc<Mnist>,
    data_url: String,
}

/// What the worker is doing. Each stage holds what exists in it, so that
/// a run and idle data, say, cannot both be there.
enum Stage {
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
    static STAGE: RefCell<Stage> = const { RefCell::new(Stage::Empty { helpers: Vec::new() }) };
}

/// The stage, taken out to be moved on (each handler puts one back).
fn take_stage() -> Stage {
    STAGE.with(|p| std::mem::replace(&mut *p.borrow_mut(), Stage::Empty { helpers: Vec::new() }))
}

fn set_stage(stage: Stage) {
    STAGE.with(|p| *p.borrow_mut() = stage);
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

fn report(result: Result<(), String>) {
    if let Err(message) = result {
        post(&FromWorker::Error { message });
    }
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
    // The `onmessage` property, not a listener: a worker told to `Serve`
    // becomes a helper, whose handler takes the property over.
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler serves the worker's whole life.
    on_message.forget();
    post(&FromWorker::Ready);
}

fn running() -> Option<Rc<Control>> {
    STAGE.with(|p| match &*p.borrow() {
        Stage::Running { control, .. } => Some(control.clone()),
        _ => None,
    })
}

/// The data set, once it is here.
fn data() -> Option<Arc<Mnist>> {
    STAGE.with(|p| match &*p.borrow() {
        Stage::Idle { data, .. } => Some(data.mnist.clone()),
        Stage::Running { data, .. } => Some(data.clone()),
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
        ToWorker::Load { data_url, workers } => prepare(data_url, workers),
        ToWorker::Start { settings, data_url, workers } => queue(Start { run: Run::New(settings), workers }, data_url),
        ToWorker::Restore { data_url, workers } => {
            wasm_bindgen_futures::spawn_local(async move {
                match keep::kept_run().await {
                    Ok(kept) => queue(Start { run: Run::Resume(kept), workers }, data_url),
                    Err(e) => post(&FromWorker::Error { message: format!("the run cannot be resumed: {e}") }),
                }
            });
        }
        ToWorker::Keep { name, workers } => match payload_u8(payload) {
            Ok(checkpoint) => keep::keep_file(name, checkpoint, workers),
            Err(message) => post(&FromWorker::Error { message }),
        },
        ToWorker::Forget => keep::forget(),
        ToWorker::SendRun => keep::send_run(),
        ToWorker::Evaluate { id } => match payload_f32(payload) {
            Ok(params) => evaluate::ask(id, params),
            Err(message) => post(&FromWorker::Error { message }),
        },
        ToWorker::Images { indices } => evaluate::images(&indices),
        ToWorker::Learn { id, labels } => match payload_f32(payload) {
            Ok(floats) => learn::learn(id, labels, floats),
            Err(message) => post(&FromWorker::NotLearned { id, message }),
        },
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
        ToWorker::Stop => match take_stage() {
            Stage::Running { control, data, .. } => {
                control.stop.set(Some(true));
                control.wake();
                set_stage(Stage::Running { control, queued: None, data });
            }
            Stage::Loading { helpers, .. } => {
                set_stage(Stage::Loading { helpers, queued: None });
                post(&FromWorker::Stopped);
            }
            other => {
                set_stage(other);
                post(&FromWorker::Stopped);
            }
        },
    }
}

/// Starts downloading MNIST if it is not here, and the helpers a run on
/// `workers` will need.
fn prepare(data_url: String, workers: usize) {
    let stage = match take_stage() {
        Stage::Empty { mut helpers } => {
            report(ensure_helpers(&mut helpers, workers.saturating_sub(1)));
            load(data_url);
            Stage::Loading { helpers, queued: None }
        }
        Stage::Idle { data, mut helpers } => {
            report(ensure_helpers(&mut helpers, workers.saturating_sub(1)));
            Stage::Idle { data, helpers }
        }
        other => other,
    };
    set_stage(stage);
}

/// Starts `start` once the data is here and the run before it has ended.
fn queue(start: Start, data_url: String) {
    match take_stage() {
        Stage::Empty { helpers } => {
            load(data_url);
            set_stage(Stage::Loading { helpers, queued: Some(start) });
        }
        Stage::Loading { helpers, .. } => set_stage(Stage::Loading { helpers, queued: Some(start) }),
        Stage::Idle { data, helpers } => run::begin(start, data, helpers),
        // The run gives the data back when it ends, and the queued one starts then.
        Stage::Running { control, data, .. } => {
            control.stop.set(Some(false));
            control.wake();
            set_stage(Stage::Running { control, queued: Some(start), data });
        }
    }
}

/// Downloads and parses the four files, then starts the queued run.
fn load(data_url: String) {
    wasm_bindgen_futures::spawn_local(async move {
        let result = download_mnist(&data_url, |file, loaded, total| post(&FromWorker::Download { file, loaded, total })).await;
        let Stage::Loading { helpers, queued } = take_stage() else { unreachable!("only a load leaves Loading") };
        match result {
            Ok(mnist) => {
                post(&FromWorker::DataReady { train: mnist.train.len(), valid: mnist.valid.len(), test: mnist.test.len() });
                let data = Loaded { mnist: Arc::new(mnist), data_url };
                match queued {
                    Some(start) => run::begin(start, data, helpers),
                    None => set_stage(Stage::Idle { data, helpers }),
                }
                evaluate::when_loaded();
            }
            Err(DownloadError { message, not_found }) => {
                set_stage(Stage::Empty { helpers });
                post(&if not_found { FromWorker::DataMissing { message } } else { FromWorker::Error { message } });
            }
        }
    });
}
