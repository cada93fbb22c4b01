//! The user's own digits. A drawing the model misreads is kept with the
//! digit it was (`#correct`), shown in `#personal`, saved in IndexedDB;
//! *Learn my digits* has the worker fine-tune the model in use on them
//! mixed with MNIST, and the result becomes the model in use (kept for a
//! reload); the set goes out and comes back in as MNIST's IDX files.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{Event, HtmlButtonElement, HtmlCanvasElement, HtmlElement, HtmlInputElement};

use super::app::with_app;
use super::files;
use super::link::send_with;
use super::model::{pad_image, use_model, Origin};
use super::status::{log_line, report, set_status_text, show_error};
use crate::data::{digits_from_idx, write_images, write_labels, Dataset};
use crate::model::{IMAGE_LEN, IMAGE_SIDE};
use crate::web::store::{check_personal, Store, MAX_PERSONAL};
use crate::web::wire::ToWorker;
use crate::web::{document, element, listen};

/// The file names *Download my digits* writes, MNIST's own with a prefix.
const IMAGES_FILE: &str = "personal-images-idx3-ubyte";
const LABELS_FILE: &str = "personal-labels-idx1-ubyte";

thread_local! {
    /// The database the digits are kept in, once open (None without one).
    static STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
}

/// Wires the correction buttons and the set's own.
pub fn wire() {
    for digit in 0..10u8 {
        let button: HtmlElement = document()
            .query_selector(&format!("#correct [data-digit=\"{digit}\"]"))
            .ok()
            .flatten()
            .and_then(|b| b.dyn_into().ok())
            .expect("#correct has a button per digit");
        listen(&button, "click", move |_: Event| correct(digit));
    }
    listen(&element::<HtmlButtonElement>("learn"), "click", |_: Event| learn());
    listen(&element::<HtmlButtonElement>("personal-clear"), "click", |_: Event| clear());
    listen(&element::<HtmlButtonElement>("personal-download"), "click", |_: Event| download());
    listen(&element::<HtmlInputElement>("personal-upload"), "change", |_: Event| {
        let input: HtmlInputElement = element("personal-upload");
        if let Some(files) = input.files() {
            let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
            wasm_bindgen_futures::spawn_local(upload(files));
        }
        input.set_value("");
    });
    show();
}

/// The digits and the fine-tuned model kept from an earlier visit, in
/// `store` (the page's database, which this module keeps for its saves).
pub async fn restore(store: Rc<Store>) {
    STORE.with_borrow_mut(|s| *s = Some(store.clone()));
    match store.load_personal().await {
        Ok(digits) => {
            with_app(|app| app.personal = digits);
            show();
        }
        Err(e) => show_error(&format!("{e}. Clear my digits starts a new set.")),
    }
    match store.load_model().await {
        Ok(Some(params)) => use_model(Origin::Personal, params),
        Ok(None) => {}
        Err(e) => show_error(&e),
    }
}

fn store() -> Option<Rc<Store>> {
    STORE.with_borrow(Option::clone)
}

/// Keeps the drawing on the pad as an example of `digit`.
fn correct(digit: u8) {
    let Some(image) = pad_image() else {
        return show_error("draw a digit first, then say which it was");
    };
    let full = with_app(|app| app.personal.len() >= MAX_PERSONAL);
    if full {
        return show_error(&format!("your set holds {MAX_PERSONAL} digits, as many as it keeps: Clear my digits to start another"));
    }
    show_error("");
    with_app(|app| {
        app.personal.images.extend(image.iter().map(|&v| (v * 256.0).round().clamp(0.0, 255.0) as u8));
        app.personal.labels.push(digit);
    });
    show();
    save();
}

/// The set in IndexedDB; a refusal is said, and the set stays in the page.
fn save() {
    let Some(store) = store() else { return };
    let digits = with_app(|app| app.personal.clone());
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = store.save_personal(&digits).await {
            show_error(&format!("{e}. Your digits stay here until the page closes."));
        }
    });
}

/// `#personal`'s thumbnails (each with its `data-label`), the count in
/// `#status[data-personal]`, and the buttons that need a set.
fn show() {
    let digits = with_app(|app| app.personal.clone());
    let box_: HtmlElement = element("personal");
    box_.set_inner_html("");
    for (image, &label) in digits.images.chunks_exact(IMAGE_LEN).zip(&digits.labels) {
        let canvas: HtmlCanvasElement = document().create_element("canvas").expect("a canvas").unchecked_into();
        canvas.set_width(IMAGE_SIDE as u32);
        canvas.set_height(IMAGE_SIDE as u32);
        let _ = canvas.set_attribute("data-label", &label.to_string());
        let _ = canvas.set_attribute("role", "img");
        let _ = canvas.set_attribute("aria-label", &format!("your {label}"));
        let floats: Vec<f32> = image.iter().map(|&v| f32::from(v) / 256.0).collect();
        super::pad::show_preview(&canvas, Some(&floats));
        let _ = box_.append_child(&canvas);
    }
    let _ = element::<HtmlElement>("status").set_attribute("data-personal", &digits.len().to_string());
    let empty = digits.is_empty();
    element::<HtmlButtonElement>("learn").set_disabled(empty);
    element::<HtmlButtonElement>("personal-download").set_disabled(empty);
    element::<HtmlButtonElement>("personal-clear").set_disabled(empty);
}

