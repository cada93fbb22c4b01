//! 2x2 max-pooling with stride 2 (`ignore_border=True`: an odd last row or
//! column is dropped, as Theano's `pool_2d` does).

use crate::kernels::imp;

/// out (N,H/2,W/2) = max over each 2x2 window of inp (N,H,W), N = B*C.
/// `argmax` (N,H/2,W/2) records which of the four won (0..4, row-major),
/// the first one on ties.
pub fn maxpool2x2_forward(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize) {
    imp::maxpool2x2(out, argmax, inp, planes, h, w);
}

/// dinp (N,H,W) += dout routed to the winner of each window.
pub fn maxpool2x2_backward(dinp: &mut [f32], dout: &[f32], argmax: &[u8], planes: usize, h: usize, w: usize) {
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(dinp.len(), planes * h * w, "dinp must be (N,H,W)");
    assert_eq!(dout.len(), planes * oh * ow, "dout must be (N,H/2,W/2)");
    for n in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let o = (n * oh + oy) * ow + ox;
                let q = argmax[o] as usize;
                dinp[n * h * w + (2 * oy + q / 2) * w + 2 * ox + q % 2] += dout[o];
            }
        }
    }
}
