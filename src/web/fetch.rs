//! MNIST's files from the network, in a worker: each `.gz` is fetched as a
//! stream, its bytes counted for the progress line as they arrive, and
//! decompressed by the browser's own `DecompressionStream` while they
//! stream in. The output is checked against the IDX header as soon as the
//! header is there: a file that inflates past what its header declares
//! (a gzip bomb) is stopped at that point, never inflated whole. A server
//! that does not answer within `ANSWER_MS`, or stops sending for
//! `STALL_MS` mid-file, is given up on with an error naming the URL.
//! `download_mnist` fetches the four files of MNIST this way.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::js::describe;
use web_sys::{ReadableStreamDefaultReader, Response, WorkerGlobalScope, WritableStreamDefaultWriter};

use crate::data::{declared_len, Mnist, FILES};
use crate::web::now_ms;

/// How long a server may take to answer a file's request: generous, for a
/// slow network, and short enough that a dead server is named within a minute.
pub const ANSWER_MS: i32 = 30_000;
/// How long a download may stall mid-file.
pub const STALL_MS: i32 = 20_000;

/// Why a file did not arrive.
#[derive(Debug)]
pub struct DownloadError {
    pub message: String,
    /// The server answered 404: the file is not there (as on a build
    /// made before `cargo xtask fetch-data`).
    pub not_found: bool,
}

impl From<String> for DownloadError {
    fn from(message: String) -> Self {
        DownloadError { message, not_found: false }
    }
}

/// `promise`'s value, or None if `ms` pass first.
async fn within(promise: js_sys::Promise, ms: i32) -> Result<Option<JsValue>, JsValue> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let late = js_sys::Object::new();
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_1(&resolve, ms, &late);
    });
    let value = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&promise, &timer))).await?;
    Ok((!js_sys::Object::is(&value, &late)).then_some(value))
}

#[wasm_bindgen]
extern "C" {
    /// The Compression Streams API's decompressor (web-sys keeps it
    /// behind its unstable flag; the two browsers tested here have it).
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> web_sys::WritableStream;
}

/// The decompressed bytes of the gzip-compressed IDX file at `url`;
/// `progress(loaded, total)` after each piece of the compressed body
/// (`total` from Content-Length, when the server sends one). Errors name
/// what went wrong for a person to read.
pub async fn fetch_idx_gz(url: &str, progress: impl FnMut(f64, Option<f64>) + 'static) -> Result<Vec<u8>, DownloadError> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = within(scope.fetch_with_str(url), ANSWER_MS)
        .await
        .map_err(|e| format!("cannot download {url}: {}", describe(&e)))?
        .ok_or_else(|| format!("the server did not answer within {} s ({url})", ANSWER_MS / 1000))?;
    let response: Response = response.unchecked_into();
    if !response.ok() {
        let message = format!("HTTP {} {} for {url}", response.status(), response.status_text());
        return Err(DownloadError { message, not_found: response.status() == 404 });
    }
    let total = response.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<f64>().ok());
    let body = response.body().ok_or_else(|| format!("{url} has an empty body"))?;
    let gunzip = DecompressionStream::new("gzip").map_err(|e| format!("this browser cannot decompress gzip: {}", describe(&e)))?;
    let writer = gunzip.writable().get_writer().map_err(|e| describe(&e))?;
    let compressed: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    // The compressed bytes are pumped in by a task of their own, so that
    // this one reads the output as it comes (the stream's back-pressure
    // paces the two).
    let stalled = std::rc::Rc::new(std::cell::Cell::new(false));
    wasm_bindgen_futures::spawn_local(pump(compressed, writer, total, progress, stalled.clone()));
    let output: ReadableStreamDefaultReader = gunzip.readable().get_reader().unchecked_into();
    let mut bytes = Vec::new();
    let mut declared = None;
    loop {
        let piece = match next(&output).await {
            Ok(Some(piece)) => piece,
            Ok(None) => break,
            Err(_) if stalled.get() => return Err(format!("the download stalled: no data for {} s ({url})", STALL_MS / 1000).into()),
            Err(e) => return Err(format!("cannot decompress {url}: {e}").into()),
        };
        bytes.extend_from_slice(&piece.to_vec());
        if declared.is_none() {
            declared = declared_len(&bytes).map_err(|e| e.to_string())?;
            if let Some(n) = declared {
                bytes.reserve_exact(n.saturating_sub(bytes.len()));
            }
        }
        if let Some(n) = declared.filter(|&n| bytes.len() > n) {
            // Ending the output stream errors the pump's writes, which ends it too.
            let _ = output.cancel();
            return Err(format!("it decompresses to more than the {n} bytes its IDX header declares: not a clean IDX file").into());
        }
    }
    Ok(bytes)
}

