//! The tutorial's non-linearity: `tanh(x + b)` with one bias per channel.

use crate::kernels::best;

/// out (B,C,S) = tanh(inp (B,C,S) + bias (C)); S is the spatial size (1 for
/// a dense layer whose bias was already added).
pub fn bias_tanh_forward(out: &mut [f32], inp: &[f32], bias: &[f32], spatial: usize) {
    assert_eq!(out.len(), inp.len(), "out must be shaped like inp");
    let plane = bias.len() * spatial;
    assert_eq!(inp.len() % plane, 0, "inp must be (B,C,S) with C = bias.len()");
    for (o_img, i_img) in out.chunks_exact_mut(plane).zip(inp.chunks_exact(plane)) {
        for (c, &b) in bias.iter().enumerate() {
            let range = c * spatial..(c + 1) * spatial;
            for (o, &x) in o_img[range.clone()].iter_mut().zip(&i_img[range]) {
                *o = x + b;
            }
        }
    }
    best::tanh_inplace(out);
}

/// x = tanh(x) in place: a dense layer's output, its bias already added.
pub fn tanh_forward(x: &mut [f32]) {
    best::tanh_inplace(x);
}

/// dinp += dout * (1 - out^2); dbias (C) += dinp summed over batch and space.
pub fn bias_tanh_backward(dinp: &mut [f32], dbias: &mut [f32], dout: &[f32], out: &[f32], spatial: usize) {
    assert_eq!(dinp.len(), out.len(), "dinp must be shaped like out");
    let plane = dbias.len() * spatial;
    for ((di, dout_img), out_img) in dinp.chunks_exact_mut(plane).zip(dout.chunks_exact(plane)).zip(out.chunks_exact(plane)) {
        for (c, db) in dbias.iter_mut().enumerate() {
            let range = c * spatial..(c + 1) * spatial;
            let mut sum = 0.0;
            for ((d, &g), &y) in di[range.clone()].iter_mut().zip(&dout_img[range.clone()]).zip(&out_img[range]) {
                let local = g * (1.0 - y * y);
                *d += local;
                sum += local;
            }
            *db += sum;
        }
    }
}

/// In place: d = d * (1 - out^2), the tanh derivative of a dense layer's
/// output (its bias gradient is taken by `dense_backward`).
pub fn tanh_backward(d: &mut [f32], out: &[f32]) {
    assert_eq!(d.len(), out.len(), "d must be shaped like out");
    for (g, &y) in d.iter_mut().zip(out) {
        *g *= 1.0 - y * y;
    }
}
