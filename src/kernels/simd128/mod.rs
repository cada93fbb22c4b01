//! WebAssembly SIMD128 twins of `scalar`: same signatures, same contract
//! (`out += ...`). Convolutions are im2col + GEMM; the GEMMs are
//! register-blocked micro-kernels, 5 rows x 8 columns for `matmul` and
//! `matmul_at` (10 accumulators, 2 loads of `b` and 5 broadcasts of `a`
//! per step, both operands read in order from one pointer each; see
//! `Gemm`), and for `matmul_bt` too where `a` is tall enough (its B
//! copied out transposed a panel at a time), else 2 rows x 4 dot products.
//! SIMD128 has no fused multiply-add: each step is a mul then an add. The
//! `relaxed-simd` feature builds the same kernels with relaxed SIMD's
//! `f32x4.relaxed_madd` instead (`madd`), for browsers that validate it;
//! the page picks that build at load (see `page::link::worker_build`).

mod gemm;
mod pooled;
mod unfold;

use core::arch::wasm32::*;

use self::gemm::{gemm, pack_rows, packed_len, BOperand, Operand, Patches, MR, PANEL};
pub use self::pooled::conv2d_backward_pooled;
use self::unfold::{col2im_add, im2col, im2col_t};
use super::tanh::{horner, ALPHA, BETA, CLAMP};
use super::{check_matmul, check_pool, ConvShape, Out};

/// The kernels' name, for the benchmark's rows.
pub fn name() -> &'static str {
    if cfg!(feature = "relaxed-simd") {
        "relaxed-simd"
    } else {
        "simd128"
    }
}

std::thread_local! {
    /// `matmul`'s and `matmul_bt`'s packed `a`.
    static PACKED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `matmul_bt`'s `a` from this many rows on takes the GEMM's tiles.
const WIDE_BT: usize = 2 * MR;

/// out (M,N) += a (M,K) . b (K,N), with `a` first packed into row groups
/// (`pack_rows`) in a buffer kept from call to call, so that a training
/// step allocates nothing after its first.
#[track_caller]
pub fn matmul(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    PACKED.with_borrow_mut(|packed| {
        packed.resize(packed.len().max(packed_len(m, k)), 0.0);
        let a = pack_rows(packed, a, k, 1, m, k);
        gemm(out, a, BOperand::rows(b, n), m, k, n, Out::Add);
    });
}

/// out (M,N) += a^T . b, where a is (K,M) and b is (K,N): A's row groups
/// are already side by side in `a`, so nothing is packed.
#[track_caller]
pub fn matmul_at(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    gemm(out, Operand::rows(a, m), BOperand::rows(b, n), m, k, n, Out::Add);
}

/// out (M,N) += a (M,K) . b^T, where b is (N,K). From `WIDE_BT` rows of
/// `a` on, and N a multiple of 4, `a` is packed as `matmul` packs it and
/// B's panels are copied out of b's rows transposed
/// (`BOperand::Transposed`), so that the product runs in the GEMM's
/// tiles: the hidden layer's input gradient (M = 50, K = 500, N = 800)
/// took 2.06 ms a chunk as dot products in Firefox's SIMD128 build and
/// 0.98 this way (0.87 and 0.80 with relaxed SIMD). Otherwise, dot
/// products of rows, 2 rows of `a` by 4 of `b` at a time (6 loads for 8
/// multiply-adds): the GEMM leaves columns past a multiple of 4 to scalar
/// sums, which for conv1's dense filter gradient (N = 25, K = 576) made
/// it 1.5 ms against 0.8.
#[track_caller]
pub fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    if m >= WIDE_BT && n.is_multiple_of(4) {
        return PACKED.with_borrow_mut(|packed| {
            packed.resize(packed.len().max(packed_len(m, k)), 0.0);
            let a = pack_rows(packed, a, k, 1, m, k);
            gemm(out, a, BOperand::Transposed { data: b, k }, m, k, n, Out::Add);
        });
    }
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

/// out (B,OC,OH,OW) = inp (B,C,H,W) (*) weight (OC,C,K,K): per image,
/// out_b = weight . im2col(image), with the weight packed once per call.
/// Where the output's rows are a multiple of 8 wide (LeNet-5's 24 and 8),
/// the GEMM reads im2col(image) in place from the image (`Patches`):
/// nothing is unfolded.
#[track_caller]
pub fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], work: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), weight.len(), out.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let oc = s.out_channels;
    let (cols, rest) = work[..s.workspace_len()].split_at_mut(ckk * p);
    let weight = pack_rows(rest, weight, ckk, 1, oc, ckk);
    for b in 0..s.batch {
        let img = &inp[b * img_len..(b + 1) * img_len];
        let cols = if s.out_width().is_multiple_of(PANEL) {
            BOperand::Image(Patches::new(img, s))
        } else {
            im2col(cols, img, s);
            BOperand::rows(cols, p)
        };
        gemm(&mut out[b * oc * p..][..oc * p], weight, cols, oc, ckk, p, Out::Set);
    }
}

