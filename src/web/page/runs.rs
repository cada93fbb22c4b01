//! The kept run as the page shows it: found in IndexedDB at the start
//! (read once, drawn, and let go: the worker keeps the checkpoint and
//! writes every new one), opened from a file, resumed, downloaded and
//! forgotten through the worker.

use web_sys::{HtmlButtonElement, HtmlElement};

use super::app::{with_app, KeptRun, Queued};
use super::files;
use super::link::{send, send_or_queue, send_with};
use super::model::{use_model, Origin};
use super::status::{log_line, report, request_redraw, show_error};
use crate::data::TRAIN_SIZE;
use crate::train::Snapshot;
use crate::web::store::Store;
use crate::web::wire::ToWorker;
use crate::web::{element, next_task};

/// Shows the run `store` holds, if any: its best model in use, its chart
/// and log, Resume offered if it can go on. Whether there was one.
pub async fn restore_saved(store: &Store) -> bool {
    match store.load().await {
        Ok(Some(run)) => match crate::checkpoint::open(&run.checkpoint, TRAIN_SIZE) {
            Ok(snapshot) => match files::other_data_set(&snapshot) {
                // Kept as it is, for the page of its own data set.
                Some(why) => {
                    log_line(&format!("... the saved run is {why}"));
                    with_app(|app| app.kept = Some(KeptRun { workers: run.workers, resumable: false }));
                    show_kept();
                }
                None => {
                    next_task().await;
                    let kept = KeptRun { workers: run.workers, resumable: snapshot.finished.is_none() };
                    restore(snapshot, &run.costs, &run.log, kept);
                    return true;
                }
            },
            Err(e) => unreadable(&format!("the saved run is unreadable ({e})")),
        },
        Ok(None) => {}
        Err(e) => unreadable(&e),
    }
    false
}

/// A stored run the page cannot use: said, with Forget enabled to clear it.
fn unreadable(why: &str) {
    with_app(|app| app.unreadable = true);
    show_error(&format!("{why}. Forget clears it."));
    show_kept();
}

/// Shows a run from the store or a file: its best model in use, its
/// history in the chart and log, Resume offered if it can go on.
fn restore(snapshot: Snapshot, costs: &[(u32, f32)], log: &str, kept: KeptRun) {
    with_app(|app| {
        app.chart.clear();
        for &(iter, cost) in costs {
            app.chart.push_cost(f64::from(iter + 1), f64::from(cost));
        }
        for v in &snapshot.history {
            app.chart.push_validation(v.epoch as f64, v.error * 100.0);
            if let Some(t) = v.test {
                app.chart.push_test(v.epoch as f64, t * 100.0);
            }
        }
        app.kept = Some(kept);
        app.unreadable = false;
    });
    element::<HtmlElement>("log").set_text_content(Some(log));
    if kept.resumable {
        log_line(&format!("... a saved run, at epoch {}, minibatch {}: Resume continues it", snapshot.epoch, snapshot.minibatch));
    }
    use_model(Origin::Restored, snapshot.best_params);
    show_kept();
    request_redraw();
}

/// A checkpoint file the user opened (and `files::open` checked): the
/// worker keeps it, and the page shows it as the kept run.
pub async fn open_run(name: String, snapshot: Snapshot, checkpoint: Vec<u8>, workers: usize) {
    if with_app(|app| app.state.in_run()) {
        return show_error(&format!("{name}: a run is in progress; stop it first to open another"));
    }
    let log = format!("... opened {name}\n");
    let kept = KeptRun { workers, resumable: snapshot.finished.is_none() };
    send_keep(name, checkpoint, workers);
    next_task().await;
    restore(snapshot, &[], &log, kept);
}

/// Has the worker keep a checkpoint file (now, or once it is ready).
pub fn send_keep(name: String, checkpoint: Vec<u8>, workers: usize) {
    if with_app(|app| app.worker_ready) {
        send_with(&ToWorker::Keep { name, workers }, Some(&js_sys::Uint8Array::from(&checkpoint[..])));
    } else {
        with_app(|app| app.queued.push(Queued::Keep { name, checkpoint, workers }));
    }
}

/// The kept run's buttons: Resume if it can go on, Download run and
/// Forget if one is kept.
pub fn show_kept() {
    let (kept, state, unreadable) = with_app(|app| (app.kept, app.state, app.unreadable));
    let resumable = kept.is_some_and(|k| k.resumable);
    element::<HtmlButtonElement>("resume").set_hidden(!resumable || state.in_run());
    element::<HtmlButtonElement>("download-run").set_hidden(kept.is_none());
    element::<HtmlButtonElement>("forget").set_disabled(!(kept.is_some() || unreadable));
}

/// The worker kept the run: in IndexedDB too, unless `not_stored` says why not.
pub fn on_saved(iterations: usize, finished: bool, workers: usize, not_stored: Option<String>) {
    with_app(|app| {
        app.kept = Some(KeptRun { workers, resumable: !finished });
        app.unreadable = false;
    });
    show_kept();
    let status: HtmlElement = element("status");
    match not_stored {
        None => {
            let _ = status.set_attribute("data-saved", &iterations.to_string());
        }
        Some(e) => show_error(&format!("{e}. The run is kept until the page closes.")),
    }
}

/// Forget: the worker deletes the kept run; the page follows its answer
/// (`on_forgotten`). The model in use stays.
pub fn forget_run() {
    show_error("");
    if send_or_queue(Queued::Forget) {
        send(&ToWorker::Forget);
    }
}

pub fn on_forgotten(error: Option<String>) {
    if let Some(e) = error {
        return show_error(&e);
    }
    with_app(|app| {
        app.kept = None;
        app.unreadable = false;
    });
    let _ = element::<HtmlElement>("status").remove_attribute("data-saved");
    show_kept();
}

/// Download run: the worker sends the kept run's file (`on_run_file`).
pub fn download_run() {
    if send_or_queue(Queued::SendRun) {
        send(&ToWorker::SendRun);
    }
}

pub fn on_run_file(checkpoint: &[u8]) {
    report(files::download(checkpoint, "lenet5-run.checkpoint.safetensors"));
}
