//! The browser shell around the core (wasm32 only).
//!
//! | module     | runs in       | what                                               |
//! |------------|---------------|----------------------------------------------------|
//! | `app`      | page          | controls, status, log; talks to the worker         |
//! | `form`     | page          | presets, query parameters, the form as `Settings`  |
//! | `chart`    | page          | the live error charts: data model and drawing      |
//! | `pad`      | page          | the drawing pad and the classification it feeds    |
//! | `worker`   | Web Worker    | downloads MNIST, runs the core's `Trainer` in chunks |
//! | `team`     | Web Workers   | a step's chunks shared out over helper workers     |
//! | `download` | Web Worker    | fetch with byte-level progress                     |
//! | `protocol` | both          | the messages between page and worker               |
//! | `bench`    | bench page    | timed training, inference and kernels              |

pub mod app;
pub mod bench;
pub mod chart;
pub mod download;
pub mod form;
pub mod pad;
pub mod protocol;
pub mod team;
pub mod worker;

use wasm_bindgen::JsCast;

pub(crate) fn window() -> web_sys::Window {
    web_sys::window().expect("a window should exist on the page")
}

pub(crate) fn document() -> web_sys::Document {
    window().document().expect("the page should have a document")
}

/// The element with this id, as the type the page's markup gives it.
#[track_caller]
pub(crate) fn element<T: JsCast>(id: &str) -> T {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("#{id} should exist"))
        .dyn_into::<T>()
        .unwrap_or_else(|_| panic!("#{id} has an unexpected element type"))
}

/// Milliseconds from `performance.now()`, which pages, workers and Node
/// all have as `globalThis.performance`.
pub(crate) fn now_ms() -> f64 {
    thread_local! {
        static PERFORMANCE: web_sys::Performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .expect("globalThis.performance exists")
            .unchecked_into();
    }
    PERFORMANCE.with(|p| p.now())
}

/// Milliseconds since 1970 on the monotonic clock of `now_ms`
/// (`performance.timeOrigin + performance.now()`): comparable between a
/// page and its workers, whose `now_ms` start at different times.
pub(crate) fn clock_ms() -> f64 {
    thread_local! {
        static ORIGIN: f64 = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .and_then(|p| js_sys::Reflect::get(&p, &"timeOrigin".into()))
            .ok()
            .and_then(|t| t.as_f64())
            .unwrap_or(0.0);
    }
    ORIGIN.with(|o| o + now_ms())
}

/// "1m05s", "2h03m": durations for the status line.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}
