//! The run kept across reloads, in the browser's IndexedDB: one record
//! holding the latest checkpoint file (the CLI's format) and what the page
//! drew and logged of the run. Every failure (no IndexedDB in a private
//! window, a full quota) is an `Err` with the browser's reason; the caller
//! shows it and goes on.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbRequest, IdbTransactionMode};

use super::js::{describe, get, set};
use super::wire::MAX_WORKERS;
use crate::data::Dataset;

/// The database's name on the page; tests open others.
pub const DATABASE: &str = "lenet";
const VERSION: u32 = 2;
const RUNS: &str = "runs";
/// The user's own digits (`DIGITS`) and the model fine-tuned on them (`MODEL`).
const PERSONAL: &str = "personal";
const DIGITS: &str = "digits";
const MODEL: &str = "model";
/// The most digits of their own a user keeps.
pub const MAX_PERSONAL: usize = 1000;
/// The one record's key: the page keeps one run.
const CURRENT: &str = "current";
/// The most of a stored log the page shows: its end, past a cut. A full
/// tutorial run logs about 20,000 characters.
pub const MAX_LOG_CHARS: u32 = 1 << 20;
/// The most chart costs a stored run brings back (the chart keeps fewer).
pub const MAX_COSTS: usize = 1 << 20;

/// A run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    /// A checkpoint file (see `checkpoint`).
    pub checkpoint: Vec<u8>,
    /// (iteration, cost) of every minibatch the chart shows.
    pub costs: Vec<(u32, f32)>,
    /// The log's text.
    pub log: String,
    /// How many workers trained it.
    pub workers: usize,
}

pub struct Store {
    db: IdbDatabase,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.db.close();
    }
}