/// dinp (B,C,H,W) += dout (*)^T weight: per image, cols = weight^T . dout_b
/// (C*K*K, OH*OW), folded back with col2im; weight^T packed once per call.
#[track_caller]
pub fn conv2d_backward_input(dinp: &mut [f32], dout: &[f32], weight: &[f32], work: &mut [f32], s: &ConvShape) {
    s.check(dinp.len(), weight.len(), dout.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let oc = s.out_channels;
    let (cols, rest) = work[..s.workspace_len()].split_at_mut(ckk * p);
    let weight_t = pack_rows(rest, weight, 1, ckk, ckk, oc);
    for b in 0..s.batch {
        gemm(cols, weight_t, BOperand::rows(&dout[b * oc * p..][..oc * p], p), ckk, oc, p, Out::Set);
        col2im_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
    }
}

/// dweight (OC,C*K*K) += sum over images of dout_b (OC,OH*OW) . im2col(image)^T,
/// where im2col(image)^T (OH*OW,C*K*K) is unfolded so directly
/// (`im2col_t`) and dout_b packed (`pack_rows`, OC*OH*OW values a image).
/// (Reading im2col(image) in place as A of dweight^T = im2col(image) .
/// dout_b^T would save the unfolding, but A's row groups then lie far
/// apart; it was no faster: see www/bench/NOTES.md.)
///
/// Where the output is large and the patch small (conv1: 576 pixels,
/// 25 weights a channel), each weight is instead one long dot product,
/// dweight += dout_b . cols^T by `matmul_bt`: no transposition, and no
/// GEMM of 25 columns, three of them left to scalar code.
#[track_caller]
pub fn conv2d_backward_filter(dweight: &mut [f32], dout: &[f32], inp: &[f32], work: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), dweight.len(), dout.len());
    let (ckk, p, img_len) = s.gemm_dims();
    let oc = s.out_channels;
    let (cols, packed) = work[..s.workspace_len()].split_at_mut(ckk * p);
    for b in 0..s.batch {
        let (img, dout_b) = (&inp[b * img_len..(b + 1) * img_len], &dout[b * oc * p..(b + 1) * oc * p]);
        // conv1: 576 pixels against 25 weights; conv2: 64 against 500.
        if p >= 16 * ckk {
            im2col(cols, img, s);
            matmul_bt(dweight, dout_b, cols, oc, p, ckk);
        } else {
            im2col_t(cols, img, s);
            gemm(dweight, pack_rows(packed, dout_b, p, 1, oc, p), BOperand::rows(cols, ckk), oc, p, ckk, Out::Add);
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
    let (oh, ow) = check_pool(out, argmax, inp, planes, h, w);
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

/// x = tanh(x), four at a time, by the rational approximation of `tanh`
/// (the module): a few multiply-adds and a division, where the standard
/// library's tanh is a call into libm for each value.
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub fn tanh_inplace(x: &mut [f32]) {
    let tanh4 = |x: v128| -> v128 {
        let v = f32x4_pmin(f32x4_pmax(x, f32x4_splat(-CLAMP)), f32x4_splat(CLAMP));
        let v2 = f32x4_mul(v, v);
        let p = horner(&ALPHA, |p, c| madd(p, v2, c), |c| f32x4_splat(c));
        let q = horner(&BETA, |q, c| madd(q, v2, c), |c| f32x4_splat(c));
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
