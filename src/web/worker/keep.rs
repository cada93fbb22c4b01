//! The kept run: the latest checkpoint of the run with what the page
//! shows of it (every cost the chart draws, the log, the workers), a
//! `StoredRun`. It is kept here, for Resume and Download run in this
//! session whatever storage allows, and in IndexedDB, for a reload. Only
//! this worker writes it, so that no checkpoint's megabytes pass through
//! the page's thread; the page reads IndexedDB once, at its start, to
//! draw the run it finds.

use std::cell::RefCell;
use std::rc::Rc;

use super::{post, post_with};
use crate::web::store::{Store, StoredRun, DATABASE};
use crate::web::wire::FromWorker;

thread_local! {
    static KEPT: RefCell<Option<Rc<StoredRun>>> = const { RefCell::new(None) };
    /// The database, once opened.
    static STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
}

async fn store() -> Result<Rc<Store>, String> {
    if let Some(store) = STORE.with_borrow(Option::clone) {
        return Ok(store);
    }
    let store = Rc::new(Store::open(DATABASE).await?);
    STORE.with_borrow_mut(|s| *s = Some(store.clone()));
    Ok(store)
}

/// Keeps `run`, which stands at `iterations` (and has ended if
/// `finished`), then tells the page: `Saved`, saying whether IndexedDB
/// took it too.
pub(super) fn save(run: StoredRun, iterations: usize, finished: bool) {
    let run = Rc::new(run);
    KEPT.with_borrow_mut(|k| *k = Some(run.clone()));
    wasm_bindgen_futures::spawn_local(async move {
        let stored = match store().await {
            Ok(store) => store.save(&run).await,
            Err(e) => Err(e),
        };
        post(&FromWorker::Saved { iterations, finished, workers: run.workers, not_stored: stored.err() });
    });
}

/// The kept run: this worker's, else IndexedDB's.
pub(super) async fn kept_run() -> Result<Rc<StoredRun>, String> {
    if let Some(run) = KEPT.with_borrow(Option::clone) {
        return Ok(run);
    }
    let run = store().await?.load().await?.ok_or("no run is kept")?;
    let run = Rc::new(run);
    KEPT.with_borrow_mut(|k| *k = Some(run.clone()));
    Ok(run)
}

/// A checkpoint file the page opened becomes the kept run.
pub(super) fn keep_file(name: String, checkpoint: Vec<u8>, workers: usize) {
    match crate::checkpoint::load(&checkpoint) {
        Ok(snapshot) => {
            let (iterations, finished) = (snapshot.iterations, snapshot.finished.is_some());
            let run = StoredRun { checkpoint, costs: Vec::new(), log: format!("... opened {name}\n"), workers };
            save(run, iterations, finished);
        }
        Err(e) => post(&FromWorker::Error { message: format!("{name}: {e}") }),
    }
}

/// Deletes the kept run, here and in IndexedDB.
pub(super) fn forget() {
    KEPT.with_borrow_mut(|k| *k = None);
    wasm_bindgen_futures::spawn_local(async {
        let forgotten = match store().await {
            Ok(store) => store.forget().await,
            Err(e) => Err(e),
        };
        post(&FromWorker::Forgotten { error: forgotten.err() });
    });
}

/// Sends the page the kept run's checkpoint file, to download.
pub(super) fn send_run() {
    wasm_bindgen_futures::spawn_local(async {
        match kept_run().await {
            Ok(run) => post_with(&FromWorker::RunFile, Some(&js_sys::Uint8Array::from(&run.checkpoint[..]))),
            Err(e) => post(&FromWorker::Error { message: format!("the run cannot be downloaded: {e}") }),
        }
    });
}