impl Store {
    /// Opens (creating if need be) the database `name`.
    pub async fn open(name: &str) -> Result<Store, String> {
        let factory = get(&js_sys::global(), "indexedDB");
        if factory.is_undefined() || factory.is_null() {
            return Err("this browser offers no IndexedDB here".into());
        }
        let factory: IdbFactory = factory.unchecked_into();
        let request = factory.open_with_u32(name, VERSION).map_err(|e| reason("cannot open the database", &e))?;
        let on_upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
            let Some(request) = e.target().map(|t| t.unchecked_into::<IdbRequest>()) else {
                return;
            };
            if let Ok(db) = request.result().map(|r| r.unchecked_into::<IdbDatabase>()) {
                for name in [RUNS, PERSONAL] {
                    if !db.object_store_names().contains(name) {
                        // An error here fails the open request, which reports it.
                        let _ = db.create_object_store(name);
                    }
                }
            }
        });
        request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let result = settle(&request).await;
        request.set_onupgradeneeded(None);
        let db = result.map_err(|e| format!("cannot open the database: {e}"))?;
        Ok(Store { db: db.unchecked_into() })
    }

    /// Replaces the stored run with `run`; resolves once it is on disk.
    pub async fn save(&self, run: &StoredRun) -> Result<(), String> {
        let record = js_sys::Object::new();
        set(&record, "checkpoint", &js_sys::Uint8Array::from(&run.checkpoint[..]));
        let iterations: Vec<u32> = run.costs.iter().map(|c| c.0).collect();
        let costs: Vec<f32> = run.costs.iter().map(|c| c.1).collect();
        set(&record, "iterations", &js_sys::Uint32Array::from(&iterations[..]));
        set(&record, "costs", &js_sys::Float32Array::from(&costs[..]));
        set(&record, "log", &run.log.as_str().into());
        set(&record, "workers", &(run.workers as f64).into());
        self.write(RUNS, |store| store.put_with_key(&record, &CURRENT.into())).await.map_err(|e| format!("the run cannot be saved: {e}"))
    }

    /// The stored run, if there is one.
    pub async fn load(&self) -> Result<Option<StoredRun>, String> {
        let fail = |e: String| format!("the saved run cannot be read: {e}");
        let record = self.read(RUNS, CURRENT).await.map_err(fail)?;
        if record.is_undefined() {
            return Ok(None);
        }
        // The record is checked and capped like anything a user types:
        // whatever wrote it, it must not hang or crash the page.
        let bytes = get(&record, "checkpoint").dyn_into::<js_sys::Uint8Array>().map_err(|_| fail("it holds no checkpoint".into()))?;
        if bytes.length() as usize > crate::weights::MAX_FILE_BYTES {
            return Err(fail(format!("its checkpoint has {} bytes, more than any LeNet-5 file", bytes.length())));
        }
        let capped = |name: &str| -> Option<js_sys::Object> {
            let array = get(&record, name);
            let length = get(&array, "length").as_f64()?;
            (length <= MAX_COSTS as f64).then(|| array.unchecked_into())
        };
        let iterations = capped("iterations").and_then(|a| a.dyn_into::<js_sys::Uint32Array>().ok()).map(|a| a.to_vec());
        let costs = capped("costs").and_then(|a| a.dyn_into::<js_sys::Float32Array>().ok()).map(|a| a.to_vec());
        let log = get(&record, "log").dyn_into::<js_sys::JsString>().ok().map_or_else(String::new, |log| {
            // The log's end, where a long one is cut.
            let from = log.length().saturating_sub(MAX_LOG_CHARS);
            String::from(log.slice(from, log.length()))
        });
        let workers =
            get(&record, "workers").as_f64().filter(|w| w.fract() == 0.0).map_or(1, |w| w.clamp(1.0, MAX_WORKERS as f64) as usize);
        Ok(Some(StoredRun {
            checkpoint: bytes.to_vec(),
            costs: iterations.unwrap_or_default().into_iter().zip(costs.unwrap_or_default()).collect(),
            log,
            workers,
        }))
    }

    /// Keeps the user's own digits (replacing those kept before).
    pub async fn save_personal(&self, digits: &Dataset) -> Result<(), String> {
        let record = js_sys::Object::new();
        set(&record, "images", &js_sys::Uint8Array::from(&digits.images[..]));
        set(&record, "labels", &js_sys::Uint8Array::from(&digits.labels[..]));
        self.write(PERSONAL, |store| store.put_with_key(&record, &DIGITS.into()))
            .await
            .map_err(|e| format!("your digits cannot be saved: {e}"))
    }

    /// The user's own digits (none if none are kept), checked like an upload.
    pub async fn load_personal(&self) -> Result<Dataset, String> {
        let fail = |e: String| format!("your saved digits cannot be read: {e}");
        let record = self.read(PERSONAL, DIGITS).await.map_err(fail)?;
        if record.is_undefined() {
            return Ok(Dataset::default());
        }
        let bytes =
            |name: &str| get(&record, name).dyn_into::<js_sys::Uint8Array>().map(|a| a.to_vec()).map_err(|_| fail(format!("no {name}")));
        let digits = Dataset { images: bytes("images")?, labels: bytes("labels")? };
        check_personal(&digits).map_err(fail)?;
        Ok(digits)
    }

    /// Keeps the model fine-tuned on the user's digits, for a reload.
    pub async fn save_model(&self, params: &[f32]) -> Result<(), String> {
        let array = js_sys::Float32Array::from(params);
        self.write(PERSONAL, |store| store.put_with_key(&array, &MODEL.into())).await.map_err(|e| format!("the model cannot be saved: {e}"))
    }

    /// The model fine-tuned on the user's digits, if one is kept.
    pub async fn load_model(&self) -> Result<Option<Vec<f32>>, String> {
        let value = self.read(PERSONAL, MODEL).await.map_err(|e| format!("the saved model cannot be read: {e}"))?;
        if value.is_undefined() {
            return Ok(None);
        }
        let params = value.dyn_into::<js_sys::Float32Array>().map_err(|_| "the saved model holds no numbers".to_string())?;
        if params.length() as usize != crate::model::param_count() || !params.to_vec().iter().all(|v| v.is_finite()) {
            return Err("the saved model is not a LeNet-5".into());
        }
        Ok(Some(params.to_vec()))
    }

    /// Deletes the user's digits (`DIGITS`) or their model (`MODEL`).
    pub async fn forget_personal(&self, model: bool) -> Result<(), String> {
        let key = if model { MODEL } else { DIGITS };
        self.write(PERSONAL, |store| store.delete(&key.into())).await.map_err(|e| format!("cannot delete: {e}"))
    }

    async fn read(&self, name: &str, key: &str) -> Result<JsValue, String> {
        let transaction = self.db.transaction_with_str(name).map_err(|e| describe(&e))?;
        let store = transaction.object_store(name).map_err(|e| describe(&e))?;
        let request = store.get(&key.into()).map_err(|e| describe(&e))?;
        settle(&request).await
    }

    /// Deletes the stored run.
    pub async fn forget(&self) -> Result<(), String> {
        self.write(RUNS, |store| store.delete(&CURRENT.into())).await.map_err(|e| format!("the saved run cannot be deleted: {e}"))
    }

    /// Runs one request in a read-write transaction and waits for the
    /// transaction to commit (or fail: a full quota shows only then).
    async fn write(&self, name: &str, request: impl FnOnce(&web_sys::IdbObjectStore) -> Result<IdbRequest, JsValue>) -> Result<(), String> {
        let transaction = self.db.transaction_with_str_and_mode(name, IdbTransactionMode::Readwrite).map_err(|e| describe(&e))?;
        let store = transaction.object_store(name).map_err(|e| describe(&e))?;
        request(&store).map_err(|e| describe(&e))?;
        let outcome = Rc::new(RefCell::new(None));
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let done = {
                let (outcome, resolve) = (outcome.clone(), resolve.clone());
                Closure::once_into_js(move || {
                    *outcome.borrow_mut() = Some(Ok(()));
                    let _ = resolve.call0(&JsValue::NULL);
                })
            };
            let failed = {
                let (outcome, transaction) = (outcome.clone(), transaction.clone());
                Closure::once_into_js(move || {
                    let why = transaction
                        .error()
                        .map_or_else(|| "the transaction was aborted".into(), |e| format!("{}: {}", e.name(), e.message()));
                    *outcome.borrow_mut() = Some(Err(why));
                    let _ = resolve.call0(&JsValue::NULL);
                })
            };
            transaction.set_oncomplete(Some(done.unchecked_ref()));
            transaction.set_onerror(Some(failed.unchecked_ref()));
            transaction.set_onabort(Some(failed.unchecked_ref()));
        });
        let _ = JsFuture::from(promise).await;
        let result = outcome.borrow_mut().take().unwrap_or_else(|| Err("the transaction did not finish".into()));
        result
    }
}

