//! WebAssembly SIMD128 twins of `scalar`: same signatures, same contract
//! (`out += ...`). Convolutions are im2col + GEMM; the GEMMs are
//! register-blocked micro-kernels, 4 rows x 8 columns for `matmul` and
//! `matmul_at` (8 accumulators, 2 loads of `b` and 4 broadcasts of `a` per
//! step), 2 rows x 4 dot products for `matmul_bt`.
//! SIMD128 has no fused multiply-add: each step is a mul then an add. The
//! `relaxed-simd` feature builds the same kernels with relaxed SIMD's
//! `f32x4.relaxed_madd` instead (`madd`), for browsers that validate it;
//! the page picks that build at load (see `page::worker_build`).

use core::arch::wasm32::*;

use super::{check_matmul, check_strided, col2im_add, gemm_columns, ConvShape};

/// The kernels' name, for the benchmark's rows.
pub fn name() -> &'static str {
    if cfg!(feature = "relaxed-simd") {
        "relaxed-simd"
    } else {
        "simd128"
    }
}

/// out (M,N) += a (M,K) . b (K,N)
#[track_caller]
pub fn matmul(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    gemm_strided(out, a, k, 1, b, m, k, n);
}

/// out (M,N) += a^T . b, where a is (K,M) and b is (K,N)
#[track_caller]
pub fn matmul_at(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    gemm_strided(out, a, 1, m, b, m, k, n);
}

/// out (M,N) += a (M,K) . b^T, where b is (N,K): dot products of rows,
/// 2 rows of `a` by 4 of `b` at a time (6 loads for 8 multiply-adds).
#[track_caller]
pub fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    let mut i = 0;
    while i < m {
        let r = if i + 2 <= m { 2 } else { 1 };
        let a_rows = &a[i * k..(i + r) * k];
        let mut j = 0;
        while j < n {
            let c = if j + 4 <= n { 4 } else { 1 };
            let b_rows = &b[j * k..(j + c) * k];
            let at = i * n + j;
            match (r, c) {
                (2, 4) => add_block(&mut out[at..], n, dots::<2, 4>(a_rows, b_rows, k)),
                (2, _) => add_block(&mut out[at..], n, dots::<2, 1>(a_rows, b_rows, k)),
                (_, 4) => add_block(&mut out[at..], n, dots::<1, 4>(a_rows, b_rows, k)),
                _ => add_block(&mut out[at..], n, dots::<1, 1>(a_rows, b_rows, k)),
            }
            j += c;
        }
        i += r;
    }
}

/// out[q * n + c] += sums[q][c]: an R x C block of a matrix n wide.
fn add_block<const R: usize, const C: usize>(out: &mut [f32], n: usize, sums: [[f32; C]; R]) {
    for (q, row) in sums.iter().enumerate() {
        for (o, d) in out[q * n..q * n + C].iter_mut().zip(row) {
            *o += d;
        }
    }
}

/// out (B,OC,OH,OW) += inp (B,C,H,W) (*) weight (OC,C,K,K): per image,
/// cols = im2col(image) (C*K*K, OH*OW), then out_b += weight . cols.
#[track_caller]
pub fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), weight.len(), out.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let cols = &mut cols[..ckk * p];
    for b in 0..s.batch {
        im2col(cols, &inp[b * img_len..(b + 1) * img_len], s);
        matmul(&mut out[b * s.out_channels * p..][..s.out_channels * p], weight, cols, s.out_channels, ckk, p);
    }
}

