//! x86-64 AVX2 + FMA twins of `scalar`: same signatures, same contract
//! (`out += ...`), as `simd128` is for the browser. Convolutions are
//! im2col + GEMM; the GEMMs are one register-blocked micro-kernel, up to
//! 6 rows x 16 columns (12 accumulators, 2 loads of `b` and 6 broadcasts
//! of `a` per step, of the 16 ymm registers). Every multiply-add is
//! fused, so results round differently from `scalar`'s (tests compare
//! with a tolerance).
//!
//! Every function here is `unsafe`: its one precondition is that the CPU
//! has AVX2 and FMA (`native` checks that once, at run time). Bounds are
//! checked as in the other twins.

use core::arch::x86_64::*;

use super::tanh::{horner, ALPHA, BETA, CLAMP};
use super::{check_matmul, check_pool, check_strided, for_each_patch_row, gemm_columns, ConvShape};

/// A conv's transposed filter gradient's columns are padded to whole vectors.
const LANES: usize = 8;
/// Output planes at least this large (OH*OW, conv1's 576) take the filter
/// gradient as `matmul_bt` over the plane, smaller ones (conv2's 64) as
/// the transposed blocked GEMM.
const LONG_ROWS: usize = 256;
/// `matmul_bt`'s `a` from this many rows on takes the transposed GEMM.
const WIDE_ROWS: usize = 32;

/// out (M,N) += a (M,K) . b (K,N)
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[track_caller]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    gemm_strided(out, a, k, 1, b, m, k, n);
}

/// out (M,N) += a^T . b, where a is (K,M) and b is (K,N)
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[track_caller]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul_at(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    gemm_strided(out, a, 1, m, b, m, k, n);
}

/// out (M,N) += a (M,K) . b^T, where b is (N,K), as the blocked GEMM of
/// the transposed product, out^T (N,M) = b . a^T, in buffers kept from
/// call to call: for the hidden layer's input gradient (M = 50, K = 500,
/// N = 800), 65,000 values moved for 20 million multiply-adds in the
/// GEMM's tiles, 0.48 ms a chunk against 0.73 as dot products (AVX-512,
/// AMD EPYC). An `a` of fewer than `WIDE_ROWS` rows takes the dots, and
/// so does every `a` without AVX-512: AVX2's GEMM leaves the columns past
/// its 16-wide panels to scalar code (50 = 3 x 16 + 2), 1.11 ms against 0.72.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[track_caller]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    if m < WIDE_ROWS || super::cpu::level() != super::cpu::Level::Avx512 {
        return dots_bt(out, a, b, m, k, n);
    }
    std::thread_local! {
        static TRANSPOSED: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    TRANSPOSED.with_borrow_mut(|(a_t, out_t)| {
        a_t.resize(a_t.len().max(k * m), 0.0);
        out_t.resize(out_t.len().max(n * m), 0.0);
        let (a_t, out_t) = (&mut a_t[..k * m], &mut out_t[..n * m]);
        for (i, row) in a.chunks_exact(k.max(1)).take(m).enumerate() {
            for (p, &v) in row.iter().enumerate() {
                a_t[p * m + i] = v;
            }
        }
        out_t.fill(0.0);
        gemm_strided(out_t, b, k, 1, a_t, n, k, m);
        for (j, row) in out_t.chunks_exact(m.max(1)).take(n).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                out[i * n + j] += v;
            }
        }
    });
}

/// `matmul_bt` as dot products of rows, in tiles of 2 rows of `a` by 4
/// rows of `b` (6 loads for 8 multiply-adds).
#[target_feature(enable = "avx2,fma")]
fn dots_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    let mut i = 0;
    while i < m {
        let rows = if i + 2 <= m { 2 } else { 1 };
        let mut j = 0;
        while j < n {
            let cols = if j + 4 <= n { 4 } else { 1 };
            match (rows, cols) {
                (2, 4) => dot_tile::<2, 4>(out, a, b, i, j, k, n),
                (2, _) => dot_tile::<2, 1>(out, a, b, i, j, k, n),
                (_, 4) => dot_tile::<1, 4>(out, a, b, i, j, k, n),
                _ => dot_tile::<1, 1>(out, a, b, i, j, k, n),
            }
            j += cols;
        }
        i += rows;
    }
}

