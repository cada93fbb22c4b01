//! Every message on the wire: between the page and its training worker,
//! and between the lead worker and its helpers. They are plain Rust types
//! (built natively too, so that the fuzzer reaches what reads them); `js`
//! converts them, and the numbers (weights, gradients, checkpoints, the
//! data set) travel beside them as payloads, transferred typed arrays never copied
//! into JS arrays.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::augment::{Augment, Distortion};
use crate::data::HeldOut;
use crate::train::{Plan, Protocol, Schedule, StopReason, Task};

// The core's own enums cross the wire. The core uses no crate, so their
// serde derives are written here, as serde's "remote" derives: the
// compiler checks each against the enum it names (a variant added there
// and not here does not build), and the field that carries one says
// `#[serde(with = ...)]`.

#[derive(Serialize, Deserialize)]
#[serde(remote = "Schedule", rename_all = "lowercase")]
enum ScheduleDef {
    Step,
    Cosine,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "StopReason", rename_all = "lowercase")]
enum StopReasonDef {
    Epochs,
    Patience,
    Diverged,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Augment")]
struct AugmentDef {
    rotate: f32,
    scale: f32,
    shear: f32,
    shift: f32,
    elastic: f32,
    elastic_sigma: f32,
    stroke: f32,
    blur: f32,
}

/// `Option<Distortion>` on the wire: its settings, and its seed as text
/// (a `u64` may be past what a JS number holds exactly).
mod distortion_wire {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Augment, AugmentDef, Distortion};

    #[derive(Serialize, Deserialize)]
    struct Wire {
        #[serde(with = "AugmentDef")]
        augment: Augment,
        seed: String,
        epoch: usize,
    }

    pub fn serialize<S: Serializer>(d: &Option<Distortion>, s: S) -> Result<S::Ok, S::Error> {
        d.map(|d| Wire { augment: d.augment, seed: d.seed.to_string(), epoch: d.epoch }).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Distortion>, D::Error> {
        let wire = Option::<Wire>::deserialize(d)?;
        wire.map(|w| Ok(Distortion { augment: w.augment, seed: w.seed.parse().map_err(D::Error::custom)?, epoch: w.epoch })).transpose()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "HeldOut", rename_all = "lowercase")]
enum HeldOutDef {
    Validation,
    Test,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Task", rename_all = "lowercase")]
enum TaskDef {
    Train,
    Evaluate(#[serde(with = "HeldOutDef")] HeldOut),
}

/// At most this many workers share a run, whatever
/// `navigator.hardwareConcurrency`, a form or a stored run says.
pub const MAX_WORKERS: usize = 16;

/// What the page's form sets; the rest of the protocol is the tutorial's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub learning_rate: f32,
    pub momentum: f32,
    pub lr_decay: f32,
    /// Step when a message has none.
    #[serde(with = "ScheduleDef", default)]
    pub schedule: Schedule,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u32,
    /// None when a message has none.
    #[serde(with = "AugmentDef", default)]
    pub augment: Augment,
}

impl Settings {
    pub fn from_protocol(p: &Protocol) -> Settings {
        Settings {
            learning_rate: p.learning_rate,
            momentum: p.momentum,
            lr_decay: p.lr_decay,
            schedule: p.schedule,
            batch_size: p.batch_size,
            epochs: p.epochs,
            seed: p.seed as u32,
            augment: p.augment,
        }
    }

