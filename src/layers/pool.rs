//! 2x2 max-pooling with stride 2 (`ignore_border=True`: an odd last row or
//! column is dropped, as Theano's `pool_2d` does).

use crate::kernels::{best, Pooled};

/// out (N,H/2,W/2) = max over each 2x2 window of inp (N,H,W), N = B*C.
/// `argmax` (N,H/2,W/2) records which of the four won (0..4, row-major),
/// the first one on ties.
pub fn maxpool2x2_forward(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize) {
    best::maxpool2x2(out, argmax, inp, planes, h, w);
}

/// dinp (N,H,W) += dout routed to the winner of each window.
pub fn maxpool2x2_backward(dinp: &mut [f32], dout: &[f32], argmax: &[u8], planes: usize, h: usize, w: usize) {
    crate::kernels::unpool_add(dinp, Pooled { grad: dout, argmax }, planes, h, w);
}
