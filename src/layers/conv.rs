//! Convolution without bias (the tutorial adds the bias after pooling).

use crate::kernels::{imp, ConvShape, Pooled};

/// out (B,OC,OH,OW) = inp (B,C,H,W) (*) weight (OC,C,K,K).
/// `cols` is a workspace of at least `s.workspace_len()` values.
pub fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    out.fill(0.0);
    imp::conv2d_forward(out, inp, weight, cols, s);
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
    imp::conv2d_backward_filter(dweight, dout, inp, cols, s);
    if let Some(dinp) = dinp {
        imp::conv2d_backward_input(dinp, dout, weight, cols, s);
    }
}

/// The backward pass of this convolution followed by 2x2 max-pooling,
/// from the pooling's output gradient and winners: dweight +=
/// dL/dweight; dinp += dL/dinp (through `weight`, the pair's second)
/// when asked for. `dout` (B,OC,OH,OW) is scratch for kernels that route
/// the gradient to the winners first.
pub fn conv2d_pool_backward(
    dweight: &mut [f32],
    dinp: Option<(&mut [f32], &[f32])>,
    pooled: Pooled,
    inp: &[f32],
    dout: &mut [f32],
    cols: &mut [f32],
    s: &ConvShape,
) {
    imp::conv2d_backward_pooled(dweight, dinp, pooled, inp, dout, cols, s);
}
