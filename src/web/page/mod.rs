//! The page: it starts the training worker, waits for its `Ready` before
//! sending anything, and restarts it if it crashes. Its rooms:
//!
//! | module     | what                                                        |
//! |------------|-------------------------------------------------------------|
//! | `app`      | the page's state, lent to one handler at a time             |
//! | `link`     | the worker: which build, starting it, sending or queueing   |
//! | `messages` | the worker's messages, each to its handler                  |
//! | `controls` | buttons, form, files in; Train, Resume, opening a file      |
//! | `runs`     | the kept run: found at the start, opened, resumed, forgotten|
//! | `model`    | the model in use: origin, pad reading, measured test error  |
//! | `personal` | the user's own digits: corrections, Learn, IDX out and in   |
//! | `dataset`  | MNIST or Fashion-MNIST: where from, the classes' names      |
//! | `status`   | state, status line, log, error box, chart redraws           |
//! | `chart`, `form`, `pad`, `files`, `inside`, `offline`: as named      |

pub mod app;
pub mod chart;
pub mod controls;
pub mod dataset;
pub mod files;
pub mod form;
pub mod inside;
pub mod link;
pub mod messages;
pub mod model;
pub mod offline;
pub mod pad;
pub mod personal;
pub mod runs;
pub mod status;

use wasm_bindgen::prelude::*;
use web_sys::Event;

use self::app::{install, on_panic, with_app, App, RunState};
use self::form::apply_query;
use self::model::{classify_soon, first_model, redraw_model};
use self::pad::Pad;
use self::status::{request_redraw, scheme, set_state, set_status_text};
use super::{document, listen, window};

/// Where the page finds MNIST unless `?data=` says otherwise: beside it,
/// as `cargo xtask fetch-data` and trunk's pre-build hook put it.
pub const DATA_URL: &str = "data/";

/// Entry point of the page's wasm.
pub fn start() {
    std::panic::set_hook(Box::new(on_panic));
    // The page's watchdog (index.html) need not speak: the wasm runs.
    let _ = document().document_element().expect("the page has a root").set_attribute("data-started", "");
    let params = web_sys::UrlSearchParams::new_with_str(&window().location().search().unwrap_or_default()).expect("a query string parses");
    let data_url = params.get("data").map(|u| if u.ends_with('/') { u } else { u + "/" }).unwrap_or(DATA_URL.into());
    let data_url = dataset::choose(&params, &data_url);
    apply_query(&params);

    let worker = link::new_worker();
    let started = worker.is_some();
    install(App::new(worker, data_url.clone(), params.get("test-crash").is_some_and(|v| v != "page")));
    let pad = Pad::install(classify_soon);
    with_app(|app| app.pad = Some(pad));
    controls::wire();
    personal::wire();
    set_state(if started { RunState::Loading } else { RunState::Error });
    set_status_text("starting the training worker ...");
    inside::draw_maps(None, scheme().palette.ink);
    watch_layout();
    offline::register(&data_url);
    request_redraw();
    wasm_bindgen_futures::spawn_local(first_model());
    if params.get("test-crash").as_deref() == Some("page") {
        // `?test-crash=page`: a panic on the main thread, with the state
        // lent out, for the end-to-end test to see the page go on.
        let crash = Closure::once_into_js(|| with_app(|_| -> () { panic!("a deliberate panic, asked for by ?test-crash=page") }));
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(crash.unchecked_ref(), 1000);
    }
}

/// Redraws every canvas at its new size when the window's size, its
/// pixel ratio or the colour scheme changes.
fn watch_layout() {
    let redraw = |_: Event| {
        request_redraw();
        redraw_model();
    };
    listen(&window(), "resize", redraw);
    if let Ok(Some(query)) = window().match_media("(prefers-color-scheme: dark)") {
        listen(&query, "change", redraw);
    }
}
