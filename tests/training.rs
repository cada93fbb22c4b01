//! The training state machine: the tutorial's schedule, determinism, and
//! what happens when a run diverges. Noise data keeps these fast.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::noise_mnist;
use lenet::data::HeldOut;
use lenet::train::{Event, Protocol, Schedule, StopReason, Threads, Trainer};

/// Runs `trainer` to its end on one thread.
fn run(trainer: &mut Trainer, on_event: impl FnMut(&Trainer, &Event)) -> Event {
    Threads::new(1).run(trainer, on_event)
}

fn small(batch_size: usize, epochs: usize) -> Protocol {
    Protocol { batch_size, epochs, ..Protocol::tutorial() }
}

#[test]
fn validates_once_per_epoch_and_tests_each_new_best() {
    let mut trainer = Trainer::new(small(10, 2), noise_mnist(1, 30, 120, 60)).unwrap();
    let mut log = Vec::new();
    let end = run(&mut trainer, |_, e| match e {
        Event::Trained { epoch, minibatch, .. } => log.push(format!("train {epoch}.{minibatch}")),
        Event::Accumulated { done, total } => log.push(format!("acc {done}/{total}")),
        Event::Evaluating { set, done, total } => log.push(format!("{set:?} {done}/{total}")),
        Event::Validated { epoch, minibatch, best, .. } => log.push(format!("valid {epoch}.{minibatch} best={best}")),
        Event::Tested { epoch, minibatch, .. } => log.push(format!("test {epoch}.{minibatch}")),
        Event::Finished { reason, .. } => log.push(format!("{reason:?}")),
    });
    // 3 minibatches an epoch; validation in 50-image steps over 120; a
    // test pass (2 steps over 60) only after a new best.
    let expected_start = [
        "train 1.0",
        "train 1.1",
        "train 1.2",
        "Validation 50/120",
        "Validation 100/120",
        "valid 1.3 best=true",
        "Test 50/60",
        "test 1.3",
        "train 2.0",
    ];
    assert_eq!(log[..9], expected_start);
    assert_eq!(log.last().unwrap(), "Epochs");
    assert!(matches!(end, Event::Finished { reason: StopReason::Epochs, .. }));
    assert_eq!(Threads::new(1).step(&mut trainer), end, "a finished run stays finished");
    assert_eq!(trainer.iterations(), 6);
}

#[test]
fn patience_stops_early() {
    // patience 4 with 5 minibatches an epoch: validation every 2 minibatches,
    // and once iter reaches the patience the run ends, as in the tutorial.
    let protocol = Protocol { patience: 4, ..small(2, 50) };
    let mut trainer = Trainer::new(protocol, noise_mnist(2, 10, 4, 4)).unwrap();
    let mut validations = 0;
    let end = run(&mut trainer, |_, e| validations += usize::from(matches!(e, Event::Validated { .. })));
    let Event::Finished { reason, best_iter, .. } = end else { unreachable!() };
    assert_eq!(reason, StopReason::Patience);
    assert!(trainer.iterations() < 50 * 5, "stopped early");
    assert_eq!(validations, trainer.iterations() / 2, "validated every 2 minibatches");
    assert!(best_iter < trainer.iterations());
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let run = |seed: u64| {
        let mut t = Trainer::new(Protocol { seed, ..small(8, 1) }, noise_mnist(3, 40, 8, 8)).unwrap();
        run(&mut t, |_, _| {});
        t.model.params
    };
    let (a, b, c) = (run(5), run(5), run(6));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "same seed, same bits");
    assert_ne!(a, c, "another seed, other weights");
}

#[test]
fn pausing_between_steps_changes_nothing() {
    let data = noise_mnist(4, 40, 8, 8);
    let mut straight = Trainer::new(small(8, 2), data.clone()).unwrap();
    run(&mut straight, |_, _| {});
    // Stepped in chunks with a copy of the weights taken in between, as the worker does.
    let mut chunked = Trainer::new(small(8, 2), data).unwrap();
    let mut threads = Threads::new(1);
    while !chunked.is_finished() {
        for _ in 0..3 {
            threads.step(&mut chunked);
        }
        let _snapshot = chunked.model.params.clone();
    }
    assert_eq!(straight.model.params, chunked.model.params);
    assert_eq!(straight.best_params, chunked.best_params);
}

