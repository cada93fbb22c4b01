//! Data-parallel training over Web Workers, with no SharedArrayBuffer and
//! no special server headers. The lead worker (the one holding the
//! `Trainer`) sends each helper worker the chunk of a step it is to work,
//! with the parameters whenever they changed; the helper answers with its
//! outcome and its gradient; the lead adds the outcomes in chunk order.
//! So the result is the SGD of one worker, bit-identical from run to run.
//!
//! The lead starts its helpers itself, as nested workers, and talks to
//! each through its `Worker` object: the page's thread is not on the way,
//! and a message costs a twentieth of a millisecond. (Through a
//! `MessagePort` that the page hands out, Firefox took 10 ms per round
//! trip of a 1.7 MB buffer, Chromium 0.05 ms.) A message is `{head, ...arrays}`:
//! the head goes through serde, the arrays travel as transferred typed
//! arrays beside it. Each link has one parameter-sized buffer that goes
//! to the helper with each chunk (holding the parameters when they
//! changed) and comes back with the gradient: a step allocates no new
//! megabytes for the garbage collector, whose work would take a core
//! from the workers.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

use super::protocol::{decode, encode, FromWorker, ToWorker};
use super::{clock_ms, now_ms};
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
    /// Work chunk `chunk` of the plan. The link's `buffer` comes along,
    /// holding the parameters if `params` (they changed since the last
    /// chunk), and goes back with the reply.
    Work { task: WireTask, first: usize, end: usize, per: usize, chunk: usize, params: bool },
}

/// Helper to lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FromHelper {
    Hello { has_data: bool },
    /// A training chunk's mean loss, its gradient in the buffer, and when
    /// the chunk was taken in hand, worked and answered.
    Trained { loss: f32, count: usize, times: Times },
    /// An evaluation chunk's error count.
    Counted { errors: usize, count: usize, times: Times },
    Failed { message: String },
}

/// A chunk's times at its helper (ms on `clock_ms`), and when its reply
/// reached the lead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    /// The helper took the message in hand.
    pub taken: f64,
    /// Milliseconds of work on the chunk.
    pub work: f64,
    /// The helper posted its reply.
    pub answered: f64,
    /// The reply reached the lead.
    #[serde(skip)]
    pub arrived: f64,
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

#[wasm_bindgen]
extern "C" {
    /// What has `postMessage(message, transfer)` and `onmessage`: a
    /// `Worker`, a worker's global scope, a `MessagePort`.
    #[wasm_bindgen(extends = js_sys::Object)]
    #[derive(Clone, Debug)]
    pub type Endpoint;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message(this: &Endpoint, message: &JsValue, transfer: &js_sys::Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, setter)]
    fn set_onmessage(this: &Endpoint, handler: Option<&js_sys::Function>);
}

/// Messages that came from a helper and were not yet taken (each with
/// the time it arrived, or why the helper failed), and the promise's
/// `resolve` of a taker waiting for one.
#[derive(Default)]
struct Inbox {
    messages: VecDeque<Result<(JsValue, f64), String>>,
    wake: Option<js_sys::Function>,
}

impl Inbox {
    fn push(&mut self, message: Result<(JsValue, f64), String>) {
        self.messages.push_back(message);
        if let Some(resolve) = self.wake.take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

/// The lead's end of one helper. Several chunks may be out at once; the
/// replies come back in the order the chunks went.
pub struct Link {
    endpoint: Endpoint,
    /// The worker this link started (`spawn`), ended with the link.
    worker: Option<Worker>,
    /// Whether the helper serves yet: a worker just started says `Ready`,
    /// then is told to `Serve`.
    serving: bool,
    inbox: Rc<RefCell<Inbox>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Option<Closure<dyn FnMut(web_sys::Event)>>,
    /// The parameters' version the helper holds (see `send`).
    version: Option<usize>,
    /// Buffers back from the helper, for the next chunks to carry.
    spare: Vec<js_sys::Float32Array>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // The handler dies with the link: the endpoint must not call it.
        self.endpoint.set_onmessage(None);
        if let Some(worker) = &self.worker {
            worker.terminate();
        }
    }
}

impl Link {
    /// A link to a helper that serves at the other end of `endpoint`
    /// already (see `serve`).
    pub fn new(endpoint: Endpoint) -> Link {
        Link::listen(endpoint, None)
    }

