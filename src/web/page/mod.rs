//! The page: the form, the buttons, the status line, the log and the
//! error box; the chart and the pad are their own modules. It starts the
//! training worker and waits for its `Ready` before sending anything; if
//! the worker crashes, it says so and starts a new one.

pub mod chart;
pub mod form;
pub mod pad;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{HtmlButtonElement, HtmlCanvasElement, HtmlElement, HtmlInputElement, HtmlSelectElement, MessageEvent, Worker};

use self::chart::ChartData;
use self::form::{apply_query, fill_form, preset, read_form, read_workers, FORM_FIELDS};
use self::pad::Pad;
use super::js::{decode, decode_weights, encode};
use super::wire::{FromWorker, Progress, ToWorker};
use super::{element, window};
use crate::model::LeNet5;
use crate::train::log::{self, format_duration};
use crate::train::StopReason;

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
    model: Option<LeNet5>,
    pad: Option<Rc<RefCell<Pad>>>,
    last: Progress,
    /// A click on Train that came before the worker was ready.
    start_when_ready: bool,
    /// `?test-crash`: ask the first worker to panic once it is ready, so
    /// that the end-to-end test sees the page recover.
    crash_test: bool,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> R {
    APP.with(|a| f(a.borrow_mut().as_mut().expect("the app has started")))
}

/// Entry point of the page's wasm.
pub fn start() {
    console_error_panic_hook::set_once();
    let params = web_sys::UrlSearchParams::new_with_str(&window().location().search().unwrap_or_default())
        .expect("a query string parses");
    let data_url = params.get("data").map(|u| if u.ends_with('/') { u } else { u + "/" }).unwrap_or("data/".into());
    apply_query(&params);

    let worker = new_worker();
    APP.with(|a| {
        *a.borrow_mut() = Some(App {
            worker,
            worker_ready: false,
            data_ready: false,
            state: RunState::Loading,
            data_url,
            chart: ChartData::default(),
            frame_pending: false,
            model: None,
            pad: None,
            last: Progress::default(),
            start_when_ready: false,
            crash_test: params.has("test-crash"),
        })
    });
    let pad = Pad::install(classify_soon);
    with_app(|app| app.pad = Some(pad));
    wire_controls();
    set_state(RunState::Loading);
    set_status_text("starting the training worker ...");
    request_redraw();
    if with_app(|app| app.worker.is_none()) {
        set_state(RunState::Error);
    }
}

