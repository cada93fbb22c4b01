//! A run's checkpoint is checked once, by `Snapshot::check`, before anything
//! keeps or resumes it: crafted files that can never resume are refused
//! with their reason, by `checkpoint::open` (the page) and
//! `Trainer::resume` (the command line and the worker) alike.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::noise_mnist;
use lenet::checkpoint;
use lenet::data::Collection;
use lenet::train::{Protocol, Schedule, Snapshot, StopReason, Threads, Trainer, Validation};

const TRAIN: usize = 240;

/// A real run's state after its first epoch: momentum (so a velocity),
/// two epochs of two minibatches, one validation in its history.
fn one_epoch_in() -> Snapshot {
    let data = noise_mnist(21, TRAIN, 20, 20);
    let protocol = Protocol { batch_size: 120, epochs: 2, momentum: 0.9, ..Protocol::tutorial() };
    let mut t = Trainer::new(protocol, data).unwrap();
    let mut threads = Threads::new(1);
    while t.epoch() == 1 {
        threads.step(&mut t);
    }
    t.snapshot().expect("between minibatches at an epoch's end")
}

/// `snapshot` written and read back, as the page and `--resume` get it.
#[track_caller]
fn refused(snapshot: Snapshot, why: &str) {
    let bytes = checkpoint::save(&snapshot);
    let err = checkpoint::open(&bytes, TRAIN).expect_err(why);
    assert!(err.contains(why), "expected {why:?} in {err:?}");
    let loaded = checkpoint::load(&bytes).expect("the file itself parses");
    let err = Trainer::resume(loaded, noise_mnist(21, TRAIN, 20, 20)).err().expect(why);
    assert!(err.contains(why), "resume: expected {why:?} in {err:?}");
}

#[test]
fn a_sound_run_opens_and_resumes() {
    let s = one_epoch_in();
    assert_eq!((s.epoch, s.minibatch, s.iterations, s.history.len()), (2, 0, 2, 1));
    let opened = checkpoint::open(&checkpoint::save(&s), TRAIN).unwrap();
    assert_eq!(opened, s);
    assert!(Trainer::resume(opened, noise_mnist(21, TRAIN, 20, 20)).is_ok());
}

#[test]
fn tensors_of_the_wrong_length_are_refused() {
    let s = one_epoch_in();
    refused(Snapshot { best_params: vec![0.0; 10], ..s.clone() }, "its best has 10 values, LeNet-5 and its protocol need 431080");
    refused(Snapshot { velocity: vec![0.0; 7], ..s }, "its velocity has 7 values");
}

#[test]
fn protocols_that_cannot_train_are_refused() {
    let s = one_epoch_in();
    let with = |protocol: Protocol| Snapshot { protocol, ..s.clone() };
    refused(with(Protocol { batch_size: 0, ..s.protocol.clone() }), "batch size must be between 1 and 240, got 0");
    refused(with(Protocol { learning_rate: f32::NAN, ..s.protocol.clone() }), "learning rate must be a positive number, got NaN");
    // 2^58 epochs of the cosine schedule once wrapped its count of minibatches to 0.
    let cosine = Protocol { schedule: Schedule::Cosine, epochs: 1 << 58, ..s.protocol.clone() };
    refused(with(cosine), "epochs must be between 1 and 100000");
    refused(with(Protocol { patience_increase: 1 << 40, ..s.protocol.clone() }), "its increase at most 1000");
    refused(with(Protocol { improvement_threshold: f64::NAN, ..s.protocol.clone() }), "improvement threshold");
}

#[test]
fn counters_that_do_not_add_up_are_refused() {
    let s = one_epoch_in();
    refused(Snapshot { iterations: 5, ..s.clone() }, "its counters do not fit its protocol: epoch 2 of 2, minibatch 0 of 2, iterations 5");
    refused(Snapshot { epoch: (1 << 62) + 1, ..s.clone() }, "epoch 4611686018427387905 of 2");
    refused(Snapshot { minibatch: 2, ..s.clone() }, "minibatch 2 of 2");
    refused(Snapshot { epoch: 0, iterations: 0, ..s.clone() }, "epoch 0 of 2");
    refused(Snapshot { best_iter: 9, ..s.clone() }, "best at 9");
    refused(Snapshot { patience: 3, ..s.clone() }, "patience 3");
    // Finished by patience on an epoch's last minibatch is a real place to stop.
    let patience_ran_out = Snapshot { minibatch: 2, iterations: 4, finished: Some(StopReason::Patience), ..s };
    assert!(checkpoint::open(&checkpoint::save(&patience_ran_out), TRAIN).is_ok());
}

