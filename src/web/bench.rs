//! Entry points for the benchmark page (`www/bench/`): LeNet-5 training
//! and inference at a fixed batch on noise images, timed by the caller,
//! and each kernel of a training step timed alone (the profile).

use wasm_bindgen::prelude::*;

use crate::kernels::{imp, ConvShape};
use crate::model::{LeNet5, IMAGE_LEN};
use crate::rng::Rng;
use crate::sgd::sgd_step;
use crate::train::STEP_IMAGES;

#[wasm_bindgen]
pub struct Bench {
    model: LeNet5,
    images: Vec<f32>,
    labels: Vec<u8>,
    grad_sum: Vec<f32>,
}

#[wasm_bindgen]
impl Bench {
    /// A tutorial-initialised LeNet-5 and `batch` noise images.
    #[wasm_bindgen(constructor)]
    pub fn new(batch: usize) -> Bench {
        let mut rng = Rng::new(1);
        let model = LeNet5::new(1);
        Bench {
            grad_sum: vec![0.0; model.params.len()],
            model,
            images: (0..batch * IMAGE_LEN).map(|_| rng.next_f32()).collect(),
            labels: (0..batch).map(|i| (i % 10) as u8).collect(),
        }
    }

    /// Whether this build's kernels are the SIMD128 ones.
    pub fn simd() -> bool {
        cfg!(target_feature = "simd128")
    }

    /// One SGD step on the whole batch, in steps of `STEP_IMAGES` as the
    /// trainer takes them.
    pub fn train_batch(&mut self) -> f32 {
        let batch = self.labels.len();
        let mut loss = 0.0;
        for start in (0..batch).step_by(STEP_IMAGES) {
            let n = STEP_IMAGES.min(batch - start);
            loss += self.model.loss_and_grad(&self.images[start * IMAGE_LEN..(start + n) * IMAGE_LEN], &self.labels[start..start + n]);
            let share = n as f32 / batch as f32;
            for (s, g) in self.grad_sum.iter_mut().zip(&self.model.grads) {
                *s = if start == 0 { g * share } else { *s + g * share };
            }
        }
        sgd_step(&mut self.model.params, &self.grad_sum, 0.01);
        loss
    }

    /// Class probabilities of the whole batch, `STEP_IMAGES` at a time.
    pub fn infer_batch(&mut self) -> f32 {
        let batch = self.labels.len();
        let mut checksum = 0.0;
        for start in (0..batch).step_by(STEP_IMAGES) {
            let n = STEP_IMAGES.min(batch - start);
            checksum += self.model.forward(&self.images[start * IMAGE_LEN..(start + n) * IMAGE_LEN])[0];
        }
        checksum
    }
}

/// Milliseconds per call of each hot kernel at LeNet-5's shapes for
/// `STEP_IMAGES` images, as "name ms" lines: the fastest of `reps` calls,
/// since a shared machine only ever adds time.
#[wasm_bindgen]
pub fn kernel_profile(reps: usize) -> String {
    let b = STEP_IMAGES;
    let mut rng = Rng::new(2);
    let mut v = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(1.0)).collect() };
    let c1 = ConvShape { batch: b, in_channels: 1, out_channels: 20, height: 28, width: 28, kernel: 5 };
    let c2 = ConvShape { batch: b, in_channels: 20, out_channels: 50, height: 12, width: 12, kernel: 5 };
    let mut cols = v(c1.workspace_len().max(c2.workspace_len()));
    let (x1, w1, o1) = (v(c1.inp_len()), v(c1.weight_len()), v(c1.out_len()));
    let (x2, w2, o2) = (v(c2.inp_len()), v(c2.weight_len()), v(c2.out_len()));
    let (mut dw1, mut dw2, mut dx2, mut out1, mut out2) = (v(w1.len()), v(w2.len()), v(x2.len()), v(o1.len()), v(o2.len()));
    let (h_in, h_w, h_out) = (v(b * 800), v(800 * 500), v(b * 500));
    let (mut h_dw, mut h_dx, mut h_o) = (v(800 * 500), v(b * 800), v(b * 500));
    let now = super::now_ms;
    let mut lines = String::new();
    let mut time = |name: &str, f: &mut dyn FnMut()| {
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let start = now();
            f();
            best = best.min(now() - start);
        }
        lines += &format!("{name} {best:.3}\n");
    };
    time("conv1.forward", &mut || imp::conv2d_forward(&mut out1, &x1, &w1, &mut cols, &c1));
    time("conv1.backward_filter", &mut || imp::conv2d_backward_filter(&mut dw1, &o1, &x1, &mut cols, &c1));
    time("conv2.forward", &mut || imp::conv2d_forward(&mut out2, &x2, &w2, &mut cols, &c2));
    time("conv2.backward_input", &mut || imp::conv2d_backward_input(&mut dx2, &o2, &w2, &mut cols, &c2));
    time("conv2.backward_filter", &mut || imp::conv2d_backward_filter(&mut dw2, &o2, &x2, &mut cols, &c2));
    time("hidden.forward", &mut || imp::matmul(&mut h_o, &h_in, &h_w, b, 800, 500));
    time("hidden.backward_weight", &mut || imp::matmul_at(&mut h_dw, &h_in, &h_out, 800, b, 500));
    time("hidden.backward_input", &mut || imp::matmul_bt(&mut h_dx, &h_out, &h_w, b, 500, 800));
    let mut model = LeNet5::new(3);
    let images = v(b * IMAGE_LEN);
    let labels: Vec<u8> = (0..b).map(|i| (i % 10) as u8).collect();
    time("whole step (loss_and_grad)", &mut || {
        model.loss_and_grad(&images, &labels);
    });
    lines
}
