//! Training checkpoints: a safetensors file, as weight files are. Its
//! tensors are the current model's parameters under the weight file's
//! names (so `lenet evaluate` and Python's `safetensors` read a checkpoint
//! as a model), the best model's (`best`) and the momentum's (`velocity`)
//! as flat tensors; everything else is `key=value` lines under the one
//! `__metadata__` key `lenet-checkpoint` (one key, so that the same state
//! makes the same bytes: see `write_safetensors`). Numbers
//! are written in Rust's shortest form that reads back to the same bits,
//! so a resumed run is bit-identical to one never stopped.

use crate::augment::Augment;
use crate::data::Collection;
use crate::model::{param_count, PARAMS};
use crate::tensor::numel;
use crate::train::{Protocol, Schedule, Snapshot, StopReason, Validation};
use crate::weights::{read_safetensors, read_safetensors_metadata, take_params, write_safetensors};

/// The metadata key that holds the state.
pub const KEY: &str = "lenet-checkpoint";
/// The `format` the state names: a file of another format is refused.
pub const FORMAT: &str = "lenet-checkpoint-1";

/// The `dataset` of a run on data that is neither MNIST nor Fashion-MNIST.
const OTHER_DATA: &str = "other";

/// The snapshot as a checkpoint file.
#[track_caller]
pub fn save(s: &Snapshot) -> Vec<u8> {
    assert_eq!(s.params.len(), param_count(), "LeNet-5 has {} parameters", param_count());
    let p = &s.protocol;
    let finished = s.finished.map_or("", StopReason::name);
    let history: Vec<String> = s
        .history
        .iter()
        .map(|v| format!("{} {} {:?} {}", v.epoch, v.iter, v.error, v.test.map_or("-".into(), |t| format!("{t:?}"))))
        .collect();
    let fields: Vec<(&str, String)> = vec![
        ("format", FORMAT.into()),
        ("model", crate::weights::DESCRIPTION.into()),
        ("learning_rate", format!("{:?}", p.learning_rate)),
        ("momentum", format!("{:?}", p.momentum)),
        ("lr_decay", format!("{:?}", p.lr_decay)),
        ("schedule", p.schedule.name().into()),
        ("batch_size", p.batch_size.to_string()),
        ("epochs", p.epochs.to_string()),
        ("seed", p.seed.to_string()),
        ("patience_start", p.patience.to_string()),
        ("patience_increase", p.patience_increase.to_string()),
        ("improvement_threshold", format!("{:?}", p.improvement_threshold)),
        ("augment", p.augment.to_string()),
        ("best_validation", format!("{:?}", s.best_validation)),
        ("best_iter", s.best_iter.to_string()),
        ("test_score", format!("{:?}", s.test_score)),
        ("epoch", s.epoch.to_string()),
        ("minibatch", s.minibatch.to_string()),
        ("iterations", s.iterations.to_string()),
        ("patience", s.patience.to_string()),
        ("finished", finished.into()),
        ("history", history.join(";")),
        ("dataset", s.dataset.map_or(OTHER_DATA, Collection::name).into()),
    ];
    let state: String = fields.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let mut offset = 0;
    let mut tensors: Vec<(&str, &[usize], &[f32])> = PARAMS
        .iter()
        .map(|&(name, shape)| {
            offset += numel(shape);
            (name, shape, &s.params[offset - numel(shape)..offset])
        })
        .collect();
    // As long as they are: whether they fit is `Snapshot::check`'s to say.
    let (best, velocity) = ([s.best_params.len()], [s.velocity.len()]);
    tensors.push(("best", &best, &s.best_params));
    if !s.velocity.is_empty() {
        tensors.push(("velocity", &velocity, &s.velocity));
    }
    write_safetensors(&tensors, Some((KEY, &state)))
}

