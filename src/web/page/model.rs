//! The model in use: where it came from, what the pad reads with it, its
//! filters and feature maps, and its test error and confusion as the
//! worker measures them.

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use web_sys::{HtmlCanvasElement, HtmlElement};

use super::app::with_app;
use super::link::{send, send_with};
use super::status::{scheme, show_error};
use super::{files, inside, pad, personal, runs};
use crate::confusion::{Confusion, Prediction};
use crate::data::Collection;
use crate::model::LeNet5;
use crate::web::store::{Store, DATABASE};
use crate::web::wire::ToWorker;
use crate::web::{element, window};

/// Where the model in use came from: `#status[data-model]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Pretrained,
    Trained,
    Uploaded,
    Restored,
    /// Fine-tuned on the user's own digits.
    Personal,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Pretrained => "pretrained",
            Origin::Trained => "trained",
            Origin::Uploaded => "uploaded",
            Origin::Restored => "restored",
            Origin::Personal => "personal",
        }
    }

    /// The model, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Pretrained if super::dataset::collection() == Collection::Fashion => {
                "pretrained (the tutorial's protocol on Fashion-MNIST with `lenet train`)"
            }
            Origin::Pretrained => "pretrained (the Accurate preset's run with `lenet train`)",
            Origin::Trained => "trained here",
            Origin::Uploaded => "uploaded",
            Origin::Restored => "the saved run's best",
            Origin::Personal => "fine-tuned on your digits",
        }
    }
}

/// The saved run's best model if a run is saved, else the pretrained one.
pub async fn first_model() {
    // The page's database, read once here: the kept run, the user's digits.
    let store = match Store::open(DATABASE).await {
        Ok(store) => Some(std::rc::Rc::new(store)),
        // Training works without storage; nothing just survives a reload.
        Err(e) => {
            show_error(&format!("{e}: runs and your digits will not survive a reload"));
            None
        }
    };
    let restored = match &store {
        Some(store) => runs::restore_saved(store).await,
        None => false,
    };
    if !restored {
        pretrained().await;
    }
    // A model fine-tuned on the user's digits comes back over either
    // (digits: on MNIST's page).
    if let Some(store) = store.filter(|_| super::dataset::collection() == Collection::Mnist) {
        personal::restore(store).await;
    }
}

async fn pretrained() {
    set_model_text("loading the pretrained model ...");
    match files::fetch_pretrained().await {
        // A model the user chose meanwhile stays.
        Ok(params) => {
            if with_app(|app| app.model.is_none()) {
                use_model(Origin::Pretrained, params);
            }
        }
        Err(e) => {
            set_model_text("no model yet: train one or open a weights file");
            show_error(&format!("the pretrained model cannot be loaded: {e}"));
        }
    }
}

/// Makes `params` the model in use, and has the worker measure it.
pub fn use_model(origin: Origin, params: Vec<f32>) {
    set_params(params);
    with_app(|app| app.origin = Some(origin));
    model_changed();
    evaluate_model();
}

fn set_params(params: Vec<f32>) {
    with_app(|app| match &mut app.model {
        Some(model) => model.params.copy_from_slice(&params),
        None => app.model = Some(LeNet5::from_params(params)),
    });
}

/// The model in use changed: its filters, the pad's reading, and the
/// status's `data-model` (its test error is unknown until measured).
fn model_changed() {
    let origin = with_app(|app| {
        if let Some(model) = &app.model {
            inside::draw_filters(model.param("conv1.weight"));
        }
        app.origin
    });
    if let Some(origin) = origin {
        let _ = element::<HtmlElement>("status").set_attribute("data-model", origin.name());
    }
    classify_soon();
}

/// Asks the worker for the test set's predictions by the model in use
/// (once it is ready: `Ready` asks again for a model not yet measured).
pub fn evaluate_model() {
    let (id, ready, params, origin) = with_app(|app| {
        app.model_id += 1;
        (app.model_id, app.worker_ready, app.model.as_ref().map(|m| m.params.clone()), app.origin)
    });
    let _ = element::<HtmlElement>("status").remove_attribute("data-model-test");
    if let Some(origin) = origin {
        set_model_text(&format!("model: {} · measuring its test error ...", origin.describe()));
    }
    if let (true, Some(params)) = (ready, params) {
        send_with(&ToWorker::Evaluate { id }, Some(&js_sys::Float32Array::from(&params[..])));
    }
}

