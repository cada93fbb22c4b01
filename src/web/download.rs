//! fetch() with progress, from a worker: the body is read as a stream so
//! that every chunk can report the bytes received so far.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response, WorkerGlobalScope};

/// The bytes at `url`; `progress(loaded, total)` after each chunk
/// (`total` from Content-Length, when the server sends one). Errors name
/// what went wrong for a person to read.
pub async fn fetch_bytes(url: &str, mut progress: impl FnMut(f64, Option<f64>)) -> Result<Vec<u8>, String> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| format!("cannot download {url}: {}", describe(&e)))?;
    let response: Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("HTTP {} {} for {url}", response.status(), response.status_text()));
    }
    let total = response.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<f64>().ok());
    let body = response.body().ok_or_else(|| format!("{url} has an empty body"))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0.0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| format!("download of {url} failed: {}", describe(&e)))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(|e| describe(&e))?;
        bytes.extend_from_slice(&js_sys::Uint8Array::new(&value).to_vec());
        progress(bytes.len() as f64, total);
    }
    Ok(bytes)
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}