/// out[i0+r][j0+c] += a[i0+r] . b[j0+c] for r < R, c < C (rows of length K).
#[inline]
#[allow(clippy::too_many_arguments, reason = "the operands, the tile's corner and the shape")]
#[target_feature(enable = "avx2,fma")]
fn dot_tile<const R: usize, const C: usize>(out: &mut [f32], a: &[f32], b: &[f32], i0: usize, j0: usize, k: usize, n: usize) {
    assert!((i0 + R) * k <= a.len() && (j0 + C) * k <= b.len() && (i0 + R - 1) * n + j0 + C <= out.len());
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    let mut p = 0;
    while p + 8 <= k {
        let mut bv = [_mm256_setzero_ps(); C];
        for (c, v) in bv.iter_mut().enumerate() {
            // SAFETY: (j0+c)*k + p + 8 <= (j0+C)*k <= b.len() (asserted).
            *v = unsafe { _mm256_loadu_ps(b.as_ptr().add((j0 + c) * k + p)) };
        }
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // SAFETY: (i0+r)*k + p + 8 <= (i0+R)*k <= a.len() (asserted).
            let av = unsafe { _mm256_loadu_ps(a.as_ptr().add((i0 + r) * k + p)) };
            for (acc_rc, v) in acc_r.iter_mut().zip(&bv) {
                *acc_rc = _mm256_fmadd_ps(av, *v, *acc_rc);
            }
        }
        p += 8;
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (c, acc_rc) in acc_r.iter().enumerate() {
            let mut sum = horizontal_sum(*acc_rc);
            // leftovers
            for q in p..k {
                sum += a[(i0 + r) * k + q] * b[(j0 + c) * k + q];
            }
            out[(i0 + r) * n + j0 + c] += sum;
        }
    }
}

/// The sum of a vector's eight lanes, in a fixed order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn horizontal_sum(v: __m256) -> f32 {
    let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
    _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps::<0b01>(pairs, pairs)))
}

/// out (B,OC,OH,OW) = inp (B,C,H,W) (*) weight (OC,C,K,K): per image,
/// cols = im2col(image) (C*K*K, OH*OW), then out_b = weight . cols (the
/// GEMM adds, to out_b zeroed just before: an image's output is in cache).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[track_caller]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), weight.len(), out.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let cols = &mut cols[..ckk * p];
    for b in 0..s.batch {
        im2col(cols, &inp[b * img_len..(b + 1) * img_len], s);
        let out_b = &mut out[b * s.out_channels * p..][..s.out_channels * p];
        out_b.fill(0.0);
        gemm_strided(out_b, weight, ckk, 1, cols, s.out_channels, ckk, p);
    }
}

/// dinp (B,C,H,W) += dout (*)^T weight: per image, cols = weight^T . dout_b
/// (C*K*K, OH*OW), folded back with col2im.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[track_caller]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn conv2d_backward_input(dinp: &mut [f32], dout: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    s.check(dinp.len(), weight.len(), dout.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let (oc, cols) = (s.out_channels, &mut cols[..ckk * p]);
    for b in 0..s.batch {
        cols.fill(0.0);
        gemm_strided(cols, weight, 1, ckk, &dout[b * oc * p..][..oc * p], ckk, oc, p);
        col2im_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
    }
}

/// dweight (OC,C*K*K) += sum over images of dout_b (OC,OH*OW) . im2col(image)^T,
/// computed transposed so that the GEMM is the register-blocked one:
/// dweight^T (C*K*K,OC') += cols (C*K*K,OH*OW) . dout_b^T (OH*OW,OC'),
/// where OC' pads OC with zero columns to whole vectors of 8.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[track_caller]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn conv2d_backward_filter(dweight: &mut [f32], dout: &[f32], inp: &[f32], work: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), dweight.len(), dout.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let oc = s.out_channels;
    if p >= LONG_ROWS {
        let cols = &mut work[..ckk * p];
        for b in 0..s.batch {
            im2col(cols, &inp[b * img_len..(b + 1) * img_len], s);
            // SAFETY: this function's own precondition, AVX2 and FMA, is matmul_bt's.
            unsafe { matmul_bt(dweight, &dout[b * oc * p..(b + 1) * oc * p], cols, oc, p, ckk) };
        }
        return;
    }
    let ocp = s.padded_out_channels_to(LANES);
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
        gemm_strided(dweight_t, cols, p, 1, dout_t, ckk, p, ocp);
    }
    for (o, dw_row) in dweight.chunks_exact_mut(ckk).enumerate() {
        for (q, dw) in dw_row.iter_mut().enumerate() {
            *dw += dweight_t[q * ocp + o];
        }
    }
}