fn clear() {
    with_app(|app| app.personal = Dataset::default());
    show();
    if let Some(store) = store() {
        wasm_bindgen_futures::spawn_local(async move { report(store.forget_personal(false).await) });
    }
}

/// Learn my digits: the worker fine-tunes the model in use on them.
fn learn() {
    let (digits, params, ready, in_run) =
        with_app(|app| (app.personal.clone(), app.model.as_ref().map(|m| m.params.clone()), app.worker_ready, app.state.in_run()));
    let Some(params) = params else { return show_error("there is no model to teach yet") };
    if digits.is_empty() {
        return show_error("there are no digits of your own yet: draw one the model misreads, then say what it was");
    }
    if in_run {
        return show_error("a run is training the model: stop it first, then teach it your digits");
    }
    if !ready {
        return show_error("the training worker is starting: try again in a moment");
    }
    show_error("");
    let before = element::<HtmlElement>("status").get_attribute("data-model-test");
    let id = with_app(|app| {
        app.learning += 1;
        app.learned_before = before;
        app.learning
    });
    let mut floats = params;
    floats.extend(digits.images.iter().map(|&v| f32::from(v) / 256.0));
    element::<HtmlButtonElement>("learn").set_disabled(true);
    set_status_text(&format!("learning your {} digits ...", digits.len()));
    send_with(&ToWorker::Learn { id, labels: digits.labels }, Some(&js_sys::Float32Array::from(&floats[..])));
}

/// The fine-tuned model: the model in use from now on, and after a reload.
pub fn on_learned(id: u32, params: Vec<f32>) {
    let (current, before, count) = with_app(|app| (app.learning == id, app.learned_before.clone(), app.personal.len()));
    show();
    if !current {
        return;
    }
    let status: HtmlElement = element("status");
    match &before {
        Some(b) => {
            let _ = status.set_attribute("data-learned-before", b);
        }
        None => {
            let _ = status.remove_attribute("data-learned-before");
        }
    }
    let said = before.map_or(String::new(), |b| format!(" (MNIST test error before: {b} %; after: measured below)"));
    log_line(&format!("... learned your {count} digits{said}"));
    set_status_text("learned your digits: the model in use reads them now");
    if let Some(store) = store() {
        let kept = params.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = store.save_model(&kept).await {
                show_error(&format!("{e}: it stays in use until the page closes"));
            }
        });
    }
    use_model(Origin::Personal, params);
}

pub fn on_not_learned(id: u32, message: &str) {
    show();
    if with_app(|app| app.learning == id) {
        set_status_text("");
        show_error(message);
    }
}

/// Another model takes over (a run, an upload): the fine-tuned one is
/// no longer the one a reload should bring back.
pub fn forget_model() {
    if let Some(store) = store() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = store.forget_personal(true).await;
        });
    }
}

/// Download my digits: MNIST's two IDX files.
fn download() {
    let digits = with_app(|app| app.personal.clone());
    report(files::download(&write_images(&digits.images, digits.len(), IMAGE_SIDE, IMAGE_SIDE), IMAGES_FILE));
    report(files::download(&write_labels(&digits.labels), LABELS_FILE));
}

/// Add digits: a pair of IDX files (images and labels), as Download my
/// digits wrote them or as anyone writes MNIST's, added to the set.
async fn upload(files: Vec<web_sys::File>) {
    let (mut images, mut labels) = (None, None);
    for file in &files {
        let name = file.name();
        let bytes = match files::read(file).await {
            Ok(bytes) => bytes,
            Err(e) => return show_error(&format!("{name}: {e}. Your digits stay as they were.")),
        };
        match bytes.get(2..4) {
            Some([8, 3]) => images = Some((name, bytes)),
            Some([8, 1]) => labels = Some((name, bytes)),
            _ => return show_error(&format!("{name}: not an IDX file of images or labels. Your digits stay as they were.")),
        }
    }
    let (Some((image_file, images)), Some((label_file, labels))) = (images, labels) else {
        return show_error(
            "choose two files together: the images and the labels (personal-images-idx3-ubyte and personal-labels-idx1-ubyte)",
        );
    };
    let added = match digits_from_idx(&images, &labels) {
        Ok(added) => added,
        Err((in_images, e)) => {
            let file = if in_images { image_file } else { label_file };
            return show_error(&format!("{file}: {e}. Your digits stay as they were."));
        }
    };
    let mut set = with_app(|app| app.personal.clone());
    set.images.extend_from_slice(&added.images);
    set.labels.extend_from_slice(&added.labels);
    if let Err(e) = check_personal(&set) {
        return show_error(&format!("with those files your set would hold {e}. Your digits stay as they were."));
    }
    show_error("");
    with_app(|app| app.personal = set);
    show();
    save();
}