/// The snapshot in a checkpoint file, or what is wrong with the file.
/// Whether the run it holds can go on is `Snapshot::check`'s to say: see
/// `open`.
pub fn load(bytes: &[u8]) -> Result<Snapshot, String> {
    let metadata = read_safetensors_metadata(bytes)?;
    let state = metadata.get(KEY).ok_or_else(|| format!("not a checkpoint: its metadata has no {KEY:?}"))?;
    let meta: std::collections::BTreeMap<&str, &str> = state.lines().filter_map(|line| line.split_once('=')).collect();
    let field = |key: &str| meta.get(key).copied().ok_or_else(|| format!("the checkpoint has no {key:?}"));
    if field("format")? != FORMAT {
        return Err(format!("not a checkpoint of this version ({FORMAT}): its format is {:?}", field("format")?));
    }
    fn number<T: std::str::FromStr>(key: &str, text: &str) -> Result<T, String> {
        text.parse().map_err(|_| format!("the checkpoint's {key} is not a number: {text:?}"))
    }
    // Counts are read as 64-bit numbers, so that one too large for this
    // machine's `usize` (32 bits in the browser) is called that, not "not a number".
    let count = |key: &str, text: &str| {
        let n = number::<u64>(key, text)?;
        usize::try_from(n).map_err(|_| format!("the checkpoint's {key} {n} is more than this machine can count"))
    };
    let num = |key: &str| field(key).and_then(|v| count(key, v));
    let real = |key: &str| field(key).and_then(|v| number::<f64>(key, v));
    let float = |key: &str| field(key).and_then(|v| number::<f32>(key, v));
    let protocol = Protocol {
        learning_rate: float("learning_rate")?,
        momentum: float("momentum")?,
        lr_decay: float("lr_decay")?,
        // Checkpoints written before schedules existed stepped.
        schedule: match meta.get("schedule") {
            None => Schedule::Step,
            Some(name) => Schedule::from_name(name).ok_or_else(|| format!("the checkpoint's schedule {name:?} is unknown"))?,
        },
        batch_size: num("batch_size")?,
        epochs: num("epochs")?,
        seed: field("seed").and_then(|v| number("seed", v))?,
        patience: num("patience_start")?,
        patience_increase: num("patience_increase")?,
        improvement_threshold: real("improvement_threshold")?,
        // Checkpoints written before distortions existed had none.
        augment: match meta.get("augment") {
            None => Augment::NONE,
            Some(text) => Augment::parse(text).map_err(|e| format!("the checkpoint's {e}"))?,
        },
    };
    let finished = match field("finished")? {
        "" => None,
        name => Some(
            [StopReason::Epochs, StopReason::Patience, StopReason::Diverged]
                .into_iter()
                .find(|r| r.name() == name)
                .ok_or_else(|| format!("the checkpoint's run ended for an unknown reason {name:?}"))?,
        ),
    };
    let history = field("history")?
        .split(';')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.split(' ').collect();
            let [epoch, iter, error, test] = parts[..] else { return Err(format!("the checkpoint's history has a bad entry {entry:?}")) };
            let test = if test == "-" { None } else { Some(number("history", test)?) };
            Ok(Validation { epoch: count("history", epoch)?, iter: count("history", iter)?, error: number("history", error)?, test })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Checkpoints written before Fashion-MNIST came were MNIST's.
    let dataset = match meta.get("dataset").copied() {
        None => Some(Collection::Mnist),
        Some(OTHER_DATA) => None,
        Some(name) => Some(Collection::parse(name).ok_or_else(|| format!("the checkpoint's data set {name:?} is unknown"))?),
    };
    let mut tensors = read_safetensors(bytes)?;
    let mut flat = |name: &str| -> Result<Vec<f32>, String> {
        let t = tensors.remove(name).ok_or_else(|| format!("the checkpoint has no tensor {name:?}"))?;
        if t.data.iter().any(|v| !v.is_finite()) {
            return Err(format!("the checkpoint's {name} holds a non-finite value"));
        }
        Ok(t.data)
    };
    let velocity = if protocol.momentum > 0.0 { flat("velocity")? } else { Vec::new() };
    let best_params = flat("best")?;
    let params = take_params(&mut tensors)?;
    Ok(Snapshot {
        protocol,
        params,
        velocity,
        best_params,
        best_validation: real("best_validation")?,
        best_iter: num("best_iter")?,
        test_score: real("test_score")?,
        epoch: num("epoch")?,
        minibatch: num("minibatch")?,
        iterations: num("iterations")?,
        patience: num("patience")?,
        finished,
        dataset,
        history,
    })
}

/// The run in a checkpoint file, if it can go on on a training set of
/// `train_len` images; else what is wrong with it. What the page asks of
/// a file or a stored run before it keeps or shows it.
pub fn open(bytes: &[u8], train_len: usize) -> Result<Snapshot, String> {
    let snapshot = load(bytes)?;
    snapshot.check(train_len)?;
    Ok(snapshot)
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or
/// the new one whole: a temporary file beside it, flushed, then renamed.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