#[test]
fn a_diverging_run_stops_with_the_best_weights_kept() {
    let mut trainer = Trainer::new(Protocol { learning_rate: 1e30, ..small(10, 20) }, noise_mnist(5, 30, 10, 10)).unwrap();
    let initial = trainer.model.params.clone();
    let end = run(&mut trainer, |_, _| {});
    let Event::Finished { reason, .. } = end else { unreachable!() };
    assert_eq!(reason, StopReason::Diverged);
    assert!(trainer.model.params.iter().all(|v| v.is_finite()), "the model is restored to finite weights");
    assert!(trainer.best_params.iter().all(|v| v.is_finite()));
    assert!(trainer.model.params == trainer.best_params || trainer.model.params == initial);
}

#[test]
fn unusable_settings_are_refused_with_a_reason() {
    let data = noise_mnist(6, 20, 5, 5);
    let err = |p: Protocol| Trainer::new(p, data.clone()).err().unwrap();
    assert_eq!(err(small(0, 1)), "batch size must be between 1 and 20, got 0");
    assert_eq!(err(small(21, 1)), "batch size must be between 1 and 20, got 21");
    assert_eq!(err(Protocol { learning_rate: f32::NAN, ..small(5, 1) }), "learning rate must be a positive number, got NaN");
    assert_eq!(err(small(5, 0)), "epochs must be between 1 and 100000, got 0");
    assert_eq!(err(small(5, 100_001)), "epochs must be between 1 and 100000, got 100001");
    // A run's minibatches must fit in 32 bits, as the page counts them.
    let big = noise_mnist(6, 50_000, 5, 5);
    let err = Trainer::new(small(1, 100_000), big).err().unwrap();
    assert_eq!(err, "100000 epochs of 50000 minibatches are more than a run can count (2^32 minibatches)");
}

#[test]
fn a_minibatch_in_several_steps_is_one_sgd_step_on_the_whole_batch() {
    // 120 images: steps of 50, 50 and 20, then the update.
    let data = noise_mnist(7, 240, 10, 10);
    let protocol = Protocol { learning_rate: 0.1, ..small(120, 1) };
    let mut trainer = Trainer::new(protocol, data.clone()).unwrap();
    let mut model = lenet::LeNet5::new(trainer.protocol.seed);
    let mut threads = Threads::new(1);
    assert_eq!(threads.step(&mut trainer), Event::Accumulated { done: 50, total: 120 });
    assert_eq!(threads.step(&mut trainer), Event::Accumulated { done: 100, total: 120 });
    let Event::Trained { cost, iter: 0, .. } = threads.step(&mut trainer) else { panic!("expected the update") };

    let mut x = vec![0.0; 120 * 784];
    let labels = data.train.batch(&mut x, 0, 120).to_vec();
    let whole_cost = model.loss_and_grad(&x, &labels);
    lenet::sgd::sgd_step(&mut model.params, &model.grads, 0.1);
    assert!((cost - whole_cost).abs() < 1e-5, "cost {cost} vs {whole_cost}");
    common::assert_close(&trainer.model.params, &model.params, 1e-6, 1e-5);
    assert_ne!(trainer.model.params, lenet::LeNet5::new(trainer.protocol.seed).params, "the update happened");
}

#[test]
fn threads_change_the_speed_not_the_weights() {
    // Batches over `CHUNK_IMAGES` go in chunks of 50 whatever the width.
    let data = noise_mnist(8, 240, 60, 60);
    for protocol in [small(120, 2), distorted(small(120, 2))] {
        let (one, v1) = run_threads(protocol.clone(), &data, 1);
        for threads in [2, 3] {
            let (many, v) = run_threads(protocol.clone(), &data, threads);
            assert!(same_bits(&one, &many), "{threads} threads, same bits ({})", protocol.augment);
            assert_eq!(v, v1);
        }
    }
}