/// dinp (B,C,H,W) += dout (*)^T weight: per image, cols = weight^T . dout_b
/// (C*K*K, OH*OW), folded back with col2im.
#[track_caller]
pub fn conv2d_backward_input(dinp: &mut [f32], dout: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    s.check(dinp.len(), weight.len(), dout.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let cols = &mut cols[..ckk * p];
    for b in 0..s.batch {
        cols.fill(0.0);
        matmul_at(cols, weight, &dout[b * s.out_channels * p..][..s.out_channels * p], ckk, s.out_channels, p);
        col2im_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
    }
}

/// dweight (OC,C*K*K) += sum over images of dout_b (OC,OH*OW) . im2col(image)^T,
/// computed transposed so that the GEMM is the register-blocked `matmul`:
/// dweight^T (C*K*K,OC') += cols (C*K*K,OH*OW) . dout_b^T (OH*OW,OC'), where
/// OC' pads OC to a multiple of 4 with zero columns, so that no column is
/// left to scalar code (conv2's 50 channels are 6 panels of 8 and one of 4).
///
/// Where the output is large and the patch small (conv1: 576 pixels,
/// 25 weights a channel), each weight is instead one long dot product,
/// dweight += dout_b . cols^T by `matmul_bt`: no transposition, and no
/// GEMM of 25 rows with its 1-row leftover.
#[track_caller]
pub fn conv2d_backward_filter(dweight: &mut [f32], dout: &[f32], inp: &[f32], work: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), dweight.len(), dout.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let (oc, ocp) = (s.out_channels, s.padded_out_channels());
    // conv1: 576 pixels against 25 weights; conv2: 64 against 500.
    if p >= 16 * ckk {
        let cols = &mut work[..ckk * p];
        for b in 0..s.batch {
            im2col(cols, &inp[b * img_len..(b + 1) * img_len], s);
            matmul_bt(dweight, &dout[b * oc * p..(b + 1) * oc * p], cols, oc, p, ckk);
        }
        return;
    }
    let (cols, rest) = work[..s.workspace_len()].split_at_mut(ckk * p);
    let (dout_t, rest) = rest.split_at_mut(p * ocp);
    let dweight_t = &mut rest[..ckk * ocp];
    dweight_t.fill(0.0);
    dout_t.fill(0.0);
    for b in 0..s.batch {
        im2col(cols, &inp[b * img_len..(b + 1) * img_len], s);
        let d = &dout[b * oc * p..(b + 1) * oc * p];
        for (o, row) in d.chunks_exact(p).enumerate() {
            for (q, &v) in row.iter().enumerate() {
                dout_t[q * ocp + o] = v;
            }
        }
        matmul(dweight_t, cols, dout_t, ckk, p, ocp);
    }
    for (o, dw_row) in dweight.chunks_exact_mut(ckk).enumerate() {
        for (q, dw) in dw_row.iter_mut().enumerate() {
            *dw += dweight_t[q * ocp + o];
        }
    }
}

/// `super::im2col` with the rows copied four floats at a time: a row is
/// only OW = 24 or 8 floats, and `copy_from_slice` would make each one a
/// `memory.copy`, which costs a call into the engine.
fn im2col(cols: &mut [f32], img: &[f32], s: &ConvShape) {
    let (k, w, oh, ow) = (s.kernel, s.width, s.out_height(), s.out_width());
    let plane = s.height * w;
    assert!(cols.len() >= s.cols_len() && img.len() >= s.in_channels * plane);
    let mut dst = 0;
    for c in 0..s.in_channels {
        for ky in 0..k {
            for kx in 0..k {
                for oy in 0..oh {
                    let src = c * plane + (oy + ky) * w + kx;
                    copy_row(&mut cols[dst..dst + ow], &img[src..src + ow]);
                    dst += ow;
                }
            }
        }
    }
}

#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len());
    let mut i = 0;
    while i + 4 <= dst.len() {
        // SAFETY: i + 4 <= len of both; v128_load/store allow unaligned addresses.
        unsafe { v128_store(dst.as_mut_ptr().add(i) as *mut v128, v128_load(src.as_ptr().add(i) as *const v128)) }
        i += 4;
    }
    for (d, s) in dst[i..].iter_mut().zip(&src[i..]) {
        *d = *s;
    }
}

/// out (M,N) += A . b (K,N) where A[i][p] = a[i*row_stride + p*k_stride]:
/// `matmul` (row_stride K, k_stride 1) and `matmul_at` (1, M) share it.
/// The caller has checked out = M*N, a = M*K, b = K*N.
///
/// Column panels outside, row blocks inside: a panel of `b` (K x 8, 16 KB
/// for conv2's K = 500) stays in the L1 cache while every row block of
/// `a` passes over it.
#[allow(clippy::too_many_arguments, reason = "a GEMM's three operands, its shape and A's two strides: grouping them would only hide them")]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
fn gemm_strided(out: &mut [f32], a: &[f32], row_stride: usize, k_stride: usize, b: &[f32], m: usize, k: usize, n: usize) {
    check_strided(out, a, row_stride, k_stride, b, m, k, n);
    let mut g = Gemm { out, a, row_stride, k_stride, b, k, n };
    let mut j = 0;
    while j + 8 <= n {
        g.panel::<2>(m, j);
        j += 8;
    }
    if j + 4 <= n {
        g.panel::<1>(m, j);
        j += 4;
    }
    // leftovers
    gemm_columns(g.out, a, row_stride, k_stride, b, m, k, n, j..n);
}

