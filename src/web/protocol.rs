//! Messages between the page and the training worker. Both sides convert
//! them with serde-wasm-bindgen; weights travel apart, as a transferred
//! `Float32Array`, so that 431,080 numbers are not copied into a JS array.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::train::Protocol;

/// What the page's form sets; the rest of the protocol is the tutorial's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub learning_rate: f32,
    pub momentum: f32,
    pub lr_decay: f32,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u32,
}

impl Settings {
    pub fn from_protocol(p: &Protocol) -> Settings {
        Settings {
            learning_rate: p.learning_rate,
            momentum: p.momentum,
            lr_decay: p.lr_decay,
            batch_size: p.batch_size,
            epochs: p.epochs,
            seed: p.seed as u32,
        }
    }

    /// The protocol these settings make, checked against a training set of
    /// `train_len` images.
    pub fn protocol(&self, train_len: usize) -> Result<Protocol, String> {
        let protocol = Protocol {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            lr_decay: self.lr_decay,
            batch_size: self.batch_size,
            epochs: self.epochs,
            seed: u64::from(self.seed),
            ..Protocol::tutorial()
        };
        protocol.check(train_len)?;
        Ok(protocol)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ToWorker {
    /// Download and parse MNIST from `data_url` (a base URL ending in '/'),
    /// and start the helper workers a run on `workers` will need.
    Load { data_url: String, workers: usize },
    /// Start a new run on `workers` workers, this one and helpers it
    /// starts (loading the data first if need be).
    Start { settings: Settings, data_url: String, workers: usize },
    /// Be a helper of the worker that started this one.
    Serve,
    Pause,
    Resume,
    Stop,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FromWorker {
    /// The worker listens: the page may send.
    Ready,
    Download { file: String, loaded: f64, total: Option<f64> },
    DataReady { train: usize, valid: usize, test: usize },
    Progress(Progress),
    Paused,
    Resumed,
    Stopped,
    Finished { reason: String, best_validation: f64, best_iter: usize, test_score: f64 },
    Error { message: String },
}

/// What happened during one chunk of work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    /// Minibatches done in this epoch, and per epoch.
    pub minibatch: usize,
    pub batches_per_epoch: usize,
    pub iterations: usize,
    /// (iteration, cost) of each minibatch trained in the chunk.
    pub costs: Vec<(u32, f32)>,
    /// (epoch, error %) of each validation pass and of each new best's test.
    pub validations: Vec<(u32, f64)>,
    pub tests: Vec<(u32, f64)>,
    /// The tutorial's log lines.
    pub log: Vec<String>,
    pub images_per_second: f64,
    /// Seconds spent training (pauses excluded).
    pub elapsed: f64,
    pub best_validation: Option<f64>,
    pub test_score: Option<f64>,
    /// "validation 3000/10000" while a pass runs.
    pub evaluating: Option<String>,
    /// Where the chunk's training steps spent their time.
    pub steps: StepTimes,
}

/// Milliseconds summed over training steps, as the lead saw them: its own
/// chunks' work; its helpers' work (each helper's time added) and their
/// handling of the chunks around it (taking the parameters in, giving the
/// gradient back); its wait for the helpers once its own chunks were
/// done, and of that wait the time messages were on their way (the first
/// chunk to a helper, the last reply back); and the rest of its step
/// (sending, adding gradients, the update). With one worker, only `own`
/// and `rest` grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepTimes {
    pub steps: u32,
    pub images: u32,
    pub own: f64,
    pub helpers: f64,
    pub handling: f64,
    pub wait: f64,
    pub in_flight: f64,
    pub rest: f64,
}

pub fn encode<T: Serialize>(message: &T) -> JsValue {
    serde_wasm_bindgen::to_value(message).expect("protocol messages always convert")
}

pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("unreadable message: {e}"))
}

const WEIGHTS: &str = "Weights";

/// `{type: "Weights", params: Float32Array}`, and the buffer to transfer.
pub fn encode_weights(params: &[f32]) -> (JsValue, js_sys::Array) {
    let array = js_sys::Float32Array::from(params);
    let message = js_sys::Object::new();
    js_sys::Reflect::set(&message, &"type".into(), &WEIGHTS.into()).expect("plain object");
    js_sys::Reflect::set(&message, &"params".into(), &array).expect("plain object");
    (message.into(), js_sys::Array::of1(&array.buffer()))
}

/// The parameters of a weights message; None for any other message.
pub fn decode_weights(value: &JsValue) -> Option<Vec<f32>> {
    let kind = js_sys::Reflect::get(value, &"type".into()).ok()?;
    if kind.as_string().as_deref() != Some(WEIGHTS) {
        return None;
    }
    let params = js_sys::Reflect::get(value, &"params".into()).ok()?;
    Some(params.dyn_into::<js_sys::Float32Array>().ok()?.to_vec())
}