/// `protocol`, its training images distorted every way at once.
fn distorted(protocol: Protocol) -> Protocol {
    Protocol { augment: lenet::augment::Augment::parse(common::EVERY_DISTORTION).unwrap(), ..protocol }
}

#[test]
fn distortions_change_what_a_run_learns_and_only_its_training_images() {
    let data = noise_mnist(8, 120, 60, 60);
    let (plain, _) = run_threads(small(60, 2), &data, 1);
    let (augmented, _) = run_threads(distorted(small(60, 2)), &data, 1);
    assert!(!same_bits(&plain, &augmented), "distorted images train other weights");
    // Evaluation reads the images as they are.
    let mut model = lenet::LeNet5::from_params(augmented.clone());
    let errors = Threads::new(1).count_errors(&mut model, &data, HeldOut::Validation, 0, 60);
    let mut images = vec![0.0; 60 * 784];
    let labels = data.valid.batch(&mut images, 0, 60).to_vec();
    let plain_errors = lenet::LeNet5::from_params(augmented).count_errors(&images, &labels);
    assert_eq!(errors, plain_errors, "validation images are not distorted");
}

#[test]
fn workers_summing_their_blocks_give_the_bits_of_one_summing_every_chunk() {
    use lenet::train::GradTree;
    let mut rng = lenet::rng::Rng::new(3);
    for chunks in 1..=13 {
        let grads: Vec<Vec<f32>> = (0..chunks).map(|_| (0..9).map(|_| rng.next_f32() - 0.5).collect()).collect();
        let mut one = GradTree::default();
        one.start(chunks);
        grads.iter().enumerate().for_each(|(i, g)| one.push_leaf(i, g, 0.1));
        let total = one.total().expect("every chunk is in").to_vec();
        let exact: Vec<f64> = (0..9).map(|j| grads.iter().map(|g| f64::from(g[j]) * 0.1).sum()).collect();
        assert!(total.iter().zip(&exact).all(|(t, e)| (f64::from(*t) - e).abs() < 1e-5), "{chunks} chunks: it is their sum");
        // Every way of sharing the chunks out to three workers, in blocks.
        for (a, b) in (0..=chunks).flat_map(|a| (a..=chunks).map(move |b| (a, b))) {
            let mut lead = GradTree::default();
            lead.start(chunks);
            for block in [0..a, a..b, b..chunks].into_iter().filter(|r| !r.is_empty()) {
                let mut worker = GradTree::default();
                worker.start_at(chunks, block.start);
                block.clone().for_each(|i| worker.push_leaf(i, &grads[i], 0.1));
                let held: Vec<_> = worker.nodes().map(|(range, _)| range.clone()).collect();
                assert_eq!(held, GradTree::cover(chunks, block.clone()), "{chunks} chunks, block {block:?}");
                for (range, sum) in worker.nodes() {
                    lead.push_node(range.clone(), sum.len(), |s| s.copy_from_slice(sum));
                }
            }
            assert!(same_bits(lead.total().unwrap(), &total), "{chunks} chunks cut at {a} and {b}: the same bits");
        }
    }
    // The tutorial's 10 chunks on two workers: one sum each way.
    assert_eq!(GradTree::cover(10, 5..10).len(), 1, "one node");
    assert_eq!(GradTree::cover(10, 5..10)[0], 5..10);
    assert_eq!(GradTree::cover(10, 0..4), [0..3, 3..4]);
}

