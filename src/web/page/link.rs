//! The page's link to its training worker: which build to start (relaxed
//! SIMD where the browser validates it), starting and restarting it, and
//! sending it messages, or queueing them until its `Ready`.

use web_sys::{HtmlElement, MessageEvent, Worker};

use super::app::{with_app, Queued, RunState};
use super::messages::on_worker_message;
use super::status::{set_state, set_status_text, show_error};
use crate::web::js::{describe, pack};
use crate::web::wire::ToWorker;
use crate::web::{element, listen, window};

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

/// The training worker, whose messages go to `on_worker_message`; None
/// (with the reason shown) where no worker can start, as on a page
/// opened from `file://`. It starts its helper workers itself.
pub fn new_worker() -> Option<Worker> {
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
    // A worker replaced by a new one may still have posted: only the
    // current one is heard.
    let current = |w: &Worker| with_app(|app| app.worker.as_ref() == Some(w));
    let this = worker.clone();
    listen(&worker, "message", move |e: MessageEvent| {
        if current(&this) {
            on_worker_message(e.data());
        }
    });
    // The script failed to load, or threw outside Rust's panic hook.
    let this = worker.clone();
    listen(&worker, "error", move |e: web_sys::ErrorEvent| {
        if current(&this) {
            restart_worker(&format!("the training worker failed: {}", e.message()));
        }
    });
    Some(worker)
}

/// Ends the worker and starts a new one; the run in progress is lost, the
/// page stays usable.
pub fn restart_worker(why: &str) {
    let old = with_app(|app| {
        app.worker_ready = false;
        app.data_ready = false;
        app.queued.clear();
        app.worker.take()
    });
    if let Some(old) = old {
        old.terminate();
    }
    show_error(&format!("{why}. A new worker was started: press Train to try again."));
    let worker = new_worker();
    let started = worker.is_some();
    with_app(|app| app.worker = worker);
    set_state(if started { RunState::Loading } else { RunState::Error });
    set_status_text("starting the training worker ...");
}

pub fn send(message: &ToWorker) {
    send_with(message, None);
}

/// Sends `message` with `payload` beside it, its buffer transferred.
pub fn send_with(message: &ToWorker, payload: Option<&js_sys::Object>) {
    let (packed, transfer) = pack(message, payload);
    with_app(|app| {
        if let Some(worker) = &app.worker {
            // A worker that has gone away reports it through its error handler.
            let _ = worker.post_message_with_transfer(&packed, &transfer);
        }
    });
}

/// Whether the worker is ready for what a click asks; if not, the click
/// waits in the queue for its `Ready`.
pub fn send_or_queue(queued: Queued) -> bool {
    let ready = with_app(|app| app.worker_ready);
    if !ready {
        with_app(|app| {
            if !app.queued.contains(&queued) {
                app.queued.push(queued);
            }
        });
        set_status_text("starting the training worker ...");
    }
    ready
}
