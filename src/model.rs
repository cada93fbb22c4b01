//! LeNet-5 as in the Theano tutorial:
//! conv 20@5x5 -> max-pool 2x2 -> +bias -> tanh;
//! conv 50@5x5 -> max-pool 2x2 -> +bias -> tanh;
//! dense 800->500 tanh; logistic regression 500->10.
//!
//! All parameters live in one flat buffer (`params`, laid out as `PARAMS`),
//! and so do their gradients: SGD, weight files and gradient sums across
//! workers see one slice. Activation buffers grow to the largest batch seen
//! and are reused, so a training step allocates nothing after the first.

use crate::layers::*;
use crate::loss::{nll_loss, softmax_forward, softmax_nll_backward};
use crate::rng::Rng;
use crate::tensor::{argmax, numel};

// The network's shapes, the one place they are written: everything
// else (buffers, benchmarks, the page's feature maps) derives from these.
pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_LEN: usize = IMAGE_SIDE * IMAGE_SIDE;
pub const CLASSES: usize = 10;
/// The side of both convolutions' square kernels.
pub const KERNEL: usize = 5;
pub const CONV1_FILTERS: usize = 20;
/// conv1's output side (24), and after its 2x2 max-pooling (12).
pub const CONV1_SIDE: usize = IMAGE_SIDE - KERNEL + 1;
pub const POOL1_SIDE: usize = CONV1_SIDE / 2;
pub const CONV2_FILTERS: usize = 50;
/// conv2's output side (8), and after its 2x2 max-pooling (4).
pub const CONV2_SIDE: usize = POOL1_SIDE - KERNEL + 1;
pub const POOL2_SIDE: usize = CONV2_SIDE / 2;
/// Inputs of the hidden layer: conv2's pooled maps, flattened (800).
pub const FLAT: usize = CONV2_FILTERS * POOL2_SIDE * POOL2_SIDE;
pub const HIDDEN: usize = 500;

const C1: usize = CONV1_FILTERS;
const C2: usize = CONV2_FILTERS;
const K: usize = KERNEL;

/// Name and shape of every parameter, in the order of the flat buffer.
/// Dense weights are (n_in, n_out), as in the tutorial.
pub const PARAMS: [(&str, &[usize]); 8] = [
    ("conv1.weight", &[C1, 1, K, K]),
    ("conv1.bias", &[C1]),
    ("conv2.weight", &[C2, C1, K, K]),
    ("conv2.bias", &[C2]),
    ("hidden.weight", &[FLAT, HIDDEN]),
    ("hidden.bias", &[HIDDEN]),
    ("out.weight", &[HIDDEN, CLASSES]),
    ("out.bias", &[CLASSES]),
];

/// Total number of parameters (431,080).
pub fn param_count() -> usize {
    PARAMS.iter().map(|(_, shape)| numel(shape)).sum()
}

/// The flat buffer cut into one slice per parameter, in `PARAMS` order.
fn param_slices<T>(mut buf: &mut [T]) -> [&mut [T]; 8] {
    PARAMS.map(|(_, shape)| {
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(numel(shape));
        buf = tail;
        head
    })
}

/// conv1 on `batch` images: (B,1,28,28) -> (B,20,24,24).
pub fn conv1_shape(batch: usize) -> ConvShape {
    ConvShape { batch, in_channels: 1, out_channels: C1, height: IMAGE_SIDE, width: IMAGE_SIDE, kernel: K }
}

/// conv2 on `batch` pooled maps: (B,20,12,12) -> (B,50,8,8).
pub fn conv2_shape(batch: usize) -> ConvShape {
    ConvShape { batch, in_channels: C1, out_channels: C2, height: POOL1_SIDE, width: POOL1_SIDE, kernel: K }
}

/// Per-example sizes of the activations.
const C1_OUT: usize = C1 * CONV1_SIDE * CONV1_SIDE;
const P1_OUT: usize = C1 * POOL1_SIDE * POOL1_SIDE;
const C2_OUT: usize = C2 * CONV2_SIDE * CONV2_SIDE;

#[derive(Clone, Default)]
struct Buffers {
    capacity: usize,
    x: Vec<f32>,      // (B,1,28,28)
    c1: Vec<f32>,     // (B,20,24,24) conv1
    arg1: Vec<u8>,    // (B,20,12,12) pool1 winners
    p1: Vec<f32>,     // (B,20,12,12) pool1
    a1: Vec<f32>,     // (B,20,12,12) tanh(pool1 + b1)
    c2: Vec<f32>,     // (B,50,8,8)
    arg2: Vec<u8>,    // (B,50,4,4)
    p2: Vec<f32>,     // (B,50,4,4)
    a2: Vec<f32>,     // (B,800)
    h: Vec<f32>,      // (B,500)
    logits: Vec<f32>, // (B,10)
    probs: Vec<f32>,  // (B,10)
    cols: Vec<f32>,   // im2col workspace of one image
    // gradients of the activations, named after what they differentiate
    dlogits: Vec<f32>,
    dh: Vec<f32>,
    da2: Vec<f32>,
    dp2: Vec<f32>,
    da1: Vec<f32>,
    dp1: Vec<f32>,
}