/// Feeds the compressed body into the decompressor, reporting progress;
/// a body that sends nothing for `STALL_MS` is cancelled (`stalled` says so).
async fn pump(
    body: ReadableStreamDefaultReader,
    writer: WritableStreamDefaultWriter,
    total: Option<f64>,
    mut progress: impl FnMut(f64, Option<f64>),
    stalled: std::rc::Rc<std::cell::Cell<bool>>,
) {
    let mut loaded = 0.0;
    loop {
        let piece = match within(body.read(), STALL_MS).await {
            Ok(Some(result)) => chunk(&result),
            Ok(None) => {
                stalled.set(true);
                let _ = body.cancel();
                let _ = writer.abort_with_reason(&JsValue::from_str("stalled"));
                return;
            }
            Err(e) => Err(describe(&e)),
        };
        match piece {
            Ok(Some(piece)) => {
                loaded += f64::from(piece.length());
                progress(loaded, total);
                if JsFuture::from(writer.write_with_chunk(&piece)).await.is_err() {
                    // The reader gave up (or the data is corrupt): stop downloading.
                    let _ = body.cancel();
                    return;
                }
            }
            Ok(None) => {
                let _ = writer.close();
                return;
            }
            Err(e) => {
                let _ = writer.abort_with_reason(&JsValue::from_str(&e));
                return;
            }
        }
    }
}

/// The stream's next piece, None at its end.
async fn next(reader: &ReadableStreamDefaultReader) -> Result<Option<js_sys::Uint8Array>, String> {
    chunk(&JsFuture::from(reader.read()).await.map_err(|e| describe(&e))?)
}

/// The piece a stream's read gave, None at its end.
fn chunk(result: &JsValue) -> Result<Option<js_sys::Uint8Array>, String> {
    if js_sys::Reflect::get(result, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
        return Ok(None);
    }
    let value = js_sys::Reflect::get(result, &"value".into()).map_err(|e| describe(&e))?;
    Ok(Some(value.dyn_into::<js_sys::Uint8Array>().map_err(|_| "a stream gave something other than bytes".to_string())?))
}

/// MNIST's four `.gz` files from `base` (a URL ending in '/'), parsed
/// and split. `progress(file, bytes so far, bytes in all)` hears of each
/// file's bytes, at most every 50 ms (the page redraws no faster) and at
/// each file's end.
pub async fn download_mnist(base: &str, progress: impl Fn(String, f64, Option<f64>) + Clone + 'static) -> Result<Mnist, DownloadError> {
    let mut files = Vec::new();
    for name in FILES {
        let file = format!("{name}.gz");
        let url = format!("{base}{file}");
        let (label, progress, mut last_post) = (file.clone(), progress.clone(), 0.0);
        let bytes = fetch_idx_gz(&url, move |loaded, total| {
            if now_ms() - last_post > 50.0 || Some(loaded) == total {
                last_post = now_ms();
                progress(label.clone(), loaded, total);
            }
        })
        .await
        .map_err(|e| DownloadError { message: format!("{file}: {}", e.message), ..e })?;
        files.push((file, bytes));
    }
    let f = |i: usize| (files[i].0.as_str(), files[i].1.as_slice());
    Ok(Mnist::from_bytes([f(0), f(1), f(2), f(3)]).map_err(|e| e.to_string())?)
}