/// The model in use is known but not yet measured: it needs the worker.
pub fn unmeasured() -> Option<Origin> {
    with_app(|app| app.origin.filter(|_| app.model.is_some() && app.evaluated != Some(app.model_id)))
}

/// A run trains the model in use: any measurement of it (asked for or
/// shown) is stale until the run pauses or ends.
pub fn model_moving() {
    with_app(|app| app.model_id += 1);
    let _ = element::<HtmlElement>("status").remove_attribute("data-model-test");
    set_model_text("model: the run's, as it trains · its test error is measured when the run pauses or ends");
}

pub fn set_model_text(text: &str) {
    element::<HtmlElement>("model-text").set_text_content(Some(text));
}

/// The run's weights: its current ones now and then, or at its end
/// (`best`) its best, which is measured.
pub fn on_weights(params: Vec<f32>, best: bool) {
    set_params(params);
    let was = with_app(|app| app.origin.replace(Origin::Trained));
    if was != Some(Origin::Trained) {
        // A run's first weights: the model in use is now the run's.
        model_moving();
    }
    model_changed();
    if best {
        evaluate_model();
    }
}

/// The test set's predictions by model `id`: its test error and
/// confusion, unless another model is in use by now.
pub fn on_evaluated(id: u32, predictions: Vec<Prediction>) {
    if with_app(|app| app.model_id != id) {
        return;
    }
    let confusion = Confusion::of(&predictions);
    let (origin, gallery) = with_app(|app| {
        app.predictions = predictions;
        app.evaluated = Some(id);
        (app.origin, app.gallery)
    });
    let percent = confusion.error_percent();
    let _ = element::<HtmlElement>("status").set_attribute("data-model-test", &format!("{percent:.2}"));
    if let Some(origin) = origin {
        set_model_text(&format!(
            "model: {} · test error {percent:.2} % ({} of {} test images, measured here)",
            origin.describe(),
            confusion.errors(),
            confusion.total()
        ));
    }
    inside::show_confusion(&confusion, scheme().card);
    if gallery.is_some() {
        ask_gallery();
    }
}

/// Asks the worker for the gallery's images: those of the chosen cell.
pub fn ask_gallery() {
    let indices = with_app(|app| {
        let (truth, pred) = app.gallery?;
        Some(inside::cell_indices(&app.predictions, truth, pred).0)
    });
    if let Some(indices) = indices {
        send(&ToWorker::Images { indices });
    }
}

/// The gallery's images, unless another cell was chosen since.
pub fn on_images(indices: &[u32], pixels: &[u8]) {
    with_app(|app| {
        let Some((truth, pred)) = app.gallery else {
            return;
        };
        let (wanted, total) = inside::cell_indices(&app.predictions, truth, pred);
        if wanted == indices {
            inside::show_gallery(indices, pixels, &app.predictions, total);
        }
    });
}

/// Redraws what depends on the layout and the colour scheme: the
/// filters, the pad's reading, the confusion table.
pub fn redraw_model() {
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
}

/// The drawing on the pad as the network sees it (None for a blank pad).
pub fn pad_image() -> Option<Vec<f32>> {
    let canvas = with_app(|app| app.pad.as_ref().map(|pad| pad.borrow().canvas.clone()))?;
    framed(&canvas)
}

/// The drawing on `canvas` as a 28x28 image framed as the page's data set
/// frames its images.
fn framed(canvas: &HtmlCanvasElement) -> Option<Vec<f32>> {
    let (w, h) = (canvas.width() as usize, canvas.height() as usize);
    crate::preprocess::to_image(&pad::ink(canvas), w, h, super::dataset::collection().framing())
}

thread_local! {
    static CLASSIFY_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Classifies the pad on the next animation frame (at most once a frame).
pub fn classify_soon() {
    if CLASSIFY_PENDING.with(|p| p.replace(true)) {
        return;
    }
    let frame = Closure::once_into_js(|| {
        CLASSIFY_PENDING.with(|p| p.set(false));
        with_app(|app| {
            let Some(pad) = &app.pad else { return };
            let canvas = pad.borrow().canvas.clone();
            let preview: HtmlCanvasElement = element("preview");
            let image = framed(&canvas);
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