/// `super::im2col` with the rows copied by vectors: a row is only OW = 24
/// or 8 floats, and `copy_from_slice` would make each one a call to
/// `memcpy` (hundreds of thousands a chunk).
#[target_feature(enable = "avx2,fma")]
fn im2col(cols: &mut [f32], img: &[f32], s: &ConvShape) {
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| {
        let (dst, src) = (&mut cols[at_cols..at_cols + ow], &img[at_img..at_img + ow]);
        let mut i = 0;
        while i + 8 <= ow {
            // SAFETY: i + 8 <= ow = dst.len() = src.len(); unaligned loads and stores.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_loadu_ps(src.as_ptr().add(i))) };
            i += 8;
        }
        // leftovers (none for LeNet-5's rows), element by element: no memcpy call
        for (d, v) in dst[i..].iter_mut().zip(&src[i..]) {
            *d = *v;
        }
    });
}

/// `super::col2im_add` with the rows added by vectors, as `im2col` copies them.
#[target_feature(enable = "avx2,fma")]
fn col2im_add(dimg: &mut [f32], cols: &[f32], s: &ConvShape) {
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| {
        let (dst, src) = (&mut dimg[at_img..at_img + ow], &cols[at_cols..at_cols + ow]);
        let mut i = 0;
        while i + 8 <= ow {
            // SAFETY: i + 8 <= ow = dst.len() = src.len(); unaligned loads and stores.
            unsafe {
                let sum = _mm256_add_ps(_mm256_loadu_ps(dst.as_ptr().add(i)), _mm256_loadu_ps(src.as_ptr().add(i)));
                _mm256_storeu_ps(dst.as_mut_ptr().add(i), sum);
            }
            i += 8;
        }
        for (d, v) in dst[i..].iter_mut().zip(&src[i..]) {
            *d += v;
        }
    });
}

/// out (M,N) += A . b (K,N) where A[i][p] = a[i*row_stride + p*k_stride]:
/// `matmul` (row_stride K, k_stride 1) and `matmul_at` (1, M) share it.
///
/// Column panels outside, row blocks inside: a panel of `b` (K x 16, 32 KB
/// for conv2's K = 500) stays in the L1 and L2 caches while every row block
/// of `a` passes over it. Where the CPU has AVX-512, `avx512`'s twice as
/// wide GEMM does the work.
#[allow(clippy::too_many_arguments, reason = "a GEMM's three operands, its shape and A's two strides: grouping them would only hide them")]
#[target_feature(enable = "avx2,fma")]
fn gemm_strided(out: &mut [f32], a: &[f32], row_stride: usize, k_stride: usize, b: &[f32], m: usize, k: usize, n: usize) {
    if super::cpu::level() == super::cpu::Level::Avx512 {
        // SAFETY: that level is chosen only where the CPU has AVX-512F and VL (and AVX2 and FMA).
        return unsafe { super::avx512::gemm_strided(out, a, row_stride, k_stride, b, m, k, n) };
    }
    check_strided(out, a, row_stride, k_stride, b, m, k, n);
    let mut g = Gemm { out, a, row_stride, k_stride, b, k, n };
    let mut j = 0;
    while j + 16 <= n {
        g.panel::<2>(m, j);
        j += 16;
    }
    if j + 8 <= n {
        g.panel::<1>(m, j);
        j += 8;
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
    /// Columns j0..j0+8V of every row, 6 rows at a time.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn panel<const V: usize>(&mut self, m: usize, j0: usize) {
        let mut i = 0;
        while i + 6 <= m {
            self.tile::<6, V>(i, j0);
            i += 6;
        }
        match m - i {
            5 => self.tile::<5, V>(i, j0),
            4 => self.tile::<4, V>(i, j0),
            3 => self.tile::<3, V>(i, j0),
            2 => self.tile::<2, V>(i, j0),
            1 => self.tile::<1, V>(i, j0),
            _ => {}
        }
    }

    /// out[i0..i0+R][j0..j0+8V] += A[i0..i0+R][..] . b[..][j0..j0+8V], in
    /// R x V accumulators: per step of k, V loads of `b`, R broadcasts of `a`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn tile<const R: usize, const V: usize>(&mut self, i0: usize, j0: usize) {
        let (k, n) = (self.k, self.n);
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for p in 0..k {
            let mut bv = [_mm256_setzero_ps(); V];
            for (v, b) in bv.iter_mut().enumerate() {
                // SAFETY: p*n + j0 + 8V <= k*n <= b.len() (checked by gemm_strided).
                *b = unsafe { _mm256_loadu_ps(self.b.as_ptr().add(p * n + j0 + 8 * v)) };
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // SAFETY: i0 + r < m and p < k, so the index is at most
                // (m-1)*row_stride + (k-1)*k_stride < a.len() (checked).
                let av = unsafe { _mm256_broadcast_ss(&*self.a.as_ptr().add((i0 + r) * self.row_stride + p * self.k_stride)) };
                for (acc_rv, b) in acc_r.iter_mut().zip(&bv) {
                    *acc_rv = _mm256_fmadd_ps(av, *b, *acc_rv);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, acc_rv) in acc_r.iter().enumerate() {
                // SAFETY: (i0+r)*n + j0 + 8v + 8 <= m*n <= out.len() (checked).
                unsafe {
                    let ptr = self.out.as_mut_ptr().add((i0 + r) * n + j0 + 8 * v);
                    _mm256_storeu_ps(ptr, _mm256_add_ps(_mm256_loadu_ps(ptr), *acc_rv));
                }
            }
        }
    }
}

