//! Data-parallel training over Web Workers, with no SharedArrayBuffer and
//! no special server headers. The lead worker (the one holding the
//! `Trainer`) sends each helper worker the chunk of a step it is to work,
//! with the parameters whenever they changed; the helper answers with its
//! outcome and its gradient; the lead adds the outcomes in chunk order.
//! So the result is the SGD of one worker, bit-identical from run to run.
//!
//! Lead and helpers talk over `MessagePort`s that the page hands out, so
//! the page's thread is not on the way. A message is `{head, ...arrays}`:
//! the head goes through serde, the arrays travel as transferred typed
//! arrays beside it.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, MessagePort};

use super::protocol::{decode, encode};
use crate::data::{Dataset, Mnist};
use crate::model::{param_count, LeNet5, IMAGE_LEN};
use crate::train::{work, Outcome, Plan, Split, Task, STEP_IMAGES};

/// Lead to helper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ToHelper {
    /// Do you hold the data of `source`? (Answered by `Hello`.)
    Hello { source: String },
    /// The data of `source`, in the arrays `DATA_ARRAYS` name.
    Data { source: String },
    /// Work chunk `chunk` of the plan; a `params` array comes along when
    /// the parameters changed since the last chunk.
    Work { task: WireTask, first: usize, end: usize, per: usize, chunk: usize },
}