impl Buffers {
    fn ensure(&mut self, batch: usize) {
        if batch <= self.capacity {
            return;
        }
        let cols = conv1_shape(1).workspace_len().max(conv2_shape(1).workspace_len());
        *self = Buffers {
            capacity: batch,
            x: vec![0.0; batch * IMAGE_LEN],
            c1: vec![0.0; batch * C1_OUT],
            arg1: vec![0; batch * P1_OUT],
            p1: vec![0.0; batch * P1_OUT],
            a1: vec![0.0; batch * P1_OUT],
            c2: vec![0.0; batch * C2_OUT],
            arg2: vec![0; batch * FLAT],
            p2: vec![0.0; batch * FLAT],
            a2: vec![0.0; batch * FLAT],
            h: vec![0.0; batch * HIDDEN],
            logits: vec![0.0; batch * CLASSES],
            probs: vec![0.0; batch * CLASSES],
            cols: vec![0.0; cols],
            dlogits: vec![0.0; batch * CLASSES],
            dh: vec![0.0; batch * HIDDEN],
            da2: vec![0.0; batch * FLAT],
            dp2: vec![0.0; batch * FLAT],
            da1: vec![0.0; batch * P1_OUT],
            dp1: vec![0.0; batch * P1_OUT],
        };
    }
}

/// One image's feature maps (see `LeNet5::feature_maps`), channel by
/// channel, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMaps {
    pub conv1: Vec<f32>,
    pub conv2: Vec<f32>,
}

#[derive(Clone)]
pub struct LeNet5 {
    /// Every parameter, laid out as `PARAMS`.
    pub params: Vec<f32>,
    /// dL/dparams of the last `loss_and_grad`, laid out as `params`.
    pub grads: Vec<f32>,
    buf: Buffers,
    batch: usize,
}

impl LeNet5 {
    /// The tutorial's initialisation: conv and hidden weights uniform in
    /// +-sqrt(6/(fan_in+fan_out)), where a conv's fan_out is
    /// out_channels*K*K/pool_area; output weights and all biases zero.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut params = vec![0.0; param_count()];
        let [w1, _, w2, _, w3, _, _, _] = param_slices(&mut params);
        let bound = |fan_in: usize, fan_out: usize| (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
        let conv_bound = |in_c: usize, out_c: usize| bound(in_c * K * K, out_c * K * K / 4);
        for (w, b) in [(w1, conv_bound(1, C1)), (w2, conv_bound(C1, C2)), (w3, bound(FLAT, HIDDEN))] {
            w.iter_mut().for_each(|v| *v = rng.uniform(b));
        }
        Self::from_params(params)
    }

    #[track_caller]
    pub fn from_params(params: Vec<f32>) -> Self {
        assert_eq!(params.len(), param_count(), "LeNet-5 has {} parameters", param_count());
        let grads = vec![0.0; params.len()];
        LeNet5 { params, grads, buf: Buffers::default(), batch: 0 }
    }

    /// The named parameter's values.
    pub fn param(&self, name: &str) -> &[f32] {
        let mut offset = 0;
        for (n, shape) in PARAMS {
            if n == name {
                return &self.params[offset..offset + numel(shape)];
            }
            offset += numel(shape);
        }
        panic!("LeNet-5 has no parameter {name:?}")
    }

    /// Class probabilities (B,10) of `images` (B,784), pixels in [0,1).
    pub fn forward(&mut self, images: &[f32]) -> &[f32] {
        assert_eq!(images.len() % IMAGE_LEN, 0, "images must be (B,784)");
        let batch = images.len() / IMAGE_LEN;
        self.buf.ensure(batch);
        self.batch = batch;
        self.buf.x[..images.len()].copy_from_slice(images);
        self.forward_buffered();
        &self.buf.probs[..batch * CLASSES]
    }

    /// What each convolution's units compute for image `index` of the last
    /// `forward`, before pooling: tanh(conv + bias), conv1's (20,24,24) and
    /// conv2's (50,8,8). Max-pooling them gives the layers' outputs, since
    /// +bias and tanh keep the order of values.
    pub fn feature_maps(&self, index: usize) -> FeatureMaps {
        assert!(index < self.batch, "image {index} is not in the last forward's batch of {}", self.batch);
        let activate = |conv: &[f32], bias: &[f32], area: usize| -> Vec<f32> {
            conv.chunks_exact(area).zip(bias).flat_map(|(map, &b)| map.iter().map(move |&v| (v + b).tanh())).collect()
        };
        let (a1, a2) = (CONV1_SIDE * CONV1_SIDE, CONV2_SIDE * CONV2_SIDE);
        FeatureMaps {
            conv1: activate(&self.buf.c1[index * C1_OUT..(index + 1) * C1_OUT], self.param("conv1.bias"), a1),
            conv2: activate(&self.buf.c2[index * C2_OUT..(index + 1) * C2_OUT], self.param("conv2.bias"), a2),
        }
    }

