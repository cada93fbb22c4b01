//! The helper role: a worker that works the chunks its lead sends and
//! answers with their outcomes (see `lead`). What it does with a message
//! is plain Rust (`Helper`), built natively too so that the fuzzer can
//! send it anything; `serve` is the browser's glue around it.

use super::wire::FromHelper;
use crate::data::{Dataset, Mnist};
use crate::model::{param_count, LeNet5, IMAGE_LEN};
use crate::train::{work, Outcome, Plan, CHUNK_IMAGES};

/// A helper's state: the data it was sent, a model to work on, an image buffer.
pub struct Helper {
    data: Option<(String, Mnist)>,
    model: LeNet5,
    x: Vec<f32>,
}

impl Default for Helper {
    fn default() -> Self {
        Helper { data: None, model: LeNet5::from_params(vec![0.0; param_count()]), x: vec![0.0; CHUNK_IMAGES * IMAGE_LEN] }
    }
}

impl Helper {
    /// The answer to `Hello`: whether it holds the data of `source`.
    pub fn hello(&self, source: &str) -> FromHelper {
        FromHelper::Hello { has_data: self.data.as_ref().is_some_and(|(s, _)| s == source) }
    }

    /// Keeps the data of a `Data` message (its arrays in `DATA_ARRAYS`
    /// order), if they make three sets that can be worked on.
    pub fn take_data(&mut self, source: String, arrays: [Vec<u8>; 6]) -> Result<(), String> {
        let [train_images, train_labels, valid_images, valid_labels, test_images, test_labels] = arrays;
        let mnist = Mnist {
            train: Dataset { images: train_images, labels: train_labels },
            valid: Dataset { images: valid_images, labels: valid_labels },
            test: Dataset { images: test_images, labels: test_labels },
        };
        mnist.check().map_err(|e| format!("the data message is unusable: {e}"))?;
        if [&mnist.train, &mnist.valid, &mnist.test].iter().any(|s| s.labels.iter().any(|&l| l > 9)) {
            return Err("the data message is unusable: a label is not a digit".into());
        }
        self.data = Some((source, mnist));
        Ok(())
    }

    /// Works chunk `chunk` of the plan a `Work` message describes, once
    /// `load` has put the parameters in (when they changed). A training
    /// chunk's gradient is then in `grads`.
    pub fn work(&mut self, plan: Plan, chunk: usize, load: impl FnOnce(&mut [f32])) -> Result<Outcome, String> {
        let Some((_, data)) = &self.data else { return Err("work came before the data".into()) };
        plan.check(data, chunk)?;
        load(&mut self.model.params);
        Ok(work(&mut self.model, data, &plan, chunk, &mut self.x))
    }

    /// The gradient of the last training chunk.
    pub fn grads(&self) -> &[f32] {
        &self.model.grads
    }
}

#[cfg(target_arch = "wasm32")]
pub use glue::serve;

#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;
    use web_sys::MessageEvent;

    use super::super::js::{get, head, set, with_head, Endpoint};
    use super::super::wire::{FromHelper, Times, ToHelper, DATA_ARRAYS};
    use super::super::{clock_ms, now_ms};
    use super::Helper;
    use crate::train::{Outcome, Plan};

    thread_local! {
        static HELPER: RefCell<Helper> = RefCell::new(Helper::default());
        /// One handler for every endpoint this worker serves: it answers
        /// through the endpoint the message came through.
        static ON_LEAD_MESSAGE: Closure<dyn FnMut(MessageEvent)> = Closure::new(on_lead_message);
    }

    /// Makes this worker a helper of the lead at the other end of
    /// `endpoint` (its own global scope, when the lead started it).
    pub fn serve(endpoint: &Endpoint) {
        ON_LEAD_MESSAGE.with(|handler| endpoint.set_onmessage(Some(handler.as_ref().unchecked_ref())));
    }

    fn on_lead_message(event: MessageEvent) {
        let Some(endpoint) = event.target().map(|t| t.unchecked_into::<Endpoint>()) else { return };
        let taken = clock_ms();
        let data = event.data();
        let buffer = get(&data, "buffer").dyn_into::<js_sys::Float32Array>().ok();
        let reply = match head::<ToHelper>(&data) {
            Ok(message) => HELPER.with(|h| answer(&mut h.borrow_mut(), message, &data, buffer.as_ref())),
            Err(message) => Some(FromHelper::Failed { message }),
        };
        let Some(mut reply) = reply else { return };
        if let FromHelper::Trained { times, .. } | FromHelper::Counted { times, .. } = &mut reply {
            times.taken = taken;
            times.answered = clock_ms();
        }
        let message = with_head(&reply);
        let transfer = js_sys::Array::new();
        // The buffer goes back, whatever the reply.
        if let Some(buffer) = buffer {
            transfer.push(&buffer.buffer());
            set(&message, "buffer", &buffer);
        }
        // A lead that has gone away needs no answer.
        let _ = endpoint.post_message(&message, &transfer);
    }

    /// The reply to a message (none to `Data` that was kept). Work reads the
    /// parameters from `buffer` if they are new, and leaves its gradient there.
    fn answer(helper: &mut Helper, message: ToHelper, raw: &JsValue, buffer: Option<&js_sys::Float32Array>) -> Option<FromHelper> {
        let failed = |message: String| Some(FromHelper::Failed { message });
        match message {
            ToHelper::Hello { source } => Some(helper.hello(&source)),
            ToHelper::Data { source } => {
                let array = |name: &str| get(raw, name).dyn_into::<js_sys::Uint8Array>().map(|a| a.to_vec());
                let Ok(arrays) = DATA_ARRAYS.map(array).into_iter().collect::<Result<Vec<_>, _>>() else {
                    return failed("the data message lacks an array".into());
                };
                let arrays: [Vec<u8>; 6] = arrays.try_into().expect("one array per name");
                helper.take_data(source, arrays).err().map(|message| FromHelper::Failed { message })
            }
            ToHelper::Work { task, first, end, per, chunk, params } => {
                let n = helper.grads().len();
                let Some(buffer) = buffer.filter(|b| b.length() as usize == n) else {
                    return failed(format!("work came without a buffer of the {n} parameters"));
                };
                let start = now_ms();
                let plan = Plan { task: task.into(), first, end, per };
                let outcome = helper.work(plan, chunk, |p| {
                    if params {
                        buffer.copy_to(p);
                    }
                });
                let times = Times { work: now_ms() - start, ..Times::default() };
                Some(match outcome {
                    Ok(Outcome::Trained { loss, count }) => {
                        buffer.copy_from(helper.grads());
                        FromHelper::Trained { loss, count, times }
                    }
                    Ok(Outcome::Counted { errors, count }) => FromHelper::Counted { errors, count, times },
                    Err(message) => FromHelper::Failed { message },
                })
            }
        }
    }
}
