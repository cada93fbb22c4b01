//! 2x2 max-pooling with stride 2 (`ignore_border=True`: an odd last row or
//! column is dropped, as Theano's `pool_2d` does).

/// out (N,H/2,W/2) = max over each 2x2 window of inp (N,H,W), N = B*C.
/// `argmax` (N,H/2,W/2) records which of the four won (0..4, row-major),
/// the first one on ties.
pub fn maxpool2x2_forward(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize) {
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(inp.len(), planes * h * w, "inp must be (N,H,W)");
    assert_eq!(out.len(), planes * oh * ow, "out must be (N,H/2,W/2)");
    assert_eq!(argmax.len(), out.len(), "argmax must be shaped like out");
    for n in 0..planes {
        let img = &inp[n * h * w..(n + 1) * h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let top = 2 * oy * w + 2 * ox;
                let window = [img[top], img[top + 1], img[top + w], img[top + w + 1]];
                let mut best = 0;
                for q in 1..4 {
                    if window[q] > window[best] {
                        best = q;
                    }
                }
                let o = (n * oh + oy) * ow + ox;
                out[o] = window[best];
                argmax[o] = best as u8;
            }
        }
    }
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
