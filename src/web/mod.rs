//! The browser shell around the core, by role:
//!
//! | module   | runs in         | what                                                   |
//! |----------|-----------------|--------------------------------------------------------|
//! | `wire`   | everywhere      | every message: page and worker, lead and helper        |
//! | `helper` | helper worker   | works the chunks its lead sends                        |
//! | `js`     | page, workers   | messages to and from JS values, endpoints              |
//! | `worker` | training worker | its stages, the run in slices, evaluations, the kept  |
//! |          |                 | run, the model fine-tuned on the user's own digits    |
//! | `lead`   | training worker | the trainer's steps shared out over helper workers     |
//! | `fetch`  | training worker | streamed download, decompressed by the browser; MNIST  |
//! | `store`  | training worker | IndexedDB: the run kept across reloads (the page reads |
//! |          | and page        | it once at its start); the user's digits (the page's)  |
//! | `page`   | page            | its rooms: state, worker link, messages, controls,     |
//! |          |                 | kept run, model in use, status; chart, form, pad, ...  |
//!
//! Here too: `listen` (every event listener), `next_task` (every yield),
//! `element`, the clocks.
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

    /// Calls `handler` on every `event` at `target` (an element, the
    /// window, a worker, a worker's own scope), as the type the event
    /// has. The listener is never removed: it lives as long as the page
    /// or worker, as its target does.
    pub fn listen<E: JsCast>(target: &web_sys::EventTarget, event: &str, mut handler: impl FnMut(E) + 'static) {
        let closure =
            wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| handler(e.unchecked_into()));
        target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref()).expect("an event target takes listeners");
        // The target holds the listener for the rest of its life.
        closure.forget();
    }

    /// Resolves in a task of its own, after whatever else is waiting
    /// (messages from the page or the worker among them): a long piece of
    /// work handed out in slices does not hold the thread. A message to
    /// itself rather than `setTimeout(0)`, which browsers clamp to 4 ms
    /// once timers nest. Any number of tasks may wait at once (a run and
    /// an evaluation): each message wakes the oldest.
    pub async fn next_task() {
        thread_local! {
            static WAITING: std::cell::RefCell<std::collections::VecDeque<js_sys::Function>> = const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
            static CHANNEL: web_sys::MessageChannel = {
                let channel = web_sys::MessageChannel::new().expect("MessageChannel exists");
                let wake = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(|| {
                    if let Some(resolve) = WAITING.with_borrow_mut(|w| w.pop_front()) {
                        let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                    }
                });
                channel.port1().set_onmessage(Some(wake.as_ref().unchecked_ref()));
                // The channel serves the thread's whole life.
                wake.forget();
                channel
            };
        }
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            WAITING.with_borrow_mut(|w| w.push_back(resolve));
            CHANNEL.with(|c| c.port2().post_message(&wasm_bindgen::JsValue::NULL).expect("a port can post to its pair"));
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
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
