//! Tests on the real MNIST. A fresh clone has no MNIST, so a plain `cargo
//! test` reports them as ignored; `cargo xtask fetch-data` fetches it and
//! `cargo test --test mnist -- --ignored` runs them (the README's test
//! command does both).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use lenet::data::Collection;
use lenet::train::{Event, Protocol, Threads, Trainer};
use lenet::{LeNet5, Mnist};

fn mnist() -> Mnist {
    Mnist::load_dir(&common::mnist_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
#[ignore = "needs MNIST: `cargo xtask fetch-data`, then `cargo test --test mnist -- --ignored`"]
fn the_split_is_the_tutorials() {
    let m = mnist();
    assert_eq!((m.train.len(), m.valid.len(), m.test.len()), (50_000, 10_000, 10_000));
    // Well-known first labels of the training file, of its 50,001st image and of the test file.
    assert_eq!(m.train.labels[..5], [5, 0, 4, 1, 9]);
    assert_eq!(m.test.labels[..5], [7, 2, 1, 0, 4]);
    let mut counts = [0usize; 10];
    m.test.labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    let mut x = vec![0.0; 784];
    m.train.batch(&mut x, 0, 1);
    assert!(x.iter().all(|&v| (0.0..1.0).contains(&v)) && x.contains(&(255.0 / 256.0)), "pixels are value/256");
}

#[test]
#[ignore = "needs MNIST: `cargo xtask fetch-data`, then `cargo test --test mnist -- --ignored`"]
fn a_small_network_overfits_a_few_batches() {
    let m = mnist();
    let mut model = LeNet5::new(1);
    let (n, mut x) = (100, vec![0.0; 100 * 784]);
    let labels = m.train.batch(&mut x, 0, n).to_vec();
    let first = model.loss_and_grad(&x, &labels);
    let mut last = first;
    for _ in 0..60 {
        last = model.loss_and_grad(&x, &labels);
        lenet::sgd::sgd_step(&mut model.params, &model.grads, 0.2);
    }
    assert!((first - 10f32.ln()).abs() < 1e-4, "zero output layer: the first loss is ln 10, got {first}");
    assert!(last < 0.1, "loss after 60 steps on 100 images: {last}");
    assert_eq!(model.count_errors(&x, &labels), 0, "every training image learnt");
}

#[test]
#[ignore = "needs MNIST: `cargo xtask fetch-data`, then `cargo test --test mnist -- --ignored`"]
fn the_tutorial_protocol_learns_on_real_data() {
    // The tutorial's settings on its data, cut to 10 minibatches: the error
    // of the untrained model (about 90 %) must fall well below it.
    let mut m = mnist();
    m.train = m.train.slice(0, 5_000);
    m.valid = m.valid.slice(0, 1_000);
    m.test = m.test.slice(0, 1_000);
    let mut trainer = Trainer::new(Protocol { epochs: 1, ..Protocol::tutorial() }, m).unwrap();
    let mut validation = None;
    Threads::new(1).run(&mut trainer, |_, e| {
        if let Event::Validated { error, .. } = e {
            validation = Some(*error)
        }
    });
    let error = validation.expect("validated once, at the end of the epoch");
    assert!(error < 0.6, "validation error after 10 minibatches: {error}");
}

#[test]
#[ignore = "needs MNIST: `cargo xtask fetch-data`, then `cargo test --test mnist -- --ignored`"]
fn learning_a_users_digits_reads_them_as_corrected_and_keeps_mnist() {
    use lenet::train::finetune::{FineTune, Learner};
    let data = mnist();
    let params = lenet::weights::load(&std::fs::read("www/pretrained/lenet5-accurate.safetensors").unwrap()).unwrap();
    // Drawings the model misreads: 1s with a long flag, read as 7s.
    let drawn = lenet::data::strokes::stroke_digits(400, 1);
    let mut model = LeNet5::from_params(params.clone());
    let mut misread = lenet::data::Dataset::default();
    let mut image = vec![0.0; 784];
    for i in 0..drawn.len() {
        let label = drawn.batch(&mut image, i, 1)[0];
        if label == 1 && model.count_errors(&image, &[1]) == 1 {
            misread.images.extend_from_slice(&drawn.images[i * 784..(i + 1) * 784]);
            misread.labels.push(1);
        }
    }
    assert!(misread.len() >= 10, "the model misreads {} drawn 1s", misread.len());
    let (personal, unseen) = (misread.slice(0, 5), misread.slice(5, misread.len()));
    let test_errors = |params: &[f32]| {
        let mut model = LeNet5::from_params(params.to_vec());
        Threads::new(2).count_errors(&mut model, &data, lenet::data::HeldOut::Test, 0, data.test.len())
    };
    let before = test_errors(&params);
    let mut learner = Learner::new(params, FineTune::default());
    while !learner.done() {
        learner.step(&personal, &data.train).unwrap();
    }
    let count = |set: &lenet::data::Dataset, model: &mut LeNet5| {
        let mut images = vec![0.0; set.len() * 784];
        let labels = set.batch(&mut images, 0, set.len()).to_vec();
        model.count_errors(&images, &labels)
    };
    assert_eq!(count(&personal, &mut learner.model), 0, "the corrected drawings now read as 1s");
    let still = count(&unseen, &mut learner.model);
    assert!(still * 2 < unseen.len(), "most other such 1s read right too: {still} of {} misread", unseen.len());
    let after = test_errors(&learner.model.params);
    assert!(after <= before + 15, "MNIST's test error moved from {before} to {after} errors in 10,000 (at most 0.15 points)");
    assert!(Learner::new(learner.model.params.clone(), FineTune::default())
        .step(&lenet::data::Dataset::default(), &data.train)
        .unwrap_err()
        .contains("no examples"));
}

#[test]
#[ignore = "needs MNIST and Fashion-MNIST: `cargo xtask fetch-data`, then `cargo test --test mnist -- --ignored`"]
fn both_collections_are_recognised_and_gzipped_folders_read_as_raw_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let m = mnist();
    assert_eq!(m.collection(), Some(Collection::Mnist));
    // The page's gzipped copies (www/data) are the same images and labels.
    let gz = Mnist::load_dir(&root.join("www/data")).unwrap_or_else(|e| panic!("{e}"));
    assert!(gz.train == m.train && gz.valid == m.valid && gz.test == m.test, "gzipped MNIST reads as the raw files");

    let fashion = Mnist::load_dir(&root.join(Collection::Fashion.dir())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fashion.collection(), Some(Collection::Fashion));
    assert_eq!((fashion.train.len(), fashion.valid.len(), fashion.test.len()), (50_000, 10_000, 10_000));
    // The test set opens with an ankle boot, a pullover, two trousers and a shirt.
    assert_eq!(fashion.test.labels[..5], [9, 2, 1, 1, 6]);
    let gz = Mnist::load_dir(&root.join("www/data/fashion-mnist")).unwrap_or_else(|e| panic!("{e}"));
    assert!(gz.test == fashion.test && gz.train == fashion.train, "gzipped Fashion-MNIST reads as the raw files");
    // One label changed, and the test set is neither.
    let mut other = fashion.clone();
    other.test.labels[0] = 0;
    assert_eq!(other.collection(), None);
}
