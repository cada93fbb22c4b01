//! Offline after one visit: registers the service worker (`www/sw.js`)
//! and, once it is active, sends it the list of what the page needs
//! without a network: the page, its scripts and wasm, the training
//! worker, MNIST and the pretrained model. `#status[data-offline]` says
//! `ready` once they are cached, or why the page cannot work offline.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, ServiceWorkerContainer, ServiceWorkerRegistration};

use super::files::pretrained_url;
use crate::data::FILES;
use crate::web::js::{describe, get};
use crate::web::{element, window};

/// Registers the service worker and has it cache what the page needs
/// (MNIST from `data_url`).
pub fn register(data_url: &str) {
    let data_url = data_url.to_string();
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(why) = cache_everything(&data_url).await {
            set_offline(&format!("unavailable: {why}"));
        }
    });
}

fn set_offline(value: &str) {
    let _ = element::<web_sys::HtmlElement>("status").set_attribute("data-offline", value);
}

async fn cache_everything(data_url: &str) -> Result<(), String> {
    let navigator = window().navigator();
    if get(&navigator, "serviceWorker").is_undefined() {
        return Err("this browser offers no service worker here".into());
    }
    let container: ServiceWorkerContainer = navigator.service_worker();
    JsFuture::from(container.register("sw.js")).await.map_err(|e| describe(&e))?;
    let ready = container.ready().map_err(|e| describe(&e))?;
    let registration: ServiceWorkerRegistration = JsFuture::from(ready).await.map_err(|e| describe(&e))?.unchecked_into();
    let active = registration.active().ok_or("the service worker is not active")?;
    let on_reply = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| {
        let data = e.data();
        let failed: Vec<String> =
            get(&data, "failed").dyn_into::<js_sys::Array>().map(|a| a.iter().filter_map(|v| v.as_string()).collect()).unwrap_or_default();
        if failed.is_empty() {
            set_offline("ready");
        } else {
            set_offline(&format!("incomplete: {}", failed.join("; ")));
        }
    });
    container.set_onmessage(Some(on_reply.as_ref().unchecked_ref()));
    // Replies come for the page's whole life.
    on_reply.forget();
    let urls = js_sys::Array::new();
    urls.push(&"./".into());
    // What the page itself loaded: its script, wasm and style sheet.
    let origin = window().location().origin().map_err(|e| describe(&e))?;
    for entry in window().performance().ok_or("no performance timeline")?.get_entries_by_type("resource").iter() {
        let name = get(&entry, "name").as_string().unwrap_or_default();
        // Not MNIST (listed below, from wherever `?data=` says), not the
        // service worker itself, not the favicon a browser asks for unbidden.
        if name.starts_with(&origin) && !name.contains("/data/") && !name.ends_with("sw.js") && !name.ends_with("favicon.ico") {
            urls.push(&name.into());
        }
    }
    // The training worker this browser runs (and its helpers, the same script).
    for file in super::link::worker_build().files() {
        urls.push(&file.into());
    }
    for file in FILES {
        urls.push(&format!("{data_url}{file}.gz").into());
    }
    urls.push(&pretrained_url().into());
    let message = js_sys::Object::new();
    crate::web::js::set(&message, "cache", &urls);
    active.post_message(&message).map_err(|e| describe(&e))
}
