//! The page's state, and the one way to reach it: `with_app` lends it to
//! one handler at a time.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::rc::Rc;

use web_sys::Worker;

use super::chart::ChartData;
use super::model::Origin;
use super::pad::Pad;
use super::status::show_error;
use crate::confusion::Prediction;
use crate::model::LeNet5;

/// Every value `#status[data-state]` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Loading,
    Ready,
    Training,
    Paused,
    Stopped,
    Done,
    Error,
}

impl RunState {
    pub fn name(self) -> &'static str {
        match self {
            RunState::Loading => "loading",
            RunState::Ready => "ready",
            RunState::Training => "training",
            RunState::Paused => "paused",
            RunState::Stopped => "stopped",
            RunState::Done => "done",
            RunState::Error => "error",
        }
    }

    /// A run is in progress (training or paused).
    pub fn in_run(self) -> bool {
        matches!(self, RunState::Training | RunState::Paused)
    }
}

/// The run the worker keeps (its checkpoint stays there), as the page
/// shows it.
#[derive(Clone, Copy, Debug)]
pub struct KeptRun {
    /// How many workers train it.
    pub workers: usize,
    /// It has not finished: Resume continues it.
    pub resumable: bool,
}

pub struct App {
    /// None while no worker could be started.
    pub worker: Option<Worker>,
    pub worker_ready: bool,
    pub data_ready: bool,
    pub state: RunState,
    pub data_url: String,
    pub chart: ChartData,
    pub frame_pending: bool,
    /// The chart's `figures` revision the figures table shows.
    pub figures_shown: Option<u64>,
    /// The model the pad reads with, and where it came from.
    pub model: Option<LeNet5>,
    pub origin: Option<Origin>,
    /// Bumped whenever the model in use becomes another one; the worker's
    /// `Evaluated` of an older id is stale.
    pub model_id: u32,
    /// The id of the model `predictions` are for.
    pub evaluated: Option<u32>,
    pub predictions: Vec<Prediction>,
    /// The confusion cell whose images the gallery shows.
    pub gallery: Option<(usize, usize)>,
    pub pad: Option<Rc<RefCell<Pad>>>,
    /// The run the worker keeps, if any.
    pub kept: Option<KeptRun>,
    /// A run is stored but cannot be used: Forget clears it.
    pub unreadable: bool,
    /// MNIST is not on the server: Train waits for a rebuild with it.
    pub data_missing: bool,
    /// What clicks before the worker was ready asked for, in order.
    pub queued: Vec<Queued>,
    /// `?test-crash`: ask the first worker to panic once it is ready, so
    /// that the end-to-end test sees the page recover.
    pub crash_test: bool,
    /// The user's own digits (see `personal`).
    pub personal: crate::data::Dataset,
    /// The id of the latest Learn, and the test error of the model it started from.
    pub learning: u32,
    pub learned_before: Option<String>,
}

impl App {
    pub fn new(worker: Option<Worker>, data_url: String, crash_test: bool) -> App {
        App {
            worker,
            worker_ready: false,
            data_ready: false,
            state: RunState::Loading,
            data_url,
            chart: ChartData::default(),
            frame_pending: false,
            figures_shown: None,
            model: None,
            origin: None,
            model_id: 0,
            evaluated: None,
            predictions: Vec::new(),
            gallery: None,
            pad: None,
            kept: None,
            unreadable: false,
            data_missing: false,
            queued: Vec::new(),
            crash_test,
            personal: crate::data::Dataset::default(),
            learning: 0,
            learned_before: None,
        }
    }
}

/// What a click asks of the worker before it is ready: done on `Ready`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Queued {
    Train,
    Resume,
    Forget,
    SendRun,
    /// A checkpoint file the user opened, to be kept.
    Keep {
        name: String,
        checkpoint: Vec<u8>,
        workers: usize,
    },
}

/// The page's state, lent to one handler at a time. Unlike a `RefCell`'s,
/// the loan ends even when the handler panics: a panic traps the wasm
/// instance, so the frame holding the loan never runs again, and the
/// panic hook (`on_panic`) ends it. A `RefCell` would stay borrowed for
/// good, and every later click, stroke and message would panic too.
struct AppCell {
    lent: Cell<bool>,
    app: UnsafeCell<Option<App>>,
}

thread_local! {
    static APP: AppCell = const { AppCell { lent: Cell::new(false), app: UnsafeCell::new(None) } };
}

/// Makes `app` the page's state, once, at its start.
pub fn install(app: App) {
    APP.with(|cell| {
        assert!(!cell.lent.get(), "the app is installed before any handler runs");
        // SAFETY: nothing has borrowed the app yet (`lent` is false and
        // handlers run only after the start that calls this).
        *unsafe { &mut *cell.app.get() } = Some(app);
    });
}

#[track_caller]
pub fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> R {
    APP.with(|cell| {
        assert!(!cell.lent.replace(true), "the app's state is lent out already: with_app inside with_app");
        // SAFETY: `lent` was false, so no other reference to the app is
        // alive: every loan ends when its handler returns (below) or, if
        // it panicked, in `on_panic`, after which its frame never runs
        // again (panics abort in wasm32). The page is single-threaded.
        let app = unsafe { &mut *cell.app.get() };
        let result = f(app.as_mut().expect("the app has started"));
        cell.lent.set(false);
        result
    })
}

/// A panic is a bug, but it must not brick the page: the state's loan
/// ends, `#error` says what happened, and the page goes on.
pub fn on_panic(info: &std::panic::PanicHookInfo) {
    APP.with(|cell| cell.lent.set(false));
    show_error(&format!("the page hit a bug ({info}). It goes on; a reload starts it afresh."));
    console_error_panic_hook::hook(info);
}
