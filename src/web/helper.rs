//! The helper role: a worker that works the chunks its lead sends and
//! answers with their outcomes (see `lead`). What it does with a message
//! is plain Rust (`Helper`), built natively too so that the fuzzer can
//! send it anything; `serve` is the browser's glue around it.

use std::ops::Range;

use super::wire::FromHelper;
use crate::data::{Dataset, Mnist};
use crate::model::{param_count, LeNet5, IMAGE_LEN};
use crate::train::{work, GradTree, Outcome, Plan, CHUNK_IMAGES};

/// A helper's state: the data it was sent, a model to work on, an image
/// buffer, and the outcomes and gradient sums of the last chunks worked.
pub struct Helper {
    data: Option<(String, Mnist)>,
    model: LeNet5,
    x: Vec<f32>,
    outcomes: Vec<Outcome>,
    sum: GradTree,
}

impl Default for Helper {
    fn default() -> Self {
        Helper {
            data: None,
            model: LeNet5::from_params(vec![0.0; param_count()]),
            x: vec![0.0; CHUNK_IMAGES * IMAGE_LEN],
            outcomes: Vec::new(),
            sum: GradTree::default(),
        }
    }
}

impl Helper {
    /// The answer to `Hello`: whether it holds the data of `data_url`.
    pub fn hello(&self, data_url: &str) -> FromHelper {
        FromHelper::Hello { has_data: self.data.as_ref().is_some_and(|(s, _)| s == data_url) }
    }

    /// Keeps the data of a `Data` message (its arrays in `DATA_ARRAYS`
    /// order), if they make three sets that can be worked on.
    pub fn take_data(&mut self, data_url: String, arrays: [Vec<u8>; 6]) -> Result<(), String> {
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
        self.data = Some((data_url, mnist));
        Ok(())
    }

    /// Works chunks `chunks` of the plan a `Work` message describes, once
    /// `load` has put the parameters in (when they changed), and returns
    /// their outcomes. Training chunks' gradients are then summed in
    /// `sums`, as the lead's tree will take them.
    pub fn work(&mut self, plan: Plan, chunks: Range<usize>, load: impl FnOnce(&mut [f32])) -> Result<&[Outcome], String> {
        let Some((_, data)) = &self.data else { return Err("work came before the data".into()) };
        if chunks.is_empty() {
            return Err(format!("work came for no chunks ({chunks:?})"));
        }
        plan.check(data, chunks.start)?;
        plan.check(data, chunks.end - 1)?;
        load(&mut self.model.params);
        self.outcomes.clear();
        let (offset, tree_chunks) = plan.tree();
        self.sum.start_at(tree_chunks, offset + chunks.start);
        for i in chunks {
            let outcome = work(&mut self.model, data, &plan, i, &mut self.x);
            if let Outcome::Trained { count, .. } = outcome {
                self.sum.push_chunk(offset + i, &self.model.grads, count, plan.batch);
            }
            self.outcomes.push(outcome);
        }
        Ok(&self.outcomes)
    }

    /// The gradient sums of the last training chunks worked, in chunk
    /// order (the nodes of `GradTree::cover` of those chunks).
    pub fn sums(&self) -> impl Iterator<Item = &[f32]> {
        self.sum.nodes().map(|(_, sum)| sum)
    }
}

#[cfg(target_arch = "wasm32")]
pub use glue::serve;

#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;
    use web_sys::MessageEvent;

    use super::super::js::{envelope, get, message_of, set, Endpoint};
    use super::super::wire::{FromHelper, Times, ToHelper, DATA_ARRAYS};
    use super::super::{clock_ms, now_ms};
    use super::Helper;
    use crate::model::param_count;
    use crate::train::{Outcome, Plan, Task};

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
        let buffers = get(&data, "buffers").dyn_into::<js_sys::Array>().unwrap_or_default();
        let reply = match message_of::<ToHelper>(&data) {
            Ok(message) => HELPER.with(|h| answer(&mut h.borrow_mut(), message, &data, &buffers)),
            Err(message) => Some(FromHelper::Failed { message }),
        };
        let Some(mut reply) = reply else { return };
        if let FromHelper::Trained { times, .. } | FromHelper::Counted { times, .. } = &mut reply {
            times.taken = taken;
            times.answered = clock_ms();
        }
        let message = envelope(&reply);
        // The buffers go back, whatever the reply.
        let transfer: js_sys::Array =
            buffers.iter().filter_map(|b| b.dyn_into::<js_sys::Float32Array>().ok()).map(|b| b.buffer()).collect();
        set(&message, "buffers", &buffers);
        // A lead that has gone away needs no answer.
        let _ = endpoint.post_message(&message, &transfer);
    }

    /// The reply to a message (none to `Data` that was kept). Work reads the
    /// parameters from the first of `buffers` if they are new, and leaves
    /// its gradient sums in them, in order.
    fn answer(helper: &mut Helper, message: ToHelper, raw: &JsValue, buffers: &js_sys::Array) -> Option<FromHelper> {
        let failed = |message: String| Some(FromHelper::Failed { message });
        match message {
            ToHelper::Hello { data_url } => Some(helper.hello(&data_url)),
            ToHelper::Data { data_url } => {
                let array = |name: &str| get(raw, name).dyn_into::<js_sys::Uint8Array>().map(|a| a.to_vec());
                let Ok(arrays) = DATA_ARRAYS.map(array).into_iter().collect::<Result<Vec<_>, _>>() else {
                    return failed("the data message lacks an array".into());
                };
                let arrays: [Vec<u8>; 6] = arrays.try_into().expect("one array per name");
                helper.take_data(data_url, arrays).err().map(|message| FromHelper::Failed { message })
            }
            ToHelper::Work { task, first, end, chunk_images, batch, from, to, params, distortion } => {
                let n = param_count();
                let buffers: Vec<js_sys::Float32Array> = buffers.iter().filter_map(|b| b.dyn_into().ok()).collect();
                if buffers.is_empty() || buffers.iter().any(|b| b.length() as usize != n) {
                    return failed(format!("work came without buffers of the {n} parameters"));
                }
                let start = now_ms();
                let plan = Plan { task, first, end, chunk_images, batch, distortion };
                let outcomes = match helper.work(plan, from..to, |p| {
                    if params {
                        buffers[0].copy_to(p);
                    }
                }) {
                    Ok(outcomes) => outcomes.to_vec(),
                    Err(message) => return failed(message),
                };
                let work = now_ms() - start;
                if plan.task != Task::Train {
                    let (errors, count) = outcomes.iter().fold((0, 0), |(e, c), o| match *o {
                        Outcome::Counted { errors, count } => (e + errors, c + count),
                        Outcome::Trained { .. } => (e, c),
                    });
                    return Some(FromHelper::Counted { errors, count, times: Times { work, ..Times::default() } });
                }
                if helper.sums().count() > buffers.len() {
                    return failed(format!("work came with {} buffers for {} gradient sums", buffers.len(), helper.sums().count()));
                }
                helper.sums().zip(&buffers).for_each(|(sum, buffer)| buffer.copy_from(sum));
                let chunks = outcomes
                    .iter()
                    .filter_map(|o| match *o {
                        Outcome::Trained { loss, count } => Some((loss, count)),
                        Outcome::Counted { .. } => None,
                    })
                    .collect();
                Some(FromHelper::Trained { chunks, times: Times { work, ..Times::default() } })
            }
        }
    }
}