/// The training worker, whose messages go to `on_worker_message`; None
/// (with the reason shown) where no worker can start, as on a page
/// opened from `file://`. It starts its helper workers itself.
fn new_worker() -> Option<Worker> {
    // trunk names the worker's loader after its binary (see index.html).
    let worker = match Worker::new("./worker_loader.js") {
        Ok(worker) => worker,
        Err(e) => {
            let why = super::fetch::describe(&e);
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

/// Ends the worker and starts a new one; the run in progress is lost, the
/// page stays usable.
fn restart_worker(why: &str) {
    let old = with_app(|app| {
        app.worker_ready = false;
        app.data_ready = false;
        app.start_when_ready = false;
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
    with_app(|app| {
        if let Some(worker) = &app.worker {
            // A worker that has gone away reports it through its error handler.
            let _ = worker.post_message(&encode(message));
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
    for id in FORM_FIELDS {
        let input: HtmlInputElement = element(id);
        let on_input = Closure::<dyn FnMut()>::new(|| {
            // A value that no longer matches the preset makes it custom.
            let select: HtmlSelectElement = element("preset");
            if preset(&select.value()).is_some_and(|p| read_form().ok() != Some(p)) {
                select.set_value("custom");
            }
        });
        input.set_oninput(Some(on_input.as_ref().unchecked_ref()));
        on_input.forget(); // lives as long as the page
    }
}

fn start_training() {
    let settings = match read_form() {
        Ok(s) => s,
        Err(e) => return show_error(&e),
    };
    let protocol = match settings.protocol(crate::data::TRAIN_SIZE) {
        Ok(p) => p,
        Err(e) => return show_error(&e),
    };
    let workers = match read_workers() {
        Ok(n) => n,
        Err(e) => return show_error(&e),
    };
    show_error("");
    let (ready, data_url) = with_app(|app| (app.worker_ready, app.data_url.clone()));
    with_app(|app| app.start_when_ready = !ready);
    if !ready {
        set_status_text("starting the training worker ...");
        return;
    }
    with_app(|app| {
        app.chart.clear();
        app.last = Progress::default();
    });
    element::<HtmlElement>("log").set_text_content(Some(""));
    log_line(&log::header(&protocol, workers, "worker"));
    set_state(RunState::Training);
    set_status_text(if with_app(|app| app.data_ready) { "starting ..." } else { "loading MNIST ..." });
    send(&ToWorker::Start { settings, data_url, workers });
    request_redraw();
}

fn on_worker_message(data: JsValue) {
    if let Some(params) = decode_weights(&data) {
        with_app(|app| match &mut app.model {
            Some(model) => model.params.copy_from_slice(&params),
            None => app.model = Some(LeNet5::from_params(params)),
        });
        classify_soon();
        return;
    }
    let message = match decode::<FromWorker>(data) {
        Ok(m) => m,
        Err(e) => return show_error(&e),
    };
    match message {
        FromWorker::Ready => {
            let (url, start, crash) = with_app(|app| {
                app.worker_ready = true;
                (app.data_url.clone(), app.start_when_ready, std::mem::take(&mut app.crash_test))
            });
            if crash {
                return send(&ToWorker::Crash);
            }
            // Helpers started now are ready by the time Train is pressed.
            send(&ToWorker::Load { data_url: url, workers: read_workers().unwrap_or(1) });
            set_status_text("loading MNIST ...");
            if start {
                start_training();
            }
        }
        FromWorker::Download { file, loaded, total } => {
            let mb = |b: f64| format!("{:.1}", b / 1e6);
            let of = total.map(|t| format!(" of {} MB", mb(t))).unwrap_or(" MB".into());
            set_status_text(&format!("downloading {file}: {}{of}", mb(loaded)));
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
        FromWorker::Paused => set_state(RunState::Paused),
        FromWorker::Resumed => set_state(RunState::Training),
        FromWorker::Stopped => {
            if matches!(with_app(|app| app.state), RunState::Training | RunState::Paused) {
                set_state(RunState::Stopped);
                log_line("... stopped");
            }
        }
        FromWorker::Finished { reason, .. } => {
            set_state(RunState::Done);
            if reason == StopReason::Diverged.name() {
                show_error(log::stop_reason(StopReason::Diverged));
            }
        }
        FromWorker::Crashed { message } => restart_worker(&format!("the training worker crashed ({message})")),
        FromWorker::Error { message } => {
            // A failed run leaves the page usable: Train tries again.
            let data_ready = with_app(|app| app.data_ready);
            set_state(if data_ready { RunState::Ready } else { RunState::Error });
            show_error(&message);
        }
    }
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

fn set_state(state: RunState) {
    with_app(|app| app.state = state);
    let status: HtmlElement = element("status");
    let _ = status.set_attribute("data-state", state.name());
    let training = matches!(state, RunState::Training | RunState::Paused);
    element::<HtmlButtonElement>("train").set_disabled(training);
    element::<HtmlButtonElement>("pause").set_disabled(!training);
    element::<HtmlButtonElement>("stop").set_disabled(!training);
    element::<HtmlButtonElement>("pause").set_text_content(Some(if state == RunState::Paused { "Resume" } else { "Pause" }));
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
            chart::draw(&element::<HtmlCanvasElement>("chart"), &app.chart);
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
            let probs = match (&image, app.model.as_mut()) {
                (Some(image), Some(model)) => Some(model.forward(image).to_vec()),
                _ => None,
            };
            pad::show_preview(&preview, image.as_deref());
            pad::show_prediction(probs.as_deref());
            if app.model.is_none() && image.is_some() {
                element::<HtmlElement>("guess").set_text_content(Some("…"));
            }
        });
    });
    window().request_animation_frame(frame.unchecked_ref()).expect("animation frames exist");
}