/// The operands of `gemm_strided`, checked by it.
struct Gemm<'a> {
    out: &'a mut [f32],
    a: &'a [f32],
    row_stride: usize,
    k_stride: usize,
    b: &'a [f32],
    k: usize,
    n: usize,
}

impl Gemm<'_> {
    /// Columns j0..j0+4V of every row, 4 rows at a time.
    #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
    #[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
    fn panel<const V: usize>(&mut self, m: usize, j0: usize) {
        let mut i = 0;
        while i + 4 <= m {
            self.tile::<4, V>(i, j0);
            i += 4;
        }
        match m - i {
            3 => self.tile::<3, V>(i, j0),
            2 => self.tile::<2, V>(i, j0),
            1 => self.tile::<1, V>(i, j0),
            _ => {}
        }
    }

    /// out[i0..i0+R][j0..j0+4V] += A[i0..i0+R][..] . b[..][j0..j0+4V], in
    /// R x V accumulators: per step of k, V loads of `b`, R broadcasts of `a`.
    #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
    #[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
    fn tile<const R: usize, const V: usize>(&mut self, i0: usize, j0: usize) {
        let (k, n) = (self.k, self.n);
        let mut acc = [[f32x4_splat(0.0); V]; R];
        for p in 0..k {
            let mut bv = [f32x4_splat(0.0); V];
            for (v, b) in bv.iter_mut().enumerate() {
                // SAFETY: p*n + j0 + 4V <= k*n <= b.len() (checked by gemm_strided).
                *b = unsafe { v128_load(self.b.as_ptr().add(p * n + j0 + 4 * v) as *const v128) };
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // SAFETY: i0 + r < m and p < k, so the index is at most
                // (m-1)*row_stride + (k-1)*k_stride < a.len() (checked).
                // One load-and-broadcast instruction, not a load and a splat.
                let av = unsafe { v128_load32_splat(self.a.as_ptr().add((i0 + r) * self.row_stride + p * self.k_stride) as *const u32) };
                for (acc_rv, b) in acc_r.iter_mut().zip(&bv) {
                    *acc_rv = madd(av, *b, *acc_rv);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, acc_rv) in acc_r.iter().enumerate() {
                // SAFETY: (i0+r)*n + j0 + 4v + 4 <= m*n <= out.len() (checked).
                unsafe {
                    let ptr = self.out.as_mut_ptr().add((i0 + r) * n + j0 + 4 * v) as *mut v128;
                    v128_store(ptr, f32x4_add(v128_load(ptr), *acc_rv));
                }
            }
        }
    }
}

/// `scalar::maxpool2x2`, four windows at a time when rows are a multiple
/// of 8 wide (LeNet-5's 24 and 8): the same comparisons in the same order,
/// so the same maxima and the same winners on ties.
pub fn maxpool2x2(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize) {
    if !w.is_multiple_of(8) {
        return super::scalar::maxpool2x2(out, argmax, inp, planes, h, w);
    }
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(inp.len(), planes * h * w, "inp must be (N,H,W)");
    assert_eq!(out.len(), planes * oh * ow, "out must be (N,H/2,W/2)");
    assert_eq!(argmax.len(), out.len(), "argmax must be shaped like out");
    let even = |x: v128, y: v128| i8x16_shuffle::<0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27>(x, y);
    let odd = |x: v128, y: v128| i8x16_shuffle::<4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31>(x, y);
    let load = |at: usize| -> (v128, v128) {
        // SAFETY: callers pass at + 8 <= inp.len() (a row of the plane).
        unsafe { (v128_load(inp.as_ptr().add(at) as *const v128), v128_load(inp.as_ptr().add(at + 4) as *const v128)) }
    };
    for n in 0..planes {
        for oy in 0..oh {
            for ox in (0..ow).step_by(4) {
                let top = n * h * w + 2 * oy * w + 2 * ox;
                let ((t0, t1), (b0, b1)) = (load(top), load(top + w));
                let (mut best, mut idx) = (even(t0, t1), i32x4_splat(0));
                for (q, v) in [(1, odd(t0, t1)), (2, even(b0, b1)), (3, odd(b0, b1))] {
                    let wins = f32x4_gt(v, best);
                    best = v128_bitselect(v, best, wins);
                    idx = v128_bitselect(i32x4_splat(q), idx, wins);
                }
                let o = (n * oh + oy) * ow + ox;
                let bytes = u8x16_narrow_i16x8(i16x8_narrow_i32x4(idx, idx), idx);
                assert!(o + 4 <= out.len());
                // SAFETY: o + 4 <= out.len() = argmax.len() (asserted); unaligned stores are allowed.
                unsafe {
                    v128_store(out.as_mut_ptr().add(o) as *mut v128, best);
                    v128_store32_lane::<0>(bytes, argmax.as_mut_ptr().add(o) as *mut u32);
                }
            }
        }
    }
}

