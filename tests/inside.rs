//! What the page shows of the network: feature maps, checked against a
//! direct convolution written here, and the confusion matrix, checked
//! against the model's own error count.

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::{assert_close, noise_dataset, random_vec};
use lenet::confusion::{predict, Confusion, Prediction};
use lenet::model::*;
use lenet::rng::Rng;

/// tanh(w * x + b) of one image's channels (c_in, side, side), by the
/// definition, for the filters (c_out, c_in, K, K).
fn direct_conv(x: &[f32], c_in: usize, side: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
    let out = side - KERNEL + 1;
    let mut y = Vec::new();
    for (o, &bias) in b.iter().enumerate() {
        for i in 0..out {
            for j in 0..out {
                let mut sum = 0.0f64;
                for c in 0..c_in {
                    for u in 0..KERNEL {
                        for v in 0..KERNEL {
                            let weight = w[((o * c_in + c) * KERNEL + u) * KERNEL + v];
                            sum += f64::from(weight) * f64::from(x[(c * side + i + u) * side + j + v]);
                        }
                    }
                }
                y.push((sum as f32 + bias).tanh());
            }
        }
    }
    y
}

/// 2x2 max-pooling of square maps of side `side`.
fn pool(maps: &[f32], side: usize) -> Vec<f32> {
    let half = side / 2;
    let mut y = Vec::new();
    for map in maps.chunks_exact(side * side) {
        for i in 0..half {
            for j in 0..half {
                let at = |u: usize, v: usize| map[(2 * i + u) * side + 2 * j + v];
                y.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
            }
        }
    }
    y
}

#[test]
fn feature_maps_are_what_each_convolution_computes() {
    let mut rng = Rng::new(5);
    let mut model = LeNet5::new(3);
    // Biases away from zero, so that a missing or misplaced one shows.
    for name in ["conv1.bias", "conv2.bias"] {
        let (offset, len) = offset_of(name);
        model.params[offset..offset + len].copy_from_slice(&random_vec(&mut rng, len, 0.5));
    }
    let images: Vec<f32> = random_vec(&mut rng, 3 * IMAGE_LEN, 0.5).iter().map(|v| v + 0.5).collect();
    model.forward(&images);
    let maps = model.feature_maps(1);
    let image = &images[IMAGE_LEN..2 * IMAGE_LEN];
    let conv1 = direct_conv(image, 1, IMAGE_SIDE, model.param("conv1.weight"), model.param("conv1.bias"));
    assert_eq!(maps.conv1.len(), CONV1_FILTERS * CONV1_SIDE * CONV1_SIDE);
    assert_close(&maps.conv1, &conv1, 1e-4, 1e-4);
    // conv2 reads conv1's pooled maps: pooling tanh(conv + b) is the layer's output.
    let conv2 = direct_conv(&pool(&conv1, CONV1_SIDE), CONV1_FILTERS, POOL1_SIDE, model.param("conv2.weight"), model.param("conv2.bias"));
    assert_eq!(maps.conv2.len(), CONV2_FILTERS * CONV2_SIDE * CONV2_SIDE);
    assert_close(&maps.conv2, &conv2, 1e-4, 1e-4);
}

fn offset_of(name: &str) -> (usize, usize) {
    let mut offset = 0;
    for (n, shape) in PARAMS {
        let len: usize = shape.iter().product();
        if n == name {
            return (offset, len);
        }
        offset += len;
    }
    panic!("no parameter {name}")
}

#[test]
fn predictions_agree_with_the_models_error_count() {
    let mut rng = Rng::new(9);
    let set = noise_dataset(&mut rng, 250);
    let mut model = LeNet5::new(4);
    let (offset, len) = offset_of("out.weight");
    model.params[offset..offset + len].copy_from_slice(&random_vec(&mut rng, len, 1.0));
    let mut predictions = Vec::new();
    // In two calls, as the page's worker makes them between slices.
    predict(&mut model, &set, 0, 130, &mut predictions);
    predict(&mut model, &set, 130, 250, &mut predictions);
    assert_eq!(predictions.len(), 250);
    let mut x = vec![0.0; 250 * IMAGE_LEN];
    let labels = set.batch(&mut x, 0, 250).to_vec();
    let errors = model.count_errors(&x, &labels);
    assert!(errors > 0 && errors < 250, "a random model errs on some images of ten labels, not all ({errors})");
    assert_eq!(Confusion::of(&predictions).errors(), errors);
    let probs = model.forward(&x).to_vec();
    for (i, p) in predictions.iter().enumerate() {
        assert_eq!(p.label, labels[i]);
        assert_eq!(p.probability, probs[i * CLASSES + usize::from(p.predicted)]);
        assert!(probs[i * CLASSES..(i + 1) * CLASSES].iter().all(|&q| q <= p.probability));
    }
}

#[test]
fn the_confusion_matrix_counts_every_prediction() {
    // Image i: label i % 10, read right unless i % 7 == 0, then as (label + i % 3 + 1) % 10.
    let predictions: Vec<Prediction> = (0..500)
        .map(|i| {
            let label = (i % 10) as u8;
            let predicted = if i % 7 == 0 { (label + (i % 3) as u8 + 1) % 10 } else { label };
            Prediction { label, predicted, probability: 0.5 }
        })
        .collect();
    let c = Confusion::of(&predictions);
    assert_eq!(c.total(), 500);
    let wrong = (0..500).filter(|i| i % 7 == 0).count();
    assert_eq!(c.errors(), wrong);
    assert!((c.error_percent() - wrong as f64 * 0.2).abs() < 1e-9);
    assert_eq!(c.count(3, 3), (0..500).filter(|i| i % 10 == 3 && i % 7 != 0).count());
    // 63: label 3, 63 % 3 = 0, read as 4.
    assert!(Confusion::cell(&predictions, 3, 4).any(|i| i == 63));
    let mut cells = 0;
    for truth in 0..CLASSES {
        for pred in 0..CLASSES {
            let members: Vec<usize> = Confusion::cell(&predictions, truth, pred).collect();
            assert_eq!(members.len(), c.count(truth, pred));
            assert!(members.iter().all(|&i| usize::from(predictions[i].label) == truth && usize::from(predictions[i].predicted) == pred));
            cells += members.len();
        }
    }
    assert_eq!(cells, 500);
    let text = c.to_text();
    assert_eq!(text.lines().count(), 1 + CLASSES);
    let row3: Vec<usize> = text.lines().nth(4).unwrap().split_whitespace().map(|v| v.parse().unwrap()).collect();
    assert_eq!(row3[0], 3);
    assert_eq!(row3[1 + 3], c.count(3, 3));
}
