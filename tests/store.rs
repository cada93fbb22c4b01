//! The run kept in IndexedDB, in a real browser (`wasm-pack test`): it
//! survives a new connection, is replaced and forgotten, and every way
//! storage can fail (no IndexedDB, a full quota at the write, a
//! transaction the browser aborts) is an error with the browser's reason,
//! after which the store still works.
#![cfg(target_arch = "wasm32")]

use lenet::web::store::{delete_database, Store, StoredRun};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn run(seed: u8) -> StoredRun {
    StoredRun {
        checkpoint: (0..200_000u32).map(|i| (i as u8).wrapping_mul(seed)).collect(),
        costs: vec![(0, 2.3), (1, 2.25), (499, 0.125)],
        log: format!("epoch 1, minibatch 500/500, validation error {seed}.00 %\n"),
        workers: usize::from(seed),
    }
}

/// Runs a piece of JavaScript in the test page (to break what a test needs broken).
fn js(code: &str) {
    js_sys::Function::new_no_args(code).call0(&wasm_bindgen::JsValue::NULL).expect("the test's script runs");
}

#[wasm_bindgen_test]
async fn a_run_survives_a_new_connection_and_is_replaced_then_forgotten() {
    let name = "lenet-test-roundtrip";
    delete_database(name).await.unwrap();
    let store = Store::open(name).await.unwrap();
    assert_eq!(store.load().await.unwrap(), None, "a new database holds no run");
    store.save(&run(3)).await.unwrap();
    drop(store);
    // A new connection, as after a reload.
    let store = Store::open(name).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(run(3)));
    store.save(&run(5)).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(run(5)), "the page keeps one run: the latest");
    store.forget().await.unwrap();
    assert_eq!(store.load().await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn a_full_quota_is_an_error_with_the_reason_and_the_store_goes_on() {
    let name = "lenet-test-quota";
    delete_database(name).await.unwrap();
    let store = Store::open(name).await.unwrap();
    store.save(&run(2)).await.unwrap();
    js("const put = IDBObjectStore.prototype.put; IDBObjectStore.prototype.__put = put;
        IDBObjectStore.prototype.put = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };");
    let failed = store.save(&run(4)).await;
    js("IDBObjectStore.prototype.put = IDBObjectStore.prototype.__put; delete IDBObjectStore.prototype.__put;");
    let message = failed.unwrap_err();
    assert!(message.contains("QuotaExceededError") && message.contains("cannot be saved"), "{message}");
    assert_eq!(store.load().await.unwrap(), Some(run(2)), "a failed save loses nothing");
    store.save(&run(4)).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(run(4)));
}

#[wasm_bindgen_test]
async fn a_transaction_aborted_at_commit_is_an_error() {
    let name = "lenet-test-abort";
    delete_database(name).await.unwrap();
    let store = Store::open(name).await.unwrap();
    js("const put = IDBObjectStore.prototype.put; IDBObjectStore.prototype.__put = put;
        IDBObjectStore.prototype.put = function (...a) { const r = put.apply(this, a); this.transaction.abort(); return r; };");
    let failed = store.save(&run(6)).await;
    js("IDBObjectStore.prototype.put = IDBObjectStore.prototype.__put; delete IDBObjectStore.prototype.__put;");
    assert!(failed.unwrap_err().contains("cannot be saved"));
    assert_eq!(store.load().await.unwrap(), None, "an aborted write leaves nothing half written");
}

#[wasm_bindgen_test]
async fn no_indexeddb_is_an_error_not_a_panic() {
    // indexedDB is the global object's own accessor: replaced, then put back.
    js("globalThis.__idb = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')
          ?? Object.getOwnPropertyDescriptor(Object.getPrototypeOf(globalThis), 'indexedDB');
        Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true });");
    let restore = "Object.defineProperty(globalThis, 'indexedDB', globalThis.__idb);";
    let opened = Store::open("lenet-test-none").await;
    js(restore);
    assert!(opened.err().unwrap().contains("no IndexedDB"));
    js("Object.defineProperty(globalThis, 'indexedDB', { value: { open() { throw new DOMException('The operation is insecure.', 'SecurityError'); } }, configurable: true });");
    let opened = Store::open("lenet-test-none").await;
    js(restore);
    let message = opened.err().unwrap();
    assert!(message.contains("SecurityError"), "a private window's refusal is named: {message}");
    assert!(Store::open("lenet-test-none").await.is_ok(), "IndexedDB is back");
}
