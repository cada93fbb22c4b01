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

/// dinp = dout * (1 - out^2); dbias (C) += dinp summed over batch and space.
///
/// Each channel's sum of an image runs in `LANES` partial sums, a lane
/// for every `LANES`th value, added pairwise at the end, then the values
/// past the last whole `LANES` one by one: an order that every build
/// follows to the bit, and that compilers vectorize. One running sum was
/// a chain of dependent adds, 0.12 ms of a 50-image step's 144,000 of
/// conv1's values in Chromium.
pub fn bias_tanh_backward(dinp: &mut [f32], dbias: &mut [f32], dout: &[f32], out: &[f32], spatial: usize) {
    const LANES: usize = 8;
    assert_eq!(dinp.len(), out.len(), "dinp must be shaped like out");
    assert_eq!(dout.len(), out.len(), "dout must be shaped like out");
    // dinp is set, not added to: no shape may leave any of it stale.
    if out.is_empty() {
        return;
    }
    assert!(
        spatial > 0 && !dbias.is_empty() && out.len().is_multiple_of(dbias.len() * spatial),
        "out must be (B,C,S) with C = dbias.len()"
    );
    let local = |d: &mut f32, g: f32, y: f32| {
        *d = g * (1.0 - y * y);
        *d
    };
    // Channel by channel of each image, (B*C) planes of S in all.
    let (planes, channels) = (dinp.chunks_exact_mut(spatial).zip(dout.chunks_exact(spatial)).zip(out.chunks_exact(spatial)), dbias.len());
    for (i, ((di, g), y)) in planes.enumerate() {
        let mut lanes = [0.0f32; LANES];
        let (mut d8, mut g8, mut y8) = (di.chunks_exact_mut(LANES), g.chunks_exact(LANES), y.chunks_exact(LANES));
        for ((d, g), y) in (&mut d8).zip(&mut g8).zip(&mut y8) {
            for (lane, ((d, &g), &y)) in lanes.iter_mut().zip(d.iter_mut().zip(g).zip(y)) {
                *lane += local(d, g, y);
            }
        }
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            let (low, high) = lanes.split_at_mut(width);
            for (l, h) in low.iter_mut().zip(&*high) {
                *l += h;
            }
        }
        let mut sum = lanes[0];
        for ((d, &g), &y) in d8.into_remainder().iter_mut().zip(g8.remainder()).zip(y8.remainder()) {
            sum += local(d, g, y);
        }
        dbias[i % channels] += sum;
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
