//! The plain reference kernels: loops anyone can check by eye, used
//! natively and as the oracle for `simd128`.
//! Loop orders keep the innermost loop contiguous so compilers vectorise it.

use super::{backward_pooled_dense, check_matmul, check_pool, ConvShape, PooledBackward};

/// The kernels' name, for the benchmark's rows.
pub fn name() -> &'static str {
    "scalar"
}

/// out (M,N) += a (M,K) . b (K,N)
#[track_caller]
pub fn matmul(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    for i in 0..m {
        let out_row = &mut out[i * n..(i + 1) * n];
        for p in 0..k {
            let a_ip = a[i * k + p];
            for (o, &b_pj) in out_row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *o += a_ip * b_pj;
            }
        }
    }
}

/// out (M,N) += a (M,K) . b^T, where b is (N,K)
#[track_caller]
pub fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    for i in 0..m {
        let a_row = &a[i * k..(i + 1) * k];
        for j in 0..n {
            let b_row = &b[j * k..(j + 1) * k];
            let dot: f32 = a_row.iter().zip(b_row).map(|(x, y)| x * y).sum();
            out[i * n + j] += dot;
        }
    }
}

/// out (M,N) += a^T . b, where a is (K,M) and b is (K,N)
#[track_caller]
pub fn matmul_at(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    for p in 0..k {
        let b_row = &b[p * n..(p + 1) * n];
        for i in 0..m {
            let a_pi = a[p * m + i];
            for (o, &b_pj) in out[i * n..(i + 1) * n].iter_mut().zip(b_row) {
                *o += a_pi * b_pj;
            }
        }
    }
}

/// out (B,OC,OH,OW) = inp (B,C,H,W) (*) weight (OC,C,K,K), as direct loops.
/// `cols` is the workspace (`ConvShape::workspace_len`) of the fast kernels;
/// the reference ignores it.
#[track_caller]
pub fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], _cols: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), weight.len(), out.len());
    let (c, k, h, w, oh, ow) = (s.in_channels, s.kernel, s.height, s.width, s.out_height(), s.out_width());
    for b in 0..s.batch {
        for oc in 0..s.out_channels {
            let o = &mut out[(b * s.out_channels + oc) * oh * ow..][..oh * ow];
            o.fill(0.0);
            for ic in 0..c {
                let img = &inp[(b * c + ic) * h * w..][..h * w];
                for ky in 0..k {
                    for kx in 0..k {
                        let wv = weight[((oc * c + ic) * k + ky) * k + kx];
                        for oy in 0..oh {
                            let src = &img[(oy + ky) * w + kx..][..ow];
                            for (dst, &x) in o[oy * ow..(oy + 1) * ow].iter_mut().zip(src) {
                                *dst += wv * x;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dinp (B,C,H,W) += dout (B,OC,OH,OW) (*)^T weight (OC,C,K,K)
#[track_caller]
pub fn conv2d_backward_input(dinp: &mut [f32], dout: &[f32], weight: &[f32], _cols: &mut [f32], s: &ConvShape) {
    s.check(dinp.len(), weight.len(), dout.len());
    let (c, k, h, w, oh, ow) = (s.in_channels, s.kernel, s.height, s.width, s.out_height(), s.out_width());
    for b in 0..s.batch {
        for oc in 0..s.out_channels {
            let d = &dout[(b * s.out_channels + oc) * oh * ow..][..oh * ow];
            for ic in 0..c {
                let dimg = &mut dinp[(b * c + ic) * h * w..][..h * w];
                for ky in 0..k {
                    for kx in 0..k {
                        let wv = weight[((oc * c + ic) * k + ky) * k + kx];
                        for oy in 0..oh {
                            let dst = &mut dimg[(oy + ky) * w + kx..][..ow];
                            for (x, &g) in dst.iter_mut().zip(&d[oy * ow..(oy + 1) * ow]) {
                                *x += wv * g;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dweight (OC,C,K,K) += sum over the batch of dout (B,OC,OH,OW) x inp (B,C,H,W)
#[track_caller]
pub fn conv2d_backward_filter(dweight: &mut [f32], dout: &[f32], inp: &[f32], _cols: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), dweight.len(), dout.len());
    let (c, k, h, w, oh, ow) = (s.in_channels, s.kernel, s.height, s.width, s.out_height(), s.out_width());
    for b in 0..s.batch {
        for oc in 0..s.out_channels {
            let d = &dout[(b * s.out_channels + oc) * oh * ow..][..oh * ow];
            for ic in 0..c {
                let img = &inp[(b * c + ic) * h * w..][..h * w];
                for ky in 0..k {
                    for kx in 0..k {
                        let mut acc = 0.0f32;
                        for oy in 0..oh {
                            let src = &img[(oy + ky) * w + kx..][..ow];
                            acc += src.iter().zip(&d[oy * ow..(oy + 1) * ow]).map(|(x, g)| x * g).sum::<f32>();
                        }
                        dweight[((oc * c + ic) * k + ky) * k + kx] += acc;
                    }
                }
            }
        }
    }
}

/// The backward pass of a convolution followed by 2x2 max-pooling, from
/// the pooling's output gradient: dweight += dL/dweight and, when asked
/// for, dinp += dL/dinp through `weight` (the pair in `dinp`), by the dense
/// kernels on the convolution's output gradient, the pooled one routed to
/// its winners (`backward_pooled_dense`).
#[track_caller]
pub fn conv2d_backward_pooled(op: PooledBackward) {
    backward_pooled_dense(op, [conv2d_backward_filter, conv2d_backward_input]);
}

/// x = tanh(x), element-wise, with the standard library's tanh.
pub fn tanh_inplace(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.tanh());
}

/// out (N,H/2,W/2) = max over each 2x2 window of inp (N,H,W); `argmax`
/// records which of the four won (0..4, row-major), the first on ties.
pub fn maxpool2x2(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize) {
    let (oh, ow) = check_pool(out, argmax, inp, planes, h, w);
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
