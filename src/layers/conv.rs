//! Convolution without bias (the tutorial adds the bias after pooling).

use crate::kernels::{best, ConvShape, PooledBackward};

/// out (B,OC,OH,OW) = inp (B,C,H,W) (*) weight (OC,C,K,K).
/// `cols` is a workspace of at least `s.workspace_len()` values.
pub fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    best::conv2d_forward(out, inp, weight, cols, s);
}

/// dweight += dL/dweight; dinp += dL/dinp when asked for (the first layer's
/// input is the data, which needs no gradient).
pub fn conv2d_backward(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    cols: &mut [f32],
    s: &ConvShape,
) {
    best::conv2d_backward_filter(dweight, dout, inp, cols, s);
    if let Some(dinp) = dinp {
        best::conv2d_backward_input(dinp, dout, weight, cols, s);
    }
}

/// The backward pass of this convolution followed by 2x2 max-pooling,
/// from the pooling's output gradient and winners: dweight +=
/// dL/dweight; dinp += dL/dinp when asked for (see `PooledBackward`).
pub fn conv2d_pool_backward(op: PooledBackward) {
    best::conv2d_backward_pooled(op);
}