/// x = tanh(x), four at a time, by the rational approximation Eigen and
/// XLA use for f32 (odd degree-13 over even degree-6 polynomial, input
/// clamped to +-7.905, where it reaches 1): within 4e-7 of the true tanh
/// everywhere, against about 20 ns a call for the scalar libm tanh.
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub fn tanh_inplace(x: &mut [f32]) {
    const CLAMP: f32 = 7.905_311;
    const ALPHA: [f32; 7] = [4.893_524_6e-3, 6.372_619_3e-4, 1.485_722_4e-5, 5.122_297e-8, -8.604_672e-11, 2.000_188e-13, -2.760_768_5e-16];
    const BETA: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347e-4, 1.198_258_4e-6];
    let tanh4 = |x: v128| -> v128 {
        let v = f32x4_pmin(f32x4_pmax(x, f32x4_splat(-CLAMP)), f32x4_splat(CLAMP));
        let v2 = f32x4_mul(v, v);
        let mut p = f32x4_splat(ALPHA[6]);
        for &a in ALPHA[..6].iter().rev() {
            p = madd(p, v2, f32x4_splat(a));
        }
        let mut q = f32x4_splat(BETA[3]);
        for &b in BETA[..3].iter().rev() {
            q = madd(q, v2, f32x4_splat(b));
        }
        // A NaN stays NaN, so that a diverging run is seen: pmin and pmax
        // keep it, but with relaxed SIMD the compiler may make them
        // relaxed min and max, whose NaN lanes are the engine's choice.
        v128_bitselect(x, f32x4_div(f32x4_mul(p, v), q), f32x4_ne(x, x))
    };
    let mut chunks = x.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: `c` holds 4 f32s; v128_load/store allow unaligned addresses.
        unsafe { v128_store(c.as_mut_ptr() as *mut v128, tanh4(v128_load(c.as_ptr() as *const v128))) }
    }
    // leftovers, through a padded lane
    for v in chunks.into_remainder() {
        *v = f32x4_extract_lane::<0>(tanh4(f32x4_splat(*v)));
    }
}

/// a * b + c: one fused (or not: the engine chooses) relaxed multiply-add
/// in the relaxed-SIMD build, a multiply and an add in SIMD128's.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
pub(crate) fn madd(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(feature = "relaxed-simd")]
    return f32x4_relaxed_madd(a, b, c);
    #[cfg(not(feature = "relaxed-simd"))]
    return f32x4_add(f32x4_mul(a, b), c);
}

/// The R x C dot products of the R rows of `a` (R,K) with the C rows of
/// `b` (C,K), in R x C accumulators: per 4 of K, R + C loads and R x C
/// multiply-adds.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
fn dots<const R: usize, const C: usize>(a: &[f32], b: &[f32], k: usize) -> [[f32; C]; R] {
    assert!(a.len() == R * k && b.len() == C * k);
    let mut acc = [[f32x4_splat(0.0); C]; R];
    let mut p = 0;
    while p + 4 <= k {
        let mut bv = [f32x4_splat(0.0); C];
        for (c, v) in bv.iter_mut().enumerate() {
            // SAFETY: c*k + p + 4 <= C*k = b.len() (asserted).
            *v = unsafe { v128_load(b.as_ptr().add(c * k + p) as *const v128) };
        }
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // SAFETY: r*k + p + 4 <= R*k = a.len() (asserted).
            let av = unsafe { v128_load(a.as_ptr().add(r * k + p) as *const v128) };
            for (acc_rc, v) in acc_r.iter_mut().zip(&bv) {
                *acc_rc = madd(av, *v, *acc_rc);
            }
        }
        p += 4;
    }
    let mut sums = [[0.0f32; C]; R];
    for (r, sums_r) in sums.iter_mut().enumerate() {
        for (c, sum) in sums_r.iter_mut().enumerate() {
            let v = acc[r][c];
            *sum = (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v)) + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v));
            // leftovers
            for q in p..k {
                *sum += a[r * k + q] * b[c * k + q];
            }
        }
    }
    sums
}
