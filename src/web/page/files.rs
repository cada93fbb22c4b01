//! Models in and out of the page: the pretrained weights it ships, a
//! download of the model in use or of the saved run, and files the user
//! opens or drops (a weights file, or a run's checkpoint).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, File, HtmlAnchorElement, Response, Url};

use crate::data::TRAIN_SIZE;
use crate::train::Snapshot;
use crate::web::js::describe;
use crate::web::{document, window};
use crate::{checkpoint, weights};

/// The model the page starts with: the best of the Accurate preset's run
/// (`www/pretrained/accurate.log`), made by `lenet train --preset accurate`.
pub const PRETRAINED_URL: &str = "pretrained/lenet5-accurate.safetensors";

/// A file the user gave the page.
pub enum Opened {
    Weights(Vec<f32>),
    /// A checkpoint: a run to resume (or, finished, its model).
    Run(Box<Snapshot>),
}

/// What `bytes` hold, or what is wrong with them: a checkpoint is taken
/// only if its run can go on (`Snapshot::check`, on MNIST's split).
pub fn open(bytes: &[u8]) -> Result<Opened, String> {
    let metadata = weights::read_safetensors_metadata(bytes)?;
    if metadata.contains_key(checkpoint::KEY) {
        return checkpoint::open(bytes, TRAIN_SIZE).map(|s| Opened::Run(Box::new(s)));
    }
    weights::load(bytes).map(Opened::Weights)
}

/// The pretrained model's parameters.
pub async fn fetch_pretrained() -> Result<Vec<f32>, String> {
    let bytes = fetch_bytes(PRETRAINED_URL).await?;
    weights::load(&bytes).map_err(|e| format!("{PRETRAINED_URL}: {e}"))
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response: Response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| format!("cannot download {url}: {}", describe(&e)))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let buffer = response.array_buffer().map_err(|e| describe(&e))?;
    let buffer = JsFuture::from(buffer).await.map_err(|e| format!("{url}: {}", describe(&e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// The bytes of a file the user chose, refused unread if it is larger
/// than any LeNet-5 file.
pub async fn read(file: &File) -> Result<Vec<u8>, String> {
    if file.size() > weights::MAX_FILE_BYTES as f64 {
        return Err(format!("{:.0} MB: larger than any LeNet-5 file ({} MiB at most)", file.size() / 1e6, weights::MAX_FILE_BYTES >> 20));
    }
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("cannot read it: {}", describe(&e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Offers `bytes` to the user as a download named `name`.
pub fn download(bytes: &[u8], name: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| describe(&e))?;
    let url = Url::create_object_url_with_blob(&blob).map_err(|e| describe(&e))?;
    let link: HtmlAnchorElement = document().create_element("a").map_err(|e| describe(&e))?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The browser has taken the blob once the click is handled.
    let revoke = Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    Ok(())
}