fn run_threads(protocol: Protocol, data: &lenet::data::Mnist, threads: usize) -> (Vec<f32>, Vec<f64>) {
    let mut t = Trainer::new(protocol, data.clone()).unwrap();
    let mut threads = Threads::new(threads);
    threads.attach(&mut t);
    let mut validations = Vec::new();
    threads.run(&mut t, |_, e| {
        if let Event::Validated { error, .. } = e {
            validations.push(*error)
        }
    });
    (t.model.params, validations)
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn momentum_and_learning_rate_decay_follow_their_formulas() {
    // Two epochs of two minibatches of 20: v = mu v + g, p -= lr v, with
    // lr halved after the first epoch.
    let data = noise_mnist(12, 40, 10, 10);
    let protocol = Protocol { learning_rate: 0.1, momentum: 0.5, lr_decay: 0.5, ..small(20, 2) };
    let mut t = Trainer::new(protocol, data.clone()).unwrap();
    let mut model = lenet::LeNet5::new(t.protocol.seed);
    let mut velocity = vec![0.0; model.params.len()];
    let mut x = vec![0.0; 20 * 784];
    let mut rates = Vec::new();
    let mut threads = Threads::new(1);
    for minibatch in [0, 1, 0, 1] {
        while !matches!(threads.step(&mut t), Event::Trained { .. }) {}
        let lr = t.learning_rate();
        rates.push(lr);
        let labels = data.train.batch(&mut x, minibatch * 20, 20).to_vec();
        model.loss_and_grad(&x, &labels);
        for ((p, v), g) in model.params.iter_mut().zip(&mut velocity).zip(&model.grads) {
            *v = 0.5 * *v + g;
            *p -= lr * *v;
        }
        common::assert_close(&t.model.params, &model.params, 1e-6, 1e-5);
    }
    assert_eq!(rates, [0.1, 0.1, 0.05, 0.05]);
    let err = |p: Protocol| Trainer::new(p, data.clone()).err().unwrap();
    assert_eq!(err(Protocol { momentum: 1.0, ..small(5, 1) }), "momentum must be at least 0 and below 1, got 1");
    assert_eq!(err(Protocol { lr_decay: 0.0, ..small(5, 1) }), "learning-rate decay must be above 0 and at most 1, got 0");
}

#[test]
fn a_cosine_schedule_falls_along_its_formula_and_resumes_to_the_bit() {
    // Two epochs of two minibatches: the rate of minibatch i of 4 is
    // 0.1 * (1 + cos(pi i / 4)) / 2, whatever the epoch.
    let data = noise_mnist(16, 40, 10, 10);
    let protocol = Protocol { learning_rate: 0.1, momentum: 0.5, schedule: Schedule::Cosine, ..small(20, 2) };
    let mut t = Trainer::new(protocol.clone(), data.clone()).unwrap();
    let mut model = lenet::LeNet5::new(t.protocol.seed);
    let mut velocity = vec![0.0; model.params.len()];
    let mut x = vec![0.0; 20 * 784];
    let mut threads = Threads::new(1);
    for (i, minibatch) in [0, 1, 0, 1].into_iter().enumerate() {
        let lr = t.learning_rate();
        let expected = (0.1 * 0.5 * (1.0 + (std::f64::consts::PI * i as f64 / 4.0).cos())) as f32;
        assert_eq!(lr, expected, "minibatch {i}");
        while !matches!(threads.step(&mut t), Event::Trained { .. }) {}
        let labels = data.train.batch(&mut x, minibatch * 20, 20).to_vec();
        model.loss_and_grad(&x, &labels);
        for ((p, v), g) in model.params.iter_mut().zip(&mut velocity).zip(&model.grads) {
            *v = 0.5 * *v + g;
            *p -= lr * *v;
        }
        common::assert_close(&t.model.params, &model.params, 1e-6, 1e-5);
    }
    // Saved after its first epoch and resumed: the same weights as straight through.
    let mut straight = Trainer::new(protocol.clone(), data.clone()).unwrap();
    run(&mut straight, |_, _| {});
    let mut first = Trainer::new(protocol.clone(), data.clone()).unwrap();
    while first.epoch() < 2 {
        threads.step(&mut first);
    }
    let saved = lenet::checkpoint::load(&lenet::checkpoint::save(&first.snapshot().unwrap())).unwrap();
    assert_eq!(saved.protocol.schedule, Schedule::Cosine, "the checkpoint keeps the schedule");
    let mut resumed = Trainer::resume(saved, data.clone()).unwrap();
    run(&mut resumed, |_, _| {});
    assert!(same_bits(&resumed.model.params, &straight.model.params));
}

#[test]
fn evaluation_counts_the_same_errors_on_any_number_of_threads() {
    let data = noise_mnist(13, 10, 170, 30);
    let mut model = lenet::LeNet5::new(4);
    let mut x = vec![0.0; 170 * 784];
    let labels = data.valid.batch(&mut x, 0, 170).to_vec();
    let expected = model.count_errors(&x, &labels);
    assert!(expected > 0 && expected < 170, "an untrained model errs on some noise: {expected}");
    for threads in [1, 2, 3] {
        let errors = Threads::new(threads).count_errors(&mut model, &data, HeldOut::Validation, 0, 170);
        assert_eq!(errors, expected, "{threads} threads");
    }
    let part = Threads::new(2).count_errors(&mut model, &data, HeldOut::Validation, 20, 120);
    assert_eq!(part, model.count_errors(&x[20 * 784..120 * 784], &labels[20..120]), "a part of the set");
}

#[test]
fn empty_or_unpaired_sets_are_refused_with_a_reason() {
    let mut data = noise_mnist(14, 20, 5, 5);
    data.test = lenet::Dataset::default();
    assert_eq!(Trainer::new(small(5, 1), data.clone()).err().unwrap(), "the test set is empty");
    data.test = noise_mnist(14, 1, 1, 1).test;
    data.valid.labels.pop();
    assert_eq!(Trainer::new(small(5, 1), data).err().unwrap(), "the validation set has 4 labels for 3920 bytes of images");
}

#[test]
fn the_log_reads_as_the_tutorials() {
    use lenet::train::log;
    let p = Protocol::tutorial();
    assert_eq!(log::header(&p, 2, "thread"), "... training (lr 0.1, momentum 0, decay 1, batch 500, 200 epochs, seed 23455) on 2 threads");
    assert_eq!(log::header(&p, 1, "worker"), "... training (lr 0.1, momentum 0, decay 1, batch 500, 200 epochs, seed 23455) on 1 worker");
    let trained = |iter, cost| Event::Trained { epoch: 1, minibatch: 0, iter, cost };
    assert_eq!(log::lines(&trained(200, 0.5), 100), ["training @ iter = 200, cost 0.500000"]);
    assert!(log::lines(&trained(201, 0.5), 100).is_empty(), "costs every 100 minibatches");
    assert_eq!(log::lines(&trained(201, f32::NAN), 100), ["training @ iter = 201, cost NaN"], "and a diverging cost at once");
    let validated = Event::Validated { epoch: 3, minibatch: 100, error: 0.0123, best: true };
    assert_eq!(log::lines(&validated, 100), ["epoch 3, minibatch 100/100, validation error 1.23 %"]);
    let tested = Event::Tested { epoch: 3, minibatch: 100, error: 0.0131 };
    assert_eq!(log::lines(&tested, 100), ["     epoch 3, minibatch 100/100, test error of best model 1.31 %"]);
    let finished = Event::Finished { reason: StopReason::Patience, best_validation: 0.0091, best_iter: 17_799, test_score: 0.0092 };
    assert_eq!(
        log::lines(&finished, 100),
        [
            "Optimization complete.",
            "Stopped early: patience ran out (no better validation error for long enough).",
            "Best validation score of 0.91 % obtained at iteration 17800, with test performance 0.92 %"
        ]
    );
    assert_eq!(log::ran_for(90.0, 45_000), "ran for 1.50m (500 training images/s)");
    let evaluating = Event::Evaluating { set: HeldOut::Test, done: 3000, total: 10_000 };
    assert_eq!(log::evaluating(&evaluating).as_deref(), Some("test 3000/10000"));
}

#[test]
fn a_resumed_run_is_bit_identical_to_one_never_stopped() {
    use lenet::checkpoint;
    let data = noise_mnist(15, 60, 20, 20);
    let decayed = Protocol { momentum: 0.9, lr_decay: 0.7, ..small(20, 4) };
    for protocol in [small(20, 4), decayed, distorted(small(20, 4))] {
        let mut straight = Trainer::new(protocol.clone(), data.clone()).unwrap();
        let end = run(&mut straight, |_, _| {});
        // Two epochs, saved, dropped; then read back and run to the end.
        let mut first = Trainer::new(protocol.clone(), data.clone()).unwrap();
        let mut threads = Threads::new(1);
        assert!(matches!(threads.step(&mut first), Event::Accumulated { .. } | Event::Trained { .. }));
        while first.epoch() < 3 {
            threads.step(&mut first);
        }
        let bytes = checkpoint::save(&first.snapshot().expect("between minibatches"));
        drop(first);
        let mut resumed = Trainer::resume(checkpoint::load(&bytes).unwrap(), data.clone()).unwrap();
        assert_eq!((resumed.epoch(), resumed.iterations()), (3, 6));
        assert_eq!(resumed.protocol.augment, protocol.augment, "the checkpoint keeps the distortions");
        assert_eq!(run(&mut resumed, |_, _| {}), end, "the same ending");
        assert!(same_bits(&resumed.model.params, &straight.model.params), "the same weights, to the bit");
        assert!(same_bits(&resumed.best_params, &straight.best_params));
        assert_eq!(resumed.history, straight.history);
        assert_eq!(resumed.history.len(), 4, "one validation an epoch");
        // A finished run's checkpoint resumes as finished, unless it is
        // given more epochs: then it goes on as a longer run would.
        let finished = checkpoint::load(&checkpoint::save(&resumed.snapshot().unwrap())).unwrap();
        assert!(Trainer::resume(finished.clone(), data.clone()).unwrap().is_finished());
        let mut longer = Trainer::new(Protocol { epochs: 6, ..protocol.clone() }, data.clone()).unwrap();
        run(&mut longer, |_, _| {});
        let finished = lenet::train::Snapshot { protocol: Protocol { epochs: 6, ..protocol.clone() }, ..finished };
        let mut extended = Trainer::resume(finished, data.clone()).unwrap();
        run(&mut extended, |_, _| {});
        assert!(same_bits(&extended.model.params, &longer.model.params), "4 epochs, then 2 more = 6 epochs");
    }
}

#[test]
fn checkpoints_refuse_what_they_cannot_continue() {
    use lenet::checkpoint;
    let data = noise_mnist(16, 240, 20, 20);
    let mut t = Trainer::new(small(120, 2), data.clone()).unwrap();
    assert_eq!(Threads::new(1).step(&mut t), Event::Accumulated { done: 50, total: 120 });
    assert_eq!(t.snapshot(), None, "half a minibatch is no place to stop");
    let fresh = Trainer::new(small(120, 2), data.clone()).unwrap().snapshot().unwrap();
    let weights = lenet::weights::save(&fresh.params);
    assert_eq!(
        checkpoint::load(&weights).unwrap_err(),
        "not a checkpoint: its metadata has no \"lenet-checkpoint\"",
        "a weights file is not a checkpoint"
    );
    let wrong_count = lenet::train::Snapshot { iterations: 5, ..fresh.clone() };
    let err = Trainer::resume(checkpoint::load(&checkpoint::save(&wrong_count)).unwrap(), data.clone()).err().unwrap();
    assert_eq!(
        err,
        "the checkpoint cannot resume here: its counters do not fit its protocol: \
         epoch 1 of 2, minibatch 0 of 2, iterations 5, best at 0, patience 10000"
    );
    let other_data = noise_mnist(16, 60, 20, 20);
    let err = Trainer::resume(fresh, other_data).err().unwrap();
    assert_eq!(err, "the checkpoint cannot resume here: batch size must be between 1 and 60, got 120");
    // A checkpoint opens as a model too: its tensors carry the weight file's names.
    let snapshot = t_snapshot_after_one_minibatch(&data);
    let bytes = checkpoint::save(&snapshot);
    assert_eq!(lenet::weights::load(&bytes).unwrap(), snapshot.params);
}

fn t_snapshot_after_one_minibatch(data: &lenet::Mnist) -> lenet::train::Snapshot {
    let mut t = Trainer::new(small(120, 2), data.clone()).unwrap();
    while !matches!(Threads::new(1).step(&mut t), Event::Trained { .. }) {}
    t.snapshot().unwrap()
}
