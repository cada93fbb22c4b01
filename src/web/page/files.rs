//! Models in and out of the page: the pretrained weights it ships, a
//! download of the model in use or of the saved run, and files the user
//! opens or drops (a weights file, or a run's checkpoint).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, File, HtmlAnchorElement, Response, Url};

use crate::data::{Collection, TRAIN_SIZE};
use crate::train::Snapshot;
use crate::web::js::describe;
use crate::web::{document, window};
use crate::{checkpoint, weights};

/// The model the page starts with on its data set: on MNIST the best of
/// the Accurate preset's run (`www/pretrained/accurate.log`, made by
/// `lenet train --preset accurate`); on Fashion-MNIST the best of the
/// tutorial's protocol (`www/pretrained/fashion.log`, made by `lenet
/// train --data data/fashion-mnist`).
pub fn pretrained_url() -> &'static str {
    match super::dataset::collection() {
        Collection::Mnist => "pretrained/lenet5-accurate.safetensors",
        Collection::Fashion => "pretrained/lenet5-fashion.safetensors",
    }
}

/// A file the user gave the page.
pub enum Opened {
    Weights(Vec<f32>),
    /// A checkpoint: a run to resume (or, finished, its model).
    Run(Box<Snapshot>),
}

/// What `bytes` hold, or what is wrong with them: a checkpoint is taken
/// only if its run can go on (`Snapshot::check`, on the tutorial's split)
/// on the page's data set.
pub fn open(bytes: &[u8]) -> Result<Opened, String> {
    let metadata = weights::read_safetensors_metadata(bytes)?;
    if metadata.contains_key(checkpoint::KEY) {
        let snapshot = checkpoint::open(bytes, TRAIN_SIZE)?;
        return match other_data_set(&snapshot) {
            Some(why) => Err(why),
            None => Ok(Opened::Run(Box::new(snapshot))),
        };
    }
    weights::load(bytes).map(Opened::Weights)
}

/// Why the page cannot take `run` as it is: a run on another data set
/// than the page's (None if it trained on the page's).
pub fn other_data_set(run: &Snapshot) -> Option<String> {
    let here = super::dataset::collection();
    match run.dataset {
        Some(c) if c == here => None,
        Some(c) => Some(format!("a run on {}: switch the data set to {} to use or resume it", c.title(), c.title())),
        None => Some(format!("a run on data that is neither MNIST nor Fashion-MNIST: this page trains on {}", here.title())),
    }
}

/// The pretrained model's parameters.
pub async fn fetch_pretrained() -> Result<Vec<f32>, String> {
    let url = pretrained_url();
    let bytes = fetch_bytes(url).await?;
    weights::load(&bytes).map_err(|e| format!("{url}: {e}"))
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