    /// Mean negative log-likelihood of `labels`, and its gradient in `grads`.
    pub fn loss_and_grad(&mut self, images: &[f32], labels: &[u8]) -> f32 {
        self.forward(images);
        let b = self.batch;
        assert_eq!(labels.len(), b, "one label per image");
        let loss = nll_loss(&self.buf.probs[..b * CLASSES], labels, CLASSES);
        self.backward(labels);
        loss
    }

    /// Number of misclassified images among `images` (B,784).
    pub fn count_errors(&mut self, images: &[f32], labels: &[u8]) -> usize {
        let probs = self.forward(images);
        probs.chunks_exact(CLASSES).zip(labels).filter(|(p, &y)| argmax(p) != y as usize).count()
    }

    fn forward_buffered(&mut self) {
        let b = self.batch;
        let [w1, b1, w2, b2, w3, b3, w4, b4] = param_slices(&mut self.params);
        let f = &mut self.buf;
        let (x, c1, p1, a1) = (&f.x[..b * IMAGE_LEN], &mut f.c1[..b * C1_OUT], &mut f.p1[..b * P1_OUT], &mut f.a1[..b * P1_OUT]);
        conv2d_forward(c1, x, w1, &mut f.cols, &conv1_shape(b));
        maxpool2x2_forward(p1, &mut f.arg1[..b * P1_OUT], c1, b * C1, CONV1_SIDE, CONV1_SIDE);
        bias_tanh_forward(a1, p1, b1, POOL1_SIDE * POOL1_SIDE);
        let (c2, p2, a2) = (&mut f.c2[..b * C2_OUT], &mut f.p2[..b * FLAT], &mut f.a2[..b * FLAT]);
        conv2d_forward(c2, a1, w2, &mut f.cols, &conv2_shape(b));
        maxpool2x2_forward(p2, &mut f.arg2[..b * FLAT], c2, b * C2, CONV2_SIDE, CONV2_SIDE);
        bias_tanh_forward(a2, p2, b2, POOL2_SIDE * POOL2_SIDE);
        let h = &mut f.h[..b * HIDDEN];
        dense_forward(h, a2, w3, b3, b);
        tanh_forward(h);
        let logits = &mut f.logits[..b * CLASSES];
        dense_forward(logits, h, w4, b4, b);
        softmax_forward(&mut f.probs[..b * CLASSES], logits, CLASSES);
    }

    fn backward(&mut self, labels: &[u8]) {
        let b = self.batch;
        self.grads.fill(0.0);
        let [dw1, db1, dw2, db2, dw3, db3, dw4, db4] = param_slices(&mut self.grads);
        let [_, _, w2, _, w3, _, w4, _] = param_slices(&mut self.params);
        let f = &mut self.buf;
        let dlogits = &mut f.dlogits[..b * CLASSES];
        softmax_nll_backward(dlogits, &f.probs[..b * CLASSES], labels, CLASSES);
        let (h, dh) = (&f.h[..b * HIDDEN], &mut f.dh[..b * HIDDEN]);
        dh.fill(0.0);
        dense_backward(Some(&mut *dh), dw4, db4, dlogits, h, w4, b);
        tanh_backward(dh, h);
        let (a2, da2, dp2) = (&f.a2[..b * FLAT], &mut f.da2[..b * FLAT], &mut f.dp2[..b * FLAT]);
        da2.fill(0.0);
        dense_backward(Some(&mut *da2), dw3, db3, dh, a2, w3, b);
        bias_tanh_backward(dp2, db2, da2, a2, POOL2_SIDE * POOL2_SIDE);
        let (a1, da1, dp1) = (&f.a1[..b * P1_OUT], &mut f.da1[..b * P1_OUT], &mut f.dp1[..b * P1_OUT]);
        da1.fill(0.0);
        let pooled2 = Pooled { grad: dp2, argmax: &f.arg2[..b * FLAT] };
        let (work, shape) = (&mut f.cols, &conv2_shape(b));
        conv2d_pool_backward(PooledBackward { dweight: dw2, dinp: Some((&mut *da1, w2)), pooled: pooled2, inp: a1, work, shape });
        bias_tanh_backward(dp1, db1, da1, a1, POOL1_SIDE * POOL1_SIDE);
        let pooled1 = Pooled { grad: dp1, argmax: &f.arg1[..b * P1_OUT] };
        let (inp, work, shape) = (&f.x[..b * IMAGE_LEN], &mut f.cols, &conv1_shape(b));
        conv2d_pool_backward(PooledBackward { dweight: dw1, dinp: None, pooled: pooled1, inp, work, shape });
    }
}
