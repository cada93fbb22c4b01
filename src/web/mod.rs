//! The browser shell around the core, by role:
//!
//! | module   | runs in         | what                                                   |
//! |----------|-----------------|--------------------------------------------------------|
//! | `wire`   | everywhere      | every message: page and worker, lead and helper        |
//! | `helper` | helper worker   | works the chunks its lead sends                        |
//! | `js`     | page, workers   | messages to and from JS values, endpoints              |
//! | `worker` | training worker | its phases, MNIST's download, the run in slices        |
//! | `lead`   | training worker | the trainer's steps shared out over helper workers     |
//! | `fetch`  | training worker | streamed download, decompressed by the browser         |
//! | `page`   | page            | controls, status, log, the model in use; `chart`,      |
//! |          |                 | `form`, `pad`, `files` (in and out), `inside`          |
//! | `store`  | page            | the run kept across reloads, in IndexedDB              |
//!
//! `wire` and `helper`'s logic build natively too, for the fuzzer.

pub mod helper;
pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(target_arch = "wasm32")]
pub mod lead;
#[cfg(target_arch = "wasm32")]
pub mod page;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod worker;

#[cfg(target_arch = "wasm32")]
pub use browser::*;

#[cfg(target_arch = "wasm32")]
mod browser {
    use wasm_bindgen::JsCast;

    pub fn window() -> web_sys::Window {
        web_sys::window().expect("a window should exist on the page")
    }

    pub fn document() -> web_sys::Document {
        window().document().expect("the page should have a document")
    }

    /// The element with this id, as the type the page's markup gives it.
    #[track_caller]
    pub fn element<T: JsCast>(id: &str) -> T {
        document()
            .get_element_by_id(id)
            .unwrap_or_else(|| panic!("#{id} should exist"))
            .dyn_into::<T>()
            .unwrap_or_else(|_| panic!("#{id} has an unexpected element type"))
    }

    /// Milliseconds from `performance.now()`, which pages, workers and Node
    /// all have as `globalThis.performance`.
    pub fn now_ms() -> f64 {
        thread_local! {
            static PERFORMANCE: web_sys::Performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
                .expect("globalThis.performance exists")
                .unchecked_into();
        }
        PERFORMANCE.with(|p| p.now())
    }

    /// Milliseconds since 1970 on the monotonic clock of `now_ms`
    /// (`performance.timeOrigin + performance.now()`): comparable between a
    /// page and its workers, whose `now_ms` start at different times.
    pub fn clock_ms() -> f64 {
        thread_local! {
            static ORIGIN: f64 = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
                .and_then(|p| js_sys::Reflect::get(&p, &"timeOrigin".into()))
                .ok()
                .and_then(|t| t.as_f64())
                .unwrap_or(0.0);
        }
        ORIGIN.with(|o| o + now_ms())
    }
}
