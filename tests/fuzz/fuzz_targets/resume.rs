//! A run's state, as a checkpoint's metadata could hold anything, on sound
//! tensors: whatever `checkpoint::open` accepts, `Trainer::resume` takes
//! on data of the run's data set (and refuses on another's), and the run
//! steps on (a few steps on a tiny data set) without a panic or an
//! overflow (this crate builds with overflow checks).
#![no_main]

use std::sync::OnceLock;

use lenet::data::{Dataset, Mnist};
use lenet::model::{LeNet5, PARAMS};
use lenet::train::{Event, Threads, Trainer};
use lenet::{checkpoint, weights};
use libfuzzer_sys::fuzz_target;

/// Images in the tiny training set.
const TRAIN: usize = 20;

fn tiny() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| {
        let set = |n: usize, seed: usize| Dataset {
            images: (0..n * 784).map(|i| ((i * 7 + seed) % 256) as u8).collect(),
            labels: (0..n).map(|i| ((i + seed) % 10) as u8).collect(),
        };
        Mnist { train: set(TRAIN, 1), valid: set(10, 2), test: set(10, 3) }
    })
}

/// A checkpoint file of sound tensors, its state `state`.
fn file(state: &str) -> Vec<u8> {
    static PARAMS_OF: OnceLock<Vec<f32>> = OnceLock::new();
    let params = PARAMS_OF.get_or_init(|| LeNet5::new(1).params);
    let mut offset = 0;
    let mut tensors: Vec<(&str, &[usize], &[f32])> = PARAMS
        .iter()
        .map(|&(name, shape)| {
            let n: usize = shape.iter().product();
            offset += n;
            (name, shape, &params[offset - n..offset])
        })
        .collect();
    let flat = [params.len()];
    tensors.push(("best", &flat, params));
    tensors.push(("velocity", &flat, params));
    weights::write_safetensors(&tensors, Some((checkpoint::KEY, state)))
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(state) = std::str::from_utf8(bytes) else { return };
    let Ok(mut snapshot) = checkpoint::open(&file(state), TRAIN) else { return };
    // The tiny set is neither MNIST nor Fashion-MNIST: a run of either is
    // refused on it, with the reason, and goes on as a run of other data.
    if snapshot.dataset != tiny().collection() {
        let refused = Trainer::resume(snapshot.clone(), tiny().clone()).err().expect("a run of another data set is refused");
        assert!(refused.contains("cannot go on with other data"), "{refused}");
        snapshot.dataset = tiny().collection();
    }
    let mut trainer = Trainer::resume(snapshot, tiny().clone()).expect("a run its check accepts resumes");
    let mut threads = Threads::new(1);
    for _ in 0..12 {
        if let Event::Finished { .. } = threads.step(&mut trainer) {
            break;
        }
    }
});