/// Helper to lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FromHelper {
    Hello { has_data: bool },
    /// A training chunk's mean loss (its gradient comes as `grads`), or an
    /// evaluation chunk's error count.
    Done { loss: f32, errors: usize, count: usize },
    Failed { message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireTask {
    Train,
    Validation,
    Test,
}

impl From<Task> for WireTask {
    fn from(task: Task) -> Self {
        match task {
            Task::Train => WireTask::Train,
            Task::Evaluate(Split::Validation) => WireTask::Validation,
            Task::Evaluate(Split::Test) => WireTask::Test,
        }
    }
}

impl From<WireTask> for Task {
    fn from(task: WireTask) -> Self {
        match task {
            WireTask::Train => Task::Train,
            WireTask::Validation => Task::Evaluate(Split::Validation),
            WireTask::Test => Task::Evaluate(Split::Test),
        }
    }
}

const DATA_ARRAYS: [&str; 6] = ["train_images", "train_labels", "valid_images", "valid_labels", "test_images", "test_labels"];

/// `{head}`, for arrays to be set beside.
fn message<T: Serialize>(head: &T) -> JsValue {
    let message: JsValue = js_sys::Object::new().into();
    set(&message, "head", &encode(head));
    message
}

fn head<T: serde::de::DeserializeOwned>(message: &JsValue) -> Result<T, String> {
    decode(get(message, "head"))
}

fn set(object: &JsValue, key: &str, value: &JsValue) {
    js_sys::Reflect::set(object, &key.into(), value).expect("messages are plain objects");
}

fn get(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// The reply to the next message `port` gets, as a future of its `MessageEvent`.
fn next_message(port: &MessagePort) -> JsFuture {
    // The port calls `resolve` with the event: no closure to keep alive.
    JsFuture::from(js_sys::Promise::new(&mut |resolve, _reject| port.set_onmessage(Some(&resolve))))
}

async fn reply(pending: JsFuture) -> Result<(FromHelper, JsValue), String> {
    let event: MessageEvent = pending.await.map_err(|_| "a helper worker did not answer".to_string())?.unchecked_into();
    let data = event.data();
    Ok((head::<FromHelper>(&data)?, data))
}

/// The lead's end of one helper.
pub struct Link {
    port: MessagePort,
    /// The parameters' version the helper holds (see `send`).
    version: Option<usize>,
}

impl Link {
    pub fn new(port: MessagePort) -> Link {
        Link { port, version: None }
    }

    /// Makes sure the helper holds `data`, sending it if not.
    pub async fn connect(&mut self, data: &Mnist, source: &str) -> Result<(), String> {
        let pending = next_message(&self.port);
        self.post(&message(&ToHelper::Hello { source: source.into() }), &js_sys::Array::new())?;
        let (FromHelper::Hello { has_data }, _) = reply(pending).await? else {
            return Err("a helper worker answered out of turn".into());
        };
        if !has_data {
            let message = message(&ToHelper::Data { source: source.into() });
            let transfer = js_sys::Array::new();
            let sets = [&data.train, &data.valid, &data.test];
            for (i, name) in DATA_ARRAYS.iter().enumerate() {
                let set_ = sets[i / 2];
                let array = js_sys::Uint8Array::from(if i % 2 == 0 { &set_.images[..] } else { &set_.labels[..] });
                transfer.push(&array.buffer());
                set(&message, name, &array);
            }
            self.post(&message, &transfer)?;
        }
        self.version = None;
        Ok(())
    }

    /// Sends chunk `chunk` of `plan`, with `params` if the helper's are not
    /// of `version` yet; await the result with `receive`.
    pub fn send(&mut self, plan: &Plan, chunk: usize, params: &[f32], version: usize) -> Result<JsFuture, String> {
        let pending = next_message(&self.port);
        let work = ToHelper::Work { task: plan.task.into(), first: plan.first, end: plan.end, per: plan.per, chunk };
        let message = message(&work);
        let transfer = js_sys::Array::new();
        if self.version != Some(version) {
            let array = js_sys::Float32Array::from(params);
            transfer.push(&array.buffer());
            set(&message, "params", &array);
            self.version = Some(version);
        }
        self.post(&message, &transfer)?;
        Ok(pending)
    }

    fn post(&self, message: &JsValue, transfer: &js_sys::Array) -> Result<(), String> {
        self.port.post_message_with_transferable(message, transfer).map_err(|e| format!("cannot reach a helper worker: {e:?}"))
    }
}

/// The outcome a helper sent, its gradient copied into `grads`.
pub async fn receive(pending: JsFuture, grads: &mut [f32]) -> Result<Outcome, String> {
    match reply(pending).await? {
        (FromHelper::Done { loss, errors, count }, data) => {
            let array = get(&data, "grads");
            if array.is_undefined() {
                return Ok(Outcome::Counted { errors, count });
            }
            let array: js_sys::Float32Array = array.dyn_into().map_err(|_| "a helper's gradient is not a Float32Array")?;
            if array.length() as usize != grads.len() {
                return Err(format!("a helper sent {} gradients for {} parameters", array.length(), grads.len()));
            }
            array.copy_to(grads);
            Ok(Outcome::Trained { loss, count })
        }
        (FromHelper::Failed { message }, _) => Err(format!("a helper worker failed: {message}")),
        (other, _) => Err(format!("a helper worker answered out of turn: {other:?}")),
    }
}

/// A helper's state: the data it was sent, a model to work on, an image buffer.
struct Helper {
    data: Option<(String, Mnist)>,
    model: LeNet5,
    x: Vec<f32>,
}

thread_local! {
    static HELPER: RefCell<Helper> = RefCell::new(Helper {
        data: None,
        model: LeNet5::from_params(vec![0.0; param_count()]),
        x: vec![0.0; STEP_IMAGES * IMAGE_LEN],
    });
    /// One handler for every port this worker serves: it answers the port
    /// the message came through.
    static ON_LEAD_MESSAGE: Closure<dyn FnMut(MessageEvent)> = Closure::new(on_lead_message);
}

/// Makes this worker a helper of the lead at the other end of `port`.
pub fn serve(port: MessagePort) {
    ON_LEAD_MESSAGE.with(|handler| port.set_onmessage(Some(handler.as_ref().unchecked_ref())));
}

fn on_lead_message(event: MessageEvent) {
    let Some(port) = event.target().and_then(|t| t.dyn_into::<MessagePort>().ok()) else { return };
    let data = event.data();
    let (reply, grads) = match head::<ToHelper>(&data) {
        Ok(message) => HELPER.with(|h| h.borrow_mut().handle(message, &data)),
        Err(message) => (Some(FromHelper::Failed { message }), None),
    };
    if let Some(reply) = reply {
        let message = message(&reply);
        let transfer = js_sys::Array::new();
        if let Some(grads) = grads {
            transfer.push(&grads.buffer());
            set(&message, "grads", &grads);
        }
        // A lead that has gone away needs no answer.
        let _ = port.post_message_with_transferable(&message, &transfer);
    }
}

impl Helper {
    /// The reply to a message (none to `Data`), and the gradient to send along.
    fn handle(&mut self, message: ToHelper, raw: &JsValue) -> (Option<FromHelper>, Option<js_sys::Float32Array>) {
        let failed = |message: String| (Some(FromHelper::Failed { message }), None);
        match message {
            ToHelper::Hello { source } => {
                let has_data = self.data.as_ref().is_some_and(|(s, _)| *s == source);
                (Some(FromHelper::Hello { has_data }), None)
            }
            ToHelper::Data { source } => {
                let bytes = |name: &str| get(raw, name).dyn_into::<js_sys::Uint8Array>().map(|a| a.to_vec());
                let arrays: Result<Vec<Vec<u8>>, _> = DATA_ARRAYS.iter().map(|n| bytes(n)).collect();
                let Ok(arrays) = arrays else { return failed("the data message lacks an array".into()) };
                let mut arrays = arrays.into_iter();
                let mut next = || Dataset { images: arrays.next().unwrap_or_default(), labels: arrays.next().unwrap_or_default() };
                let mnist = Mnist { train: next(), valid: next(), test: next() };
                let sets = [&mnist.train, &mnist.valid, &mnist.test];
                if sets.iter().any(|s| s.images.len() != s.labels.len() * IMAGE_LEN) {
                    return failed("the data message's images and labels do not pair up".into());
                }
                self.data = Some((source, mnist));
                (None, None)
            }
            ToHelper::Work { task, first, end, per, chunk } => {
                let Some((_, data)) = &self.data else { return failed("work came before the data".into()) };
                let params = get(raw, "params");
                if let Ok(params) = params.dyn_into::<js_sys::Float32Array>() {
                    if params.length() as usize != self.model.params.len() {
                        return failed(format!("{} parameters sent, LeNet-5 has {}", params.length(), self.model.params.len()));
                    }
                    params.copy_to(&mut self.model.params);
                }
                let plan = Plan { task: task.into(), first, end, per };
                let size = match plan.task {
                    Task::Train => data.train.len(),
                    Task::Evaluate(split) => data.split(split).len(),
                };
                if per == 0 || per > STEP_IMAGES || end > size || first + chunk * per >= end {
                    return failed(format!("chunk {chunk} of {first}..{end} by {per} is not in a set of {size}"));
                }
                match work(&mut self.model, data, &plan, chunk, &mut self.x) {
                    Outcome::Trained { loss, count } => {
                        let grads = js_sys::Float32Array::from(&self.model.grads[..]);
                        (Some(FromHelper::Done { loss, errors: 0, count }), Some(grads))
                    }
                    Outcome::Counted { errors, count } => (Some(FromHelper::Done { loss: 0.0, errors, count }), None),
                }
            }
        }
    }
}