    /// The protocol these settings make, checked against a training set of
    /// `train_len` images.
    pub fn protocol(&self, train_len: usize) -> Result<Protocol, String> {
        let protocol = Protocol {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            lr_decay: self.lr_decay,
            schedule: self.schedule,
            batch_size: self.batch_size,
            epochs: self.epochs,
            seed: u64::from(self.seed),
            augment: self.augment,
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
    Load {
        data_url: String,
        workers: usize,
    },
    /// Start a new run on `workers` workers, this one and helpers it
    /// starts (loading the data first if need be).
    Start {
        settings: Settings,
        data_url: String,
        workers: usize,
    },
    /// Continue the kept run (the one this worker kept last, else the
    /// one in IndexedDB) on `workers` workers (loading the data first if
    /// need be).
    Restore {
        data_url: String,
        workers: usize,
    },
    /// Keep the checkpoint file of the payload as the run (a file the
    /// page checked and opened), to be trained on `workers` workers;
    /// answered by `Saved`.
    Keep {
        name: String,
        workers: usize,
    },
    /// Delete the kept run; answered by `Forgotten`.
    Forget,
    /// Send the kept run's checkpoint file; answered by `RunFile`.
    SendRun,
    /// Predict every test image with the model whose parameters come as
    /// the payload; answered by `Evaluated` with the same `id`, unless a
    /// newer evaluation was asked for meanwhile.
    Evaluate {
        id: u32,
    },
    /// Fine-tune a model on the user's own digits (`labels`, one each),
    /// mixed with MNIST's training images: the payload holds the model's
    /// parameters, then the digits' images (784 values each, the
    /// network's scale). Answered by `Learned` or `NotLearned`.
    Learn {
        id: u32,
        labels: Vec<u8>,
    },
    /// Test images by index, answered by `Images`.
    Images {
        indices: Vec<u32>,
    },
    /// Be a helper of the worker that started this one.
    Serve,
    Pause,
    Resume,
    Stop,
    /// Panic, as a bug would: the page's `?test-crash`, for the test of
    /// its recovery.
    Crash,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FromWorker {
    /// The worker listens: the page may send.
    Ready,
    Download {
        file: String,
        loaded: f64,
        total: Option<f64>,
    },
    DataReady {
        train: usize,
        valid: usize,
        test: usize,
    },
    Progress(Box<Progress>),
    /// A model to classify with, its parameters as the payload: the run's
    /// current one now and then, or at the run's end (`best`) its best.
    Weights {
        best: bool,
    },
    /// The run is kept, at an epoch's end, a pause, its finish or a
    /// `Keep`: in this worker for `Restore` and `SendRun`, and in
    /// IndexedDB for a reload unless `not_stored` says why not.
    Saved {
        iterations: usize,
        finished: bool,
        workers: usize,
        not_stored: Option<String>,
    },
    /// The kept run is deleted (or why it is not).
    Forgotten {
        error: Option<String>,
    },
    /// The kept run as a checkpoint file (the payload), which `lenet
    /// train --resume` takes.
    RunFile,
    /// Lines for the log: the run's header, a resumed or opened run's note.
    Log {
        lines: Vec<String>,
    },
    /// The test set's predictions by model `id`: the payload holds, per image,
    /// its label, the predicted digit and that digit's probability.
    Evaluated {
        id: u32,
    },
    /// The model fine-tuned for `Learn { id }`, its parameters as the payload.
    Learned {
        id: u32,
    },
    /// Why `Learn { id }` could not run.
    NotLearned {
        id: u32,
        message: String,
    },
    /// The asked-for test images, 784 bytes each, as the payload.
    Images {
        indices: Vec<u32>,
    },
    Paused,
    Resumed,
    Stopped,
    /// The run ended.
    Finished {
        #[serde(with = "StopReasonDef")]
        reason: StopReason,
        best_validation: f64,
        best_iter: usize,
        test_score: f64,
    },
    Error {
        message: String,
    },
    /// MNIST is not where the page looked (a 404): a build made before
    /// `cargo xtask fetch-data`. Training waits for it; drawings are read.
    DataMissing {
        message: String,
    },
    /// The worker panicked (a bug): the page restarts it.
    Crashed {
        message: String,
    },
}

/// What happened during one slice of the worker's time.
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
    /// Where the slice's training steps spent their time, and how long
    /// its evaluation steps took.
    pub steps: StepTimes,
}

/// Milliseconds summed over training steps, as the lead saw them: its own
/// chunks' work; its helpers' work (each helper's time added) and their
/// handling of the message around it (taking the parameters in, giving
/// the gradient sums back); its wait for the helpers once its own chunks
/// were done, and of that wait the time messages were on their way (the
/// work to a helper, the reply back); and the rest of its step (sending,
/// adding the helpers' sums, the update). `taking` is the part of the
/// rest spent on the replies: copying the sums out and adding them. With
/// one worker, only `own` and `rest` grow. `evaluating` is apart from
/// all these: the whole time of the evaluation steps (validation and test
/// passes), which a training rate leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepTimes {
    pub steps: u32,
    pub images: u32,
    pub own: f64,
    pub helpers: f64,
    pub handling: f64,
    pub wait: f64,
    pub in_flight: f64,
    pub taking: f64,
    pub rest: f64,
    pub evaluating: f64,
}

/// Lead to helper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ToHelper {
    /// Do you hold the data of `data_url`? (Answered by `Hello`.)
    Hello { data_url: String },
    /// The data of `data_url`, in the arrays `DATA_ARRAYS` name.
    Data { data_url: String },
    /// Work chunks `from..to` of the plan. The link's `buffers` come
    /// along, the first holding the parameters if `params` (they changed
    /// since the last work), and go back with the reply, holding the
    /// training chunks' gradient sums (`GradTree::cover`, one a buffer).
    Work {
        #[serde(with = "TaskDef")]
        task: Task,
        first: usize,
        end: usize,
        chunk_images: usize,
        batch: usize,
        from: usize,
        to: usize,
        params: bool,
        #[serde(with = "distortion_wire", default)]
        distortion: Option<Distortion>,
    },
}

/// Helper to lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FromHelper {
    Hello {
        has_data: bool,
    },
    /// (mean loss, images) of each training chunk worked, their gradient
    /// sums in the buffers, and when the work was taken in hand, done and
    /// answered.
    Trained {
        chunks: Vec<(f32, usize)>,
        times: Times,
    },
    /// The evaluation chunks' errors and images, added up.
    Counted {
        errors: usize,
        count: usize,
        times: Times,
    },
    Failed {
        message: String,
    },
}

/// A piece of work's times at its helper (ms on `clock_ms`), and when
/// its reply reached the lead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    /// The helper took the message in hand.
    pub taken: f64,
    /// Milliseconds of work on the chunks.
    pub work: f64,
    /// The helper posted its reply.
    pub answered: f64,
    /// The reply reached the lead.
    #[serde(skip)]
    pub arrived: f64,
}

impl ToHelper {
    /// The work message for chunks `chunks` of `plan`.
    pub fn work(plan: &Plan, chunks: Range<usize>, params: bool) -> ToHelper {
        let (first, end, chunk_images, batch) = (plan.first, plan.end, plan.chunk_images, plan.batch);
        let distortion = plan.distortion;
        ToHelper::Work { task: plan.task, first, end, chunk_images, batch, from: chunks.start, to: chunks.end, params, distortion }
    }
}

/// The typed arrays of a `Data` message, by name: images and labels of
/// the training, validation and test sets.
pub const DATA_ARRAYS: [&str; 6] = ["train_images", "train_labels", "valid_images", "valid_labels", "test_images", "test_labels"];
