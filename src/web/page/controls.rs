//! The page's controls: the buttons, the form, the file input and drops,
//! the confusion table's cells; and what Train, Resume and opening a
//! file start.

use wasm_bindgen::JsCast;
use web_sys::{DragEvent, Event, HtmlElement, HtmlInputElement, HtmlSelectElement, KeyboardEvent};

use super::app::{with_app, Queued, RunState};
use super::files::{self, Opened};
use super::form::{fill_form, preset, read_form, read_workers, FORM_FIELDS};
use super::link::{send, send_or_queue};
use super::model::{ask_gallery, classify_soon, use_model, Origin};
use super::runs::{download_run, forget_run, open_run};
use super::status::{loading_text, report, request_redraw, set_state, set_status_text, show_error};
use crate::data::TRAIN_SIZE;
use crate::web::wire::ToWorker;
use crate::web::{document, element, listen};

/// Calls `f` on every click of the button `#id`.
fn on_click(id: &str, mut f: impl FnMut() + 'static) {
    listen(&element::<HtmlElement>(id), "click", move |_: Event| f());
}

/// Wires every control; each listener lives as long as the page.
pub fn wire() {
    on_click("train", start_training);
    on_click("pause", || match with_app(|app| app.state) {
        RunState::Training => send(&ToWorker::Pause),
        RunState::Paused => send(&ToWorker::Resume),
        _ => {}
    });
    on_click("stop", || send(&ToWorker::Stop));
    on_click("resume", resume_run);
    on_click("forget", forget_run);
    on_click("download-run", download_run);
    on_click("download", || {
        let bytes = with_app(|app| app.model.as_ref().map(|m| crate::weights::save(&m.params)));
        match bytes {
            Some(bytes) => report(files::download(&bytes, "lenet5.safetensors")),
            None => show_error("there is no model to download yet"),
        }
    });
    on_click("download-onnx", || {
        let classes = super::dataset::collection().classes();
        let bytes = with_app(|app| app.model.as_ref().map(|m| crate::onnx::export(&m.params, classes)));
        match bytes {
            Some(bytes) => report(files::download(&bytes, "lenet5.onnx")),
            None => show_error("there is no model to download yet"),
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
    on_click("clear", || {
        with_app(|app| {
            if let Some(pad) = &app.pad {
                pad.borrow().clear();
            }
        });
        classify_soon();
    });
    wire_files();
    wire_confusion();
    wire_form();
}

/// A file chosen or dropped anywhere on the page is opened.
fn wire_files() {
    listen(&element::<HtmlInputElement>("upload"), "change", |_: Event| {
        let input: HtmlInputElement = element("upload");
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            wasm_bindgen_futures::spawn_local(open_file(file));
        }
        // The same file chosen again is a new change.
        input.set_value("");
    });
    let body = document().body().expect("the page has a body");
    listen(&body, "dragover", |e: DragEvent| e.prevent_default());
    listen(&body, "drop", |e: DragEvent| {
        e.prevent_default();
        if let Some(file) = e.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            wasm_bindgen_futures::spawn_local(open_file(file));
        }
    });
}

/// A cell of the confusion table, clicked or entered, opens its gallery.
fn wire_confusion() {
    let table: HtmlElement = element("confusion");
    listen(&table, "click", |e: Event| {
        let Some(cell) = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).and_then(|t| t.closest("td").ok().flatten()) else {
            return;
        };
        let at = |k: &str| cell.get_attribute(k).and_then(|v| v.parse::<usize>().ok());
        if let (Some(truth), Some(pred)) = (at("data-true"), at("data-pred")) {
            with_app(|app| app.gallery = Some((truth, pred)));
            ask_gallery();
        }
    });
    listen(&table, "keydown", |e: KeyboardEvent| {
        if e.key() == "Enter" {
            if let Some(cell) = e.target().and_then(|t| t.dyn_into::<HtmlElement>().ok()) {
                cell.click();
            }
        }
    });
}

/// A preset fills the form; a value that no longer matches the preset
/// makes it custom.
fn wire_form() {
    listen(&element::<HtmlSelectElement>("preset"), "change", |_: Event| {
        if let Some(s) = preset(&element::<HtmlSelectElement>("preset").value()) {
            fill_form(&s);
        }
    });
    let mark_custom = |_: Event| {
        let select: HtmlSelectElement = element("preset");
        if preset(&select.value()).is_some_and(|p| read_form().ok() != Some(p)) {
            select.set_value("custom");
        }
    };
    for id in FORM_FIELDS {
        listen(&element::<HtmlInputElement>(id), "input", mark_custom);
    }
    listen(&element::<HtmlSelectElement>("schedule"), "change", mark_custom);
}

/// Train: a new run with the form's settings.
pub fn start_training() {
    let settings = match read_form() {
        Ok(s) => s,
        Err(e) => return show_error(&e),
    };
    if let Err(e) = settings.protocol(TRAIN_SIZE) {
        return show_error(&e);
    }
    let workers = match read_workers() {
        Ok(n) => n,
        Err(e) => return show_error(&e),
    };
    show_error("");
    if !send_or_queue(Queued::Train) {
        return;
    }
    with_app(|app| app.chart.clear());
    super::personal::forget_model();
    element::<HtmlElement>("log").set_text_content(Some(""));
    set_state(RunState::Training);
    set_status_text(&if with_app(|app| app.data_ready) { "starting ...".into() } else { loading_text() });
    let data_url = with_app(|app| app.data_url.clone());
    send(&ToWorker::Start { settings, data_url, workers });
    request_redraw();
}

/// Resume: the kept run continues where it was saved.
pub fn resume_run() {
    let Some(kept) = with_app(|app| app.kept) else { return };
    if !send_or_queue(Queued::Resume) {
        return;
    }
    show_error("");
    set_state(RunState::Training);
    set_status_text(&if with_app(|app| app.data_ready) { "resuming ...".into() } else { loading_text() });
    let data_url = with_app(|app| app.data_url.clone());
    send(&ToWorker::Restore { data_url, workers: kept.workers });
}

/// A file opened or dropped: a weights file becomes the model in use; a
/// checkpoint becomes the kept run (its best model in use, Resume
/// offered). Anything else is refused with a reason, and nothing changes.
async fn open_file(file: web_sys::File) {
    let name = file.name();
    let opened = files::read(&file).await.and_then(|bytes| files::open(&bytes).map(|o| (o, bytes)));
    match opened {
        Err(e) => show_error(&format!("{name}: {e}. The model in use stays.")),
        Ok((Opened::Weights(params), _)) => {
            show_error("");
            super::personal::forget_model();
            use_model(Origin::Uploaded, params);
        }
        Ok((Opened::Run(snapshot), bytes)) => {
            show_error("");
            open_run(name, *snapshot, bytes, read_workers().unwrap_or(1)).await;
        }
    }
}
