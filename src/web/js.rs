//! JS values in and out: messages through serde-wasm-bindgen, weights as
//! transferred `Float32Array`s, and what can be posted to.

use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::prelude::*;

pub fn encode<T: Serialize>(message: &T) -> JsValue {
    serde_wasm_bindgen::to_value(message).expect("protocol messages always convert")
}

pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("unreadable message: {e}"))
}

const WEIGHTS: &str = "Weights";

/// `{type: "Weights", params: Float32Array}`, and the buffer to transfer.
pub fn encode_weights(params: &[f32]) -> (JsValue, js_sys::Array) {
    let array = js_sys::Float32Array::from(params);
    let message = js_sys::Object::new();
    js_sys::Reflect::set(&message, &"type".into(), &WEIGHTS.into()).expect("plain object");
    js_sys::Reflect::set(&message, &"params".into(), &array).expect("plain object");
    (message.into(), js_sys::Array::of1(&array.buffer()))
}

/// The parameters of a weights message; None for any other message.
pub fn decode_weights(value: &JsValue) -> Option<Vec<f32>> {
    let kind = js_sys::Reflect::get(value, &"type".into()).ok()?;
    if kind.as_string().as_deref() != Some(WEIGHTS) {
        return None;
    }
    let params = js_sys::Reflect::get(value, &"params".into()).ok()?;
    Some(params.dyn_into::<js_sys::Float32Array>().ok()?.to_vec())
}


/// `{head}`, for arrays to be set beside.
pub fn with_head<T: Serialize>(head: &T) -> JsValue {
    let message: JsValue = js_sys::Object::new().into();
    set(&message, "head", &encode(head));
    message
}

pub fn head<T: DeserializeOwned>(message: &JsValue) -> Result<T, String> {
    decode(get(message, "head"))
}

pub fn set(object: &JsValue, key: &str, value: &JsValue) {
    js_sys::Reflect::set(object, &key.into(), value).expect("messages are plain objects");
}

pub fn get(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

#[wasm_bindgen]
extern "C" {
    /// What has `postMessage(message, transfer)` and `onmessage`: a
    /// `Worker`, a worker's global scope, a `MessagePort`.
    #[wasm_bindgen(extends = js_sys::Object)]
    #[derive(Clone, Debug)]
    pub type Endpoint;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    pub fn post_message(this: &Endpoint, message: &JsValue, transfer: &js_sys::Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, setter)]
    pub fn set_onmessage(this: &Endpoint, handler: Option<&js_sys::Function>);
}
