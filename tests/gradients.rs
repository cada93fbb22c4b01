//! Finite-difference checks of every layer's backward pass and of the
//! whole network's gradient. Natively they check the reference kernels;
//! in the browser (`wasm-pack test`) the same checks run on SIMD128.

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::random_vec;
use lenet::kernels::ConvShape;
use lenet::layers::*;
use lenet::loss::{nll_loss, softmax_forward, softmax_nll_backward};
use lenet::model::{LeNet5, PARAMS};
use lenet::rng::Rng;
use lenet::tensor::numel;

const EPS: f32 = 1e-2;

/// <a, b> in f64, the scalar loss every layer check differentiates.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

/// Compares `analytic` with central differences of `loss` with respect to `x`.
#[track_caller]
fn check(x: &mut [f32], analytic: &[f32], eps: f32, mut loss: impl FnMut(&[f32]) -> f64) {
    assert!(analytic.iter().any(|g| g.abs() > 1e-3), "the gradient is all but zero: the check would prove nothing");
    for i in 0..x.len() {
        let keep = x[i];
        x[i] = keep + eps;
        let plus = loss(x);
        x[i] = keep - eps;
        let minus = loss(x);
        x[i] = keep;
        let numeric = ((plus - minus) / (2.0 * f64::from(eps))) as f32;
        let tol = 2e-3 + 2e-2 * numeric.abs().max(analytic[i].abs());
        assert!((numeric - analytic[i]).abs() <= tol, "index {i}: analytic {} vs numeric {numeric}", analytic[i]);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn conv2d_gradients() {
    let mut rng = Rng::new(1);
    let s = ConvShape { batch: 2, in_channels: 3, out_channels: 2, height: 7, width: 6, kernel: 3 };
    let (mut inp, mut weight) = (random_vec(&mut rng, s.inp_len(), 1.0), random_vec(&mut rng, s.weight_len(), 1.0));
    let r = random_vec(&mut rng, s.out_len(), 1.0);
    let mut cols = vec![0.0; s.workspace_len()];
    let (mut dinp, mut dweight) = (vec![0.0; inp.len()], vec![0.0; weight.len()]);
    conv2d_backward(Some(&mut dinp), &mut dweight, &r, &inp, &weight, &mut cols, &s);
    let mut out = vec![0.0; s.out_len()];
    let w = weight.clone();
    check(&mut inp, &dinp, EPS, |x| {
        conv2d_forward(&mut out, x, &w, &mut cols, &s);
        dot(&out, &r)
    });
    let x = inp.clone();
    check(&mut weight, &dweight, EPS, |w| {
        conv2d_forward(&mut out, &x, w, &mut cols, &s);
        dot(&out, &r)
    });
}

/// A convolution followed by max-pooling, differentiated from the pooled
/// gradient (`conv2d_pool_backward`), with patches of 50 values: SIMD128
/// sums those as weighted rows instead of routing the gradient to the
/// winners for the dense kernels.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn conv_pool_gradients() {
    let mut rng = Rng::new(5);
    let s = ConvShape { batch: 2, in_channels: 2, out_channels: 3, height: 9, width: 8, kernel: 5 };
    let (mut inp, mut weight) = (random_vec(&mut rng, s.inp_len(), 1.0), random_vec(&mut rng, s.weight_len(), 1.0));
    let planes = s.batch * s.out_channels;
    let n_out = planes * (s.out_height() / 2) * (s.out_width() / 2);
    let r = random_vec(&mut rng, n_out, 1.0);
    let mut cols = vec![0.0; s.workspace_len()];
    let (mut conv, mut pooled, mut arg) = (vec![0.0; s.out_len()], vec![0.0; n_out], vec![0u8; n_out]);
    let mut loss = |x: &[f32], w: &[f32], arg: &mut [u8]| {
        conv2d_forward(&mut conv, x, w, &mut cols, &s);
        maxpool2x2_forward(&mut pooled, arg, &conv, planes, s.out_height(), s.out_width());
        dot(&pooled, &r)
    };
    loss(&inp, &weight, &mut arg);
    let (mut dinp, mut dweight) = (vec![0.0; inp.len()], vec![0.0; weight.len()]);
    let grad = Pooled { grad: &r, argmax: &arg };
    let work = &mut vec![0.0; s.workspace_len()];
    conv2d_pool_backward(PooledBackward {
        dweight: &mut dweight,
        dinp: Some((&mut dinp, &weight)),
        pooled: grad,
        inp: &inp,
        work,
        shape: &s,
    });
    let w = weight.clone();
    check(&mut inp, &dinp, 1e-3, |x| loss(x, &w, &mut vec![0; n_out]));
    let x = inp.clone();
    check(&mut weight, &dweight, 1e-3, |w| loss(&x, w, &mut vec![0; n_out]));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn maxpool_gradients() {
    // Distinct values 0.05 apart, so no window has a near-tie for eps to cross.
    let (planes, h, w) = (3, 6, 5);
    let mut rng = Rng::new(2);
    let mut inp: Vec<f32> = (0..planes * h * w).map(|i| i as f32 * 0.05).collect();
    for i in (1..inp.len()).rev() {
        inp.swap(i, rng.next_u32() as usize % (i + 1));
    }
    let n_out = planes * (h / 2) * (w / 2);
    let r = random_vec(&mut rng, n_out, 1.0);
    let (mut out, mut arg) = (vec![0.0; n_out], vec![0u8; n_out]);
    maxpool2x2_forward(&mut out, &mut arg, &inp, planes, h, w);
    let mut dinp = vec![0.0; inp.len()];
    maxpool2x2_backward(&mut dinp, &r, &arg, planes, h, w);
    check(&mut inp, &dinp, 1e-3, |x| {
        maxpool2x2_forward(&mut out, &mut arg, x, planes, h, w);
        dot(&out, &r)
    });
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn bias_tanh_gradients() {
    let mut rng = Rng::new(3);
    // Planes shorter than the bias sum's 8 lanes, a whole number of them,
    // and both.
    for spatial in [5, 16, 21] {
        let (batch, channels) = (2, 3);
        let mut inp = random_vec(&mut rng, batch * channels * spatial, 1.5);
        let mut bias = random_vec(&mut rng, channels, 0.5);
        let r = random_vec(&mut rng, inp.len(), 1.0);
        let mut out = vec![0.0; inp.len()];
        bias_tanh_forward(&mut out, &inp, &bias, spatial);
        // dinp is replaced, whatever it held.
        let (mut dinp, mut dbias) = (vec![7.0; inp.len()], vec![0.0; channels]);
        bias_tanh_backward(&mut dinp, &mut dbias, &r, &out, spatial);
        let b = bias.clone();
        check(&mut inp, &dinp, EPS, |x| {
            bias_tanh_forward(&mut out, x, &b, spatial);
            dot(&out, &r)
        });
        let x = inp.clone();
        check(&mut bias, &dbias, EPS, |b| {
            bias_tanh_forward(&mut out, &x, b, spatial);
            dot(&out, &r)
        });
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn dense_gradients() {
    let mut rng = Rng::new(4);
    let (batch, k, n) = (3, 7, 5);
    let mut inp = random_vec(&mut rng, batch * k, 1.0);
    let mut weight = random_vec(&mut rng, k * n, 1.0);
    let mut bias = random_vec(&mut rng, n, 1.0);
    let r = random_vec(&mut rng, batch * n, 1.0);
    let (mut dinp, mut dweight, mut dbias) = (vec![0.0; inp.len()], vec![0.0; weight.len()], vec![0.0; n]);
    dense_backward(Some(&mut dinp), &mut dweight, &mut dbias, &r, &inp, &weight, batch);
    let mut out = vec![0.0; batch * n];
    let (w, b) = (weight.clone(), bias.clone());
    check(&mut inp, &dinp, EPS, |x| {
        dense_forward(&mut out, x, &w, &b, batch);
        dot(&out, &r)
    });
    let x = inp.clone();
    check(&mut weight, &dweight, EPS, |w| {
        dense_forward(&mut out, &x, w, &b, batch);
        dot(&out, &r)
    });
    check(&mut bias, &dbias, EPS, |b| {
        dense_forward(&mut out, &x, &weight, b, batch);
        dot(&out, &r)
    });
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn softmax_nll_gradient() {
    let mut rng = Rng::new(5);
    let (batch, classes) = (4, 10);
    let mut logits = random_vec(&mut rng, batch * classes, 3.0);
    let labels = [3u8, 0, 9, 3];
    let mut probs = vec![0.0; logits.len()];
    softmax_forward(&mut probs, &logits, classes);
    let mut dlogits = vec![0.0; logits.len()];
    softmax_nll_backward(&mut dlogits, &probs, &labels, classes);
    check(&mut logits, &dlogits, EPS, |z| {
        softmax_forward(&mut probs, z, classes);
        f64::from(nll_loss(&probs, &labels, classes))
    });
}

/// A network whose output layer is not zero (the tutorial's zero init
/// would hide every gradient below it), and a batch of noise images.
fn perturbed_network() -> (LeNet5, Vec<f32>, Vec<u8>) {
    let mut rng = Rng::new(6);
    let mut model = LeNet5::new(6);
    for v in model.params.iter_mut() {
        *v += rng.uniform(0.05);
    }
    let images: Vec<f32> = (0..3 * 784).map(|_| rng.next_f32()).collect();
    (model, images, vec![7, 1, 4])
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn whole_network_gradient_per_parameter() {
    let (mut model, images, labels) = perturbed_network();
    model.loss_and_grad(&images, &labels);
    let grads = model.grads.clone();
    let mut rng = Rng::new(7);
    let mut offset = 0;
    for (name, shape) in PARAMS {
        let n = numel(shape);
        // The largest-gradient entry of each tensor plus a few random ones.
        let largest = (0..n).max_by(|&a, &b| grads[offset + a].abs().total_cmp(&grads[offset + b].abs())).unwrap();
        let picks: Vec<usize> = std::iter::once(largest).chain((0..6).map(|_| rng.next_u32() as usize % n)).collect();
        assert!(grads[offset + largest].abs() > 1e-4, "{name}: gradient is all but zero");
        for i in picks {
            let p = offset + i;
            let keep = model.params[p];
            let eps = 5e-4; // small enough not to cross a max-pool switch
            model.params[p] = keep + eps;
            let plus = model.loss_and_grad(&images, &labels);
            model.params[p] = keep - eps;
            let minus = model.loss_and_grad(&images, &labels);
            model.params[p] = keep;
            let numeric = (plus - minus) / (2.0 * eps);
            let tol = 3e-4 + 5e-2 * numeric.abs().max(grads[p].abs());
            assert!((numeric - grads[p]).abs() <= tol, "{name}[{i}]: analytic {} vs numeric {numeric}", grads[p]);
        }
        offset += n;
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn whole_network_directional_derivative() {
    // Along a random direction over all 431,080 parameters at once.
    let (mut model, images, labels) = perturbed_network();
    model.loss_and_grad(&images, &labels);
    let mut rng = Rng::new(8);
    let direction = random_vec(&mut rng, model.params.len(), 1.0);
    let analytic = dot(&model.grads, &direction);
    let base = model.params.clone();
    let eps = 1e-3;
    let mut at = |sign: f32| {
        model.params = base.iter().zip(&direction).map(|(p, d)| p + sign * eps * d).collect();
        f64::from(model.loss_and_grad(&images, &labels))
    };
    let numeric = (at(1.0) - at(-1.0)) / (2.0 * f64::from(eps));
    assert!(analytic.abs() > 1e-2, "directional derivative {analytic} is too small to test");
    assert!((numeric - analytic).abs() <= 2e-2 * analytic.abs(), "analytic {analytic} vs numeric {numeric}");
}