    /// Starts a helper worker running `script` (this worker's own; a
    /// module if `module`), and links to it.
    pub fn spawn(script: &str, module: bool) -> Result<Link, String> {
        let options = web_sys::WorkerOptions::new();
        if module {
            options.set_type(web_sys::WorkerType::Module);
        }
        let worker = Worker::new_with_options(script, &options).map_err(|e| format!("cannot start a helper worker: {e:?}"))?;
        Ok(Link::listen(worker.clone().unchecked_into(), Some(worker)))
    }

    fn listen(endpoint: Endpoint, worker: Option<Worker>) -> Link {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let on_message = {
            let inbox = inbox.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| inbox.borrow_mut().push(Ok((e.data(), clock_ms()))))
        };
        endpoint.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_error = worker.as_ref().map(|worker| {
            let inbox = inbox.clone();
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let what = get(&e, "message").as_string().unwrap_or_else(|| "it could not start".into());
                inbox.borrow_mut().push(Err(format!("a helper worker failed: {what}")));
            });
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error
        });
        let serving = worker.is_none();
        Link { endpoint, worker, serving, inbox, _on_message: on_message, _on_error: on_error, version: None, spare: Vec::new() }
    }

    /// The next message from the helper, and when it arrived.
    async fn next(&self) -> Result<(JsValue, f64), String> {
        loop {
            if let Some(message) = self.inbox.borrow_mut().messages.pop_front() {
                return message;
            }
            let promise = js_sys::Promise::new(&mut |resolve, _| self.inbox.borrow_mut().wake = Some(resolve));
            JsFuture::from(promise).await.map_err(|_| "a helper worker did not answer".to_string())?;
        }
    }

    /// The helper's next reply, the whole message it came in, and when it arrived.
    async fn reply(&self) -> Result<(FromHelper, JsValue, f64), String> {
        let (data, arrived) = self.next().await?;
        Ok((head::<FromHelper>(&data)?, data, arrived))
    }

    /// Makes sure the helper serves and holds `data`, sending it if not.
    pub async fn connect(&mut self, data: &Mnist, source: &str) -> Result<(), String> {
        if !self.serving {
            match decode::<FromWorker>(self.next().await?.0) {
                Ok(FromWorker::Ready) => {}
                other => return Err(format!("a helper worker started with {other:?}")),
            }
            self.post(&encode(&ToWorker::Serve), &js_sys::Array::new())?;
            self.serving = true;
        }
        self.post(&message(&ToHelper::Hello { source: source.into() }), &js_sys::Array::new())?;
        let (FromHelper::Hello { has_data }, ..) = self.reply().await? else {
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
    /// of `version` yet; `receive` takes the replies in the same order.
    pub fn send(&mut self, plan: &Plan, chunk: usize, params: &[f32], version: usize) -> Result<(), String> {
        // A new buffer only until the first replies bring theirs back.
        let buffer = self.spare.pop().unwrap_or_else(|| js_sys::Float32Array::new_with_length(params.len() as u32));
        let fresh = self.version != Some(version);
        if fresh {
            buffer.copy_from(params);
            self.version = Some(version);
        }
        let work = ToHelper::Work { task: plan.task.into(), first: plan.first, end: plan.end, per: plan.per, chunk, params: fresh };
        let message = message(&work);
        set(&message, "buffer", &buffer);
        self.post(&message, &js_sys::Array::of1(&buffer.buffer()))
    }

    /// The outcome of the oldest chunk sent and not yet received, its
    /// gradient copied into `grads`, and its times.
    pub async fn receive(&mut self, grads: &mut [f32]) -> Result<(Outcome, Times), String> {
        let (head, data, arrived) = self.reply().await?;
        let buffer = get(&data, "buffer").dyn_into::<js_sys::Float32Array>().ok().filter(|b| b.length() as usize == grads.len());
        if let FromHelper::Trained { .. } = head {
            buffer.as_ref().ok_or("a helper worker sent no gradient")?.copy_to(grads);
        }
        self.spare.extend(buffer);
        match head {
            FromHelper::Trained { loss, count, times } => Ok((Outcome::Trained { loss, count }, Times { arrived, ..times })),
            FromHelper::Counted { errors, count, times } => Ok((Outcome::Counted { errors, count }, Times { arrived, ..times })),
            FromHelper::Failed { message } => Err(format!("a helper worker failed: {message}")),
            other => Err(format!("a helper worker answered out of turn: {other:?}")),
        }
    }

    fn post(&self, message: &JsValue, transfer: &js_sys::Array) -> Result<(), String> {
        self.endpoint.post_message(message, transfer).map_err(|e| format!("cannot reach a helper worker: {e:?}"))
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
    /// One handler for every endpoint this worker serves: it answers
    /// through the endpoint the message came through.
    static ON_LEAD_MESSAGE: Closure<dyn FnMut(MessageEvent)> = Closure::new(on_lead_message);
}

/// Makes this worker a helper of the lead at the other end of `endpoint`
/// (its own global scope, when the lead started it).
pub fn serve(endpoint: &Endpoint) {
    ON_LEAD_MESSAGE.with(|handler| endpoint.set_onmessage(Some(handler.as_ref().unchecked_ref())));
}

fn on_lead_message(event: MessageEvent) {
    let Some(endpoint) = event.target().map(|t| t.unchecked_into::<Endpoint>()) else { return };
    let taken = clock_ms();
    let data = event.data();
    let buffer = get(&data, "buffer").dyn_into::<js_sys::Float32Array>().ok();
    let reply = match head::<ToHelper>(&data) {
        Ok(message) => HELPER.with(|h| h.borrow_mut().handle(message, &data, buffer.as_ref())),
        Err(message) => Some(FromHelper::Failed { message }),
    };
    if let Some(mut reply) = reply {
        if let FromHelper::Trained { times, .. } | FromHelper::Counted { times, .. } = &mut reply {
            times.taken = taken;
            times.answered = clock_ms();
        }
        let message = message(&reply);
        let transfer = js_sys::Array::new();
        // The buffer goes back, whatever the reply.
        if let Some(buffer) = buffer {
            transfer.push(&buffer.buffer());
            set(&message, "buffer", &buffer);
        }
        // A lead that has gone away needs no answer.
        let _ = endpoint.post_message(&message, &transfer);
    }
}

impl Helper {
    /// The reply to a message (none to `Data`). Work reads the parameters
    /// from `buffer` if they are new, and leaves its gradient there.
    fn handle(&mut self, message: ToHelper, raw: &JsValue, buffer: Option<&js_sys::Float32Array>) -> Option<FromHelper> {
        let failed = |message: String| Some(FromHelper::Failed { message });
        match message {
            ToHelper::Hello { source } => {
                let has_data = self.data.as_ref().is_some_and(|(s, _)| *s == source);
                Some(FromHelper::Hello { has_data })
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
                None
            }
            ToHelper::Work { task, first, end, per, chunk, params } => {
                let Some((_, data)) = &self.data else { return failed("work came before the data".into()) };
                let n = self.model.params.len();
                let Some(buffer) = buffer.filter(|b| b.length() as usize == n) else {
                    return failed(format!("work came without a buffer of the {n} parameters"));
                };
                if params {
                    buffer.copy_to(&mut self.model.params);
                }
                let plan = Plan { task: task.into(), first, end, per };
                let size = match plan.task {
                    Task::Train => data.train.len(),
                    Task::Evaluate(split) => data.split(split).len(),
                };
                if per == 0 || per > STEP_IMAGES || end > size || first + chunk * per >= end {
                    return failed(format!("chunk {chunk} of {first}..{end} by {per} is not in a set of {size}"));
                }
                let start = now_ms();
                let outcome = work(&mut self.model, data, &plan, chunk, &mut self.x);
                let times = Times { work: now_ms() - start, ..Times::default() };
                Some(match outcome {
                    Outcome::Trained { loss, count } => {
                        buffer.copy_from(&self.model.grads);
                        FromHelper::Trained { loss, count, times }
                    }
                    Outcome::Counted { errors, count } => FromHelper::Counted { errors, count, times },
                })
            }
        }
    }
}
