//! The page's questions about the model in use: its predictions on the
//! test set (for the confusion matrix and the test error), in pieces
//! between which a run goes on, and test images for the gallery.

use std::cell::{Cell, RefCell};

use super::{data, post, post_with};
use crate::confusion::{predict, Prediction};
use crate::model::{param_count, LeNet5, IMAGE_LEN};
use crate::web::next_task;
use crate::web::wire::FromWorker;

/// Test images a piece of evaluation predicts: about as long as a
/// training slice on one worker.
const EVALUATION_PIECE: usize = 200;

thread_local! {
    /// The latest evaluation asked for, until its task takes it.
    static EVALUATION: RefCell<Option<(u32, Vec<f32>)>> = const { RefCell::new(None) };
    /// The id of the latest evaluation asked for: a running one that sees
    /// a newer id gives up.
    static LATEST_EVALUATION: Cell<u32> = const { Cell::new(0) };
}

/// Predict the test set with `params`, answered by `Evaluated { id }`
/// unless a newer evaluation is asked for meanwhile.
pub(super) fn ask(id: u32, params: Vec<f32>) {
    if params.len() != param_count() {
        let message = format!("{} parameters to evaluate, LeNet-5 has {}", params.len(), param_count());
        return post(&FromWorker::Error { message });
    }
    LATEST_EVALUATION.with(|l| l.set(id));
    let idle = EVALUATION.with(|e| e.borrow_mut().replace((id, params)).is_none());
    if idle {
        when_loaded();
    }
}

/// Runs the evaluation asked for, if the data is here (else the load
/// calls again when it is), in pieces between which the worker's other
/// tasks run: a training run goes on meanwhile.
pub(super) fn when_loaded() {
    let Some(data) = data() else { return };
    let Some((id, params)) = EVALUATION.with(|e| e.borrow_mut().take()) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let mut model = LeNet5::from_params(params);
        let test = &data.test;
        let mut predictions: Vec<Prediction> = Vec::with_capacity(test.len());
        for first in (0..test.len()).step_by(EVALUATION_PIECE) {
            if LATEST_EVALUATION.with(Cell::get) != id {
                break;
            }
            predict(&mut model, test, first, (first + EVALUATION_PIECE).min(test.len()), &mut predictions);
            next_task().await;
        }
        if predictions.len() == test.len() {
            let flat: Vec<f32> = predictions.iter().flat_map(|p| [f32::from(p.label), f32::from(p.predicted), p.probability]).collect();
            post_with(&FromWorker::Evaluated { id }, Some(&js_sys::Float32Array::from(&flat[..])));
        }
        // A newer evaluation may have come meanwhile.
        when_loaded();
    });
}

/// Test images by index, for the gallery: `Images` with their pixels.
pub(super) fn images(indices: &[u32]) {
    let Some(data) = data() else {
        return post(&FromWorker::Error { message: "the test images are not loaded yet".into() });
    };
    let test = &data.test;
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_LEN);
    for &i in indices {
        let i = i as usize;
        if i >= test.len() {
            return post(&FromWorker::Error { message: format!("there is no test image {i} (of {})", test.len()) });
        }
        pixels.extend_from_slice(&test.images[i * IMAGE_LEN..(i + 1) * IMAGE_LEN]);
    }
    post_with(&FromWorker::Images { indices: indices.to_vec() }, Some(&js_sys::Uint8Array::from(&pixels[..])));
}