/// `scalar::maxpool2x2`, four windows at a time when rows are a multiple
/// of 8 wide (LeNet-5's 24 and 8): the same comparisons in the same order,
/// so the same maxima and the same winners on ties.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn maxpool2x2(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize) {
    if !w.is_multiple_of(8) {
        return super::scalar::maxpool2x2(out, argmax, inp, planes, h, w);
    }
    let (oh, ow) = check_pool(out, argmax, inp, planes, h, w);
    for n in 0..planes {
        for oy in 0..oh {
            for ox in (0..ow).step_by(4) {
                let top = n * h * w + 2 * oy * w + 2 * ox;
                assert!(top + w + 8 <= inp.len());
                // SAFETY: top + w + 8 <= inp.len() (asserted): two rows of 8.
                let (t0, t1, b0, b1) = unsafe {
                    let at = |i: usize| _mm_loadu_ps(inp.as_ptr().add(i));
                    (at(top), at(top + 4), at(top + w), at(top + w + 4))
                };
                let even = |x: __m128, y: __m128| _mm_shuffle_ps::<0b10_00_10_00>(x, y);
                let odd = |x: __m128, y: __m128| _mm_shuffle_ps::<0b11_01_11_01>(x, y);
                let (mut best, mut idx) = (even(t0, t1), _mm_setzero_si128());
                for (q, v) in [(1, odd(t0, t1)), (2, even(b0, b1)), (3, odd(b0, b1))] {
                    let wins = _mm_cmpgt_ps(v, best);
                    best = _mm_blendv_ps(best, v, wins);
                    idx = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(idx), _mm_castsi128_ps(_mm_set1_epi32(q)), wins));
                }
                let o = (n * oh + oy) * ow + ox;
                let bytes = _mm_packus_epi16(_mm_packs_epi32(idx, idx), idx);
                assert!(o + 4 <= out.len());
                // SAFETY: o + 4 <= out.len() = argmax.len() (asserted); unaligned stores.
                unsafe {
                    _mm_storeu_ps(out.as_mut_ptr().add(o), best);
                    argmax.as_mut_ptr().add(o).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(bytes));
                }
            }
        }
    }
}

/// x = tanh(x), eight at a time, by the rational approximation of `tanh`
/// (the module), as `simd128::tanh_inplace`.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tanh_inplace(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` holds 8 f32s; loadu/storeu allow unaligned addresses.
        unsafe { _mm256_storeu_ps(c.as_mut_ptr(), tanh8(_mm256_loadu_ps(c.as_ptr()))) }
    }
    // leftovers, through a padded vector
    let rest = chunks.into_remainder();
    let mut padded = [0.0f32; 8];
    padded[..rest.len()].copy_from_slice(rest);
    // SAFETY: `padded` holds 8 f32s.
    unsafe { _mm256_storeu_ps(padded.as_mut_ptr(), tanh8(_mm256_loadu_ps(padded.as_ptr()))) };
    let n = rest.len();
    rest.copy_from_slice(&padded[..n]);
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn tanh8(x: __m256) -> __m256 {
    // max and min return their second operand when either is NaN: `x`
    // goes second, so that a NaN stays NaN and a diverging run is seen.
    let v = _mm256_min_ps(_mm256_set1_ps(CLAMP), _mm256_max_ps(_mm256_set1_ps(-CLAMP), x));
    let v2 = _mm256_mul_ps(v, v);
    let p = horner(&ALPHA, |p, c| _mm256_fmadd_ps(p, v2, c), |c| _mm256_set1_ps(c));
    let q = horner(&BETA, |q, c| _mm256_fmadd_ps(q, v2, c), |c| _mm256_set1_ps(c));
    _mm256_div_ps(_mm256_mul_ps(p, v), q)
}
