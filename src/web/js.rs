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

/// `{message, payload}`: a message and the typed array beside it (the
/// weights, a checkpoint, images), whose buffer is to be transferred
/// (the second value).
pub fn pack<T: Serialize>(message: &T, payload: Option<&js_sys::Object>) -> (JsValue, js_sys::Array) {
    let packed = envelope(message);
    let transfer = js_sys::Array::new();
    if let Some(payload) = payload {
        set(&packed, "payload", payload);
        transfer.push(&get(payload, "buffer"));
    }
    (packed, transfer)
}

/// The message of a `pack`ed value, and its payload (undefined if none).
pub fn unpack<T: DeserializeOwned>(packed: &JsValue) -> Result<(T, JsValue), String> {
    Ok((message_of(packed)?, get(packed, "payload")))
}

/// A payload of `f32`s, or what it is not.
pub fn payload_f32(payload: &JsValue) -> Result<Vec<f32>, String> {
    payload.dyn_ref::<js_sys::Float32Array>().map(|a| a.to_vec()).ok_or_else(|| "the message has no Float32Array".into())
}

/// A payload of bytes, or what it is not.
pub fn payload_u8(payload: &JsValue) -> Result<Vec<u8>, String> {
    payload.dyn_ref::<js_sys::Uint8Array>().map(|a| a.to_vec()).ok_or_else(|| "the message has no Uint8Array".into())
}

/// `{message}`, for arrays to be set beside.
pub fn envelope<T: Serialize>(message: &T) -> JsValue {
    let packed: JsValue = js_sys::Object::new().into();
    set(&packed, "message", &encode(message));
    packed
}

/// The message of an `envelope`.
pub fn message_of<T: DeserializeOwned>(packed: &JsValue) -> Result<T, String> {
    decode(get(packed, "message"))
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

/// A thrown value as text: an exception's name (unless a plain `Error`)
/// and message, or the value itself.
pub fn describe(error: &JsValue) -> String {
    match (get(error, "name").as_string(), get(error, "message").as_string()) {
        (Some(name), Some(message)) if name != "Error" => format!("{name}: {message}"),
        (_, Some(message)) => message,
        _ => error.as_string().unwrap_or_else(|| format!("{error:?}")),
    }
}
