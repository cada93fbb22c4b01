//! The worker's incoming messages: a head (JSON here, a JS object in the
//! browser, decoded by the same serde derive), then, split at zero bytes,
//! the typed arrays a `Data` message carries. What reads them must answer
//! with an error, never panic: the page's settings become a protocol, a
//! helper takes data and works chunks of any plan it is sent.
#![no_main]

use std::cell::RefCell;

use lenet::web::helper::Helper;
use lenet::web::wire::{ToHelper, ToWorker};
use libfuzzer_sys::fuzz_target;

thread_local! {
    /// A helper holding a small data set, as after a lead's `Data`.
    static HELPER: RefCell<Helper> = RefCell::new({
        let set = |n: usize| [vec![128; n * 784], (0..n).map(|i| (i % 10) as u8).collect()];
        let [[train_images, train_labels], [valid_images, valid_labels], [test_images, test_labels]] = [set(60), set(7), set(3)];
        let mut helper = Helper::default();
        helper.take_data("seed".into(), [train_images, train_labels, valid_images, valid_labels, test_images, test_labels]).unwrap();
        helper
    });
}

fuzz_target!(|bytes: &[u8]| {
    let mut parts = bytes.split(|&b| b == 0);
    let head = parts.next().unwrap_or_default();
    if let Ok(message) = serde_json::from_slice::<ToWorker>(head) {
        if let ToWorker::Start { settings, .. } = message {
            let _ = settings.protocol(lenet::data::TRAIN_SIZE);
        }
    }
    if let Ok(message) = serde_json::from_slice::<ToHelper>(head) {
        HELPER.with(|h| {
            let mut helper = h.borrow_mut();
            match message {
                ToHelper::Hello { data_url } => drop(helper.hello(&data_url)),
                ToHelper::Data { data_url } => {
                    let arrays: Vec<Vec<u8>> = parts.by_ref().take(6).map(<[u8]>::to_vec).collect();
                    if let Ok(arrays) = <[Vec<u8>; 6]>::try_from(arrays) {
                        // A fresh helper, so that the shared one keeps its data.
                        let _ = Helper::default().take_data(data_url, arrays);
                    }
                }
                ToHelper::Work { task, first, end, chunk_images, batch, from, to, params, distortion } => {
                    let plan = lenet::train::Plan { task, first, end, chunk_images, batch, distortion };
                    let _ = helper.work(plan, from..to, |p| {
                        if params {
                            p.fill(0.01);
                        }
                    });
                }
            }
        });
    }
});