/// Deletes the database `name` (tests start from nothing).
pub async fn delete_database(name: &str) -> Result<(), String> {
    let factory: IdbFactory = get(&js_sys::global(), "indexedDB").unchecked_into();
    let request = factory.delete_database(name).map_err(|e| describe(&e))?;
    settle(&request).await.map(|_| ())
}

/// The request's result once it succeeds, or the browser's reason.
async fn settle(request: &IdbRequest) -> Result<JsValue, String> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request.result().map_err(|e| describe(&e)),
        Err(_) => {
            Err(request.error().ok().flatten().map_or_else(|| "the request failed".into(), |e| format!("{}: {}", e.name(), e.message())))
        }
    }
}

fn reason(what: &str, error: &JsValue) -> String {
    format!("{what}: {}", describe(error))
}

/// Why a set of the user's digits cannot be used, if it cannot: images
/// and labels that do not pair up, a label that is not a digit, or more
/// than `MAX_PERSONAL`.
pub fn check_personal(digits: &Dataset) -> Result<(), String> {
    let n = digits.labels.len();
    if digits.images.len() != n * crate::model::IMAGE_LEN {
        return Err(format!("{} bytes of images for {n} labels", digits.images.len()));
    }
    if let Some(bad) = digits.labels.iter().find(|&&l| l > 9) {
        return Err(format!("a label of {bad}, where labels are digits 0 to 9"));
    }
    if n > MAX_PERSONAL {
        return Err(format!("{n} digits, more than the {MAX_PERSONAL} a set of your own holds"));
    }
    Ok(())
}
