//! Learning the user's own digits: the page's model fine-tuned on them
//! mixed with MNIST's training images (`train::finetune`), a step at a
//! time between the worker's other tasks.

use super::{data, post, post_with, running};
use crate::data::Dataset;
use crate::model::{param_count, IMAGE_LEN};
use crate::train::finetune::{FineTune, Learner};
use crate::web::next_task;
use crate::web::store::check_personal;
use crate::web::wire::FromWorker;

/// Steps between two looks at the worker's messages.
const STEPS_A_TASK: usize = 4;

pub(super) fn learn(id: u32, labels: Vec<u8>, floats: Vec<f32>) {
    let refuse = move |message: String| post(&FromWorker::NotLearned { id, message });
    let n = param_count();
    if floats.len() != n + labels.len() * IMAGE_LEN {
        return refuse(format!("{} numbers for a model and {} digits", floats.len(), labels.len()));
    }
    let (params, images) = floats.split_at(n);
    let personal = Dataset { images: images.iter().map(|&v| (v * 256.0).round().clamp(0.0, 255.0) as u8).collect(), labels };
    if let Err(e) = check_personal(&personal) {
        return refuse(format!("your digits: {e}"));
    }
    if personal.is_empty() {
        return refuse("there are no digits of your own yet: draw one the model misreads, then say what it was".into());
    }
    if params.iter().any(|v| !v.is_finite()) {
        return refuse("the model's parameters are not all numbers".into());
    }
    let Some(mnist) = data() else {
        return refuse("MNIST is not loaded yet: it keeps the model from forgetting it while it learns yours. Try again once it is".into());
    };
    if running().is_some() {
        return refuse("a run is training: stop it first".into());
    }
    let mut learner = Learner::new(params.to_vec(), FineTune { seed: u64::from(id), ..FineTune::default() });
    wasm_bindgen_futures::spawn_local(async move {
        while !learner.done() {
            for _ in 0..STEPS_A_TASK {
                if let Err(message) = learner.step(&personal, &mnist.train) {
                    return refuse(message);
                }
            }
            next_task().await;
        }
        post_with(&FromWorker::Learned { id }, Some(&js_sys::Float32Array::from(&learner.model.params[..])));
    });
}