#[test]
fn scores_that_are_not_error_rates_are_refused() {
    let s = one_epoch_in();
    refused(Snapshot { best_validation: f64::NAN, ..s.clone() }, "its best validation error NaN is not an error rate");
    refused(Snapshot { test_score: f64::INFINITY, ..s.clone() }, "its test score inf is not an error rate");
    // Infinite is a run's best before its first validation, and only then.
    refused(Snapshot { best_validation: f64::INFINITY, ..s.clone() }, "its best validation error inf");
    let before = Snapshot { best_validation: f64::INFINITY, history: Vec::new(), ..s };
    assert!(checkpoint::open(&checkpoint::save(&before), TRAIN).is_ok());
}

#[test]
fn a_history_the_run_cannot_have_is_refused() {
    let s = one_epoch_in();
    let v = s.history[0];
    let long = vec![v; 100_000];
    refused(Snapshot { history: long, ..s.clone() }, "its history holds 100000 validations, more than its protocol's 2");
    refused(Snapshot { history: vec![v, v], ..s.clone() }, "a validation that does not fit the run");
    let later = Validation { epoch: 3, ..v };
    refused(Snapshot { history: vec![later], ..s.clone() }, "epoch 3, iteration 1");
    let wrong = Validation { error: 1.5, ..v };
    refused(Snapshot { history: vec![wrong], ..s.clone() }, "error 1.5");
    let below = Validation { error: s.best_validation / 2.0, ..v };
    refused(Snapshot { history: vec![below], ..s }, "below its best");
}

#[test]
fn counts_past_this_machine_are_named_not_called_unreadable() {
    let s = one_epoch_in();
    let bytes = checkpoint::save(&s);
    // The state is text in the file's metadata: make its epochs 2^64.
    let state = &lenet::weights::read_safetensors_metadata(&bytes).unwrap()[checkpoint::KEY];
    let tampered = state.replacen("epochs=2\n", "epochs=18446744073709551616\n", 1);
    assert_ne!(&tampered, state, "the state holds epochs=2");
    let tensors = lenet::weights::read_safetensors(&bytes).unwrap();
    let views: Vec<(&str, &[usize], &[f32])> = tensors.iter().map(|(k, t)| (k.as_str(), &t.shape[..], &t.data[..])).collect();
    let file = lenet::weights::write_safetensors(&views, Some((checkpoint::KEY, &tampered)));
    let err = checkpoint::load(&file).unwrap_err();
    assert_eq!(err, "the checkpoint's epochs is not a number: \"18446744073709551616\"");
}

#[test]
fn a_run_remembers_its_data_set_and_goes_on_with_no_other() {
    let s = one_epoch_in();
    assert_eq!(s.dataset, None, "noise is neither MNIST nor Fashion-MNIST");
    let fashion = Snapshot { dataset: Some(Collection::Fashion), ..s };
    let opened = checkpoint::open(&checkpoint::save(&fashion), TRAIN).unwrap();
    assert_eq!(opened.dataset, Some(Collection::Fashion), "the checkpoint keeps it");
    let err = Trainer::resume(opened, noise_mnist(21, TRAIN, 20, 20)).err().expect("a Fashion-MNIST run on other data");
    assert_eq!(err, "this run trained on Fashion-MNIST: it cannot go on with other data");
}

#[test]
fn a_checkpoint_from_before_data_sets_is_an_mnist_run() {
    // Runs kept before Fashion-MNIST came (a page's IndexedDB, a file)
    // have no `dataset`: they were MNIST's.
    let bytes = checkpoint::save(&Snapshot { dataset: Some(Collection::Mnist), ..one_epoch_in() });
    let state = lenet::weights::read_safetensors_metadata(&bytes).unwrap()[checkpoint::KEY].clone();
    let old_state: String = state.lines().filter(|l| !l.starts_with("dataset=")).map(|l| format!("{l}\n")).collect();
    assert_ne!(old_state, state);
    let tensors = lenet::weights::read_safetensors(&bytes).unwrap();
    let named: Vec<(&str, &[usize], &[f32])> = tensors.iter().map(|(n, t)| (n.as_str(), &t.shape[..], &t.data[..])).collect();
    let old = lenet::weights::write_safetensors(&named, Some((checkpoint::KEY, &old_state)));
    assert_eq!(checkpoint::open(&old, TRAIN).unwrap().dataset, Some(Collection::Mnist));
}
