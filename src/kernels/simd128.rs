//! WebAssembly SIMD128 twins of `scalar`: same signatures, same contract
//! (`out += ...`). Convolutions are im2col + GEMM; the GEMMs are
//! register-blocked micro-kernels, 4 rows x 8 columns for `matmul` and
//! `matmul_at` (8 accumulators, 2 loads of `b` and 4 broadcasts of `a` per
//! step), 1 row x 4 dot products for `matmul_bt`.
//! SIMD128 has no fused multiply-add: each step is a mul then an add.

use core::arch::wasm32::*;

use super::{check_matmul, col2im_add, im2col, ConvShape};

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

/// out (M,N) += a (M,K) . b^T, where b is (N,K)
#[track_caller]
pub fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    for i in 0..m {
        let a_row = &a[i * k..(i + 1) * k];
        let mut j = 0;
        while j + 4 <= n {
            let dots = dots::<4>(a_row, &b[j * k..(j + 4) * k]);
            for (o, d) in out[i * n + j..i * n + j + 4].iter_mut().zip(dots) {
                *o += d;
            }
            j += 4;
        }
        // leftovers
        while j < n {
            out[i * n + j] += dots::<1>(a_row, &b[j * k..(j + 1) * k])[0];
            j += 1;
        }
    }
}

/// out (B,OC,OH,OW) += inp (B,C,H,W) (*) weight (OC,C,K,K): per image,
/// cols = im2col(image) (C*K*K, OH*OW), then out_b += weight . cols.
#[track_caller]
pub fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), weight.len(), out.len());
    let (ckk, p, img_len) = conv_dims(s);
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
    let (ckk, p, img_len) = conv_dims(s);
    let cols = &mut cols[..ckk * p];
    for b in 0..s.batch {
        cols.fill(0.0);
        matmul_at(cols, weight, &dout[b * s.out_channels * p..][..s.out_channels * p], ckk, s.out_channels, p);
        col2im_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
    }
}

/// dweight (OC,C*K*K) += sum over images of dout_b (OC,OH*OW) . im2col(image)^T,
/// computed transposed so that the GEMM is the register-blocked `matmul`:
/// dweight^T (C*K*K,OC) += cols (C*K*K,OH*OW) . dout_b^T (OH*OW,OC).
#[track_caller]
pub fn conv2d_backward_filter(dweight: &mut [f32], dout: &[f32], inp: &[f32], work: &mut [f32], s: &ConvShape) {
    s.check(inp.len(), dweight.len(), dout.len());
    let (ckk, p, img_len) = conv_dims(s);
    let oc = s.out_channels;
    let (cols, rest) = work[..s.workspace_len()].split_at_mut(ckk * p);
    let (dout_t, dweight_t) = rest.split_at_mut(p * oc);
    dweight_t.fill(0.0);
    for b in 0..s.batch {
        im2col(cols, &inp[b * img_len..(b + 1) * img_len], s);
        let d = &dout[b * oc * p..(b + 1) * oc * p];
        for (o, row) in d.chunks_exact(p).enumerate() {
            for (q, &v) in row.iter().enumerate() {
                dout_t[q * oc + o] = v;
            }
        }
        matmul(dweight_t, cols, dout_t, ckk, p, oc);
    }
    for (o, dw_row) in dweight.chunks_exact_mut(ckk).enumerate() {
        for (q, dw) in dw_row.iter_mut().enumerate() {
            *dw += dweight_t[q * oc + o];
        }
    }
}

/// (C*K*K, OH*OW, C*H*W) of one image.
fn conv_dims(s: &ConvShape) -> (usize, usize, usize) {
    (s.in_channels * s.kernel * s.kernel, s.out_height() * s.out_width(), s.in_channels * s.height * s.width)
}

/// out (M,N) += A . b (K,N) where A[i][p] = a[i*row_stride + p*k_stride]:
/// `matmul` (row_stride K, k_stride 1) and `matmul_at` (1, M) share it.
/// The caller has checked out = M*N, a = M*K, b = K*N.
fn gemm_strided(out: &mut [f32], a: &[f32], row_stride: usize, k_stride: usize, b: &[f32], m: usize, k: usize, n: usize) {
    let mut i = 0;
    while i + 4 <= m {
        row_block::<4>(out, a, row_stride, k_stride, b, i, k, n);
        i += 4;
    }
    // leftovers
    while i < m {
        row_block::<1>(out, a, row_stride, k_stride, b, i, k, n);
        i += 1;
    }
}

/// Rows i0..i0+R of `gemm_strided`.
#[inline(always)]
fn row_block<const R: usize>(
    out: &mut [f32],
    a: &[f32],
    row_stride: usize,
    k_stride: usize,
    b: &[f32],
    i0: usize,
    k: usize,
    n: usize,
) {
    assert!(i0 + R <= out.len() / n.max(1) && a.len() >= (i0 + R - 1) * row_stride + (k.max(1) - 1) * k_stride + 1);
    assert!(b.len() >= k * n && out.len() >= (i0 + R) * n);
    let a_at = |r: usize, p: usize| -> v128 {
        // SAFETY: r < R and p < k, so the index is at most
        // (i0+R-1)*row_stride + (k-1)*k_stride, inside `a` (asserted above).
        // One load-and-broadcast instruction rather than a load and a splat.
        unsafe { v128_load32_splat(a.as_ptr().add((i0 + r) * row_stride + p * k_stride) as *const u32) }
    };
    let mut j = 0;
    while j + 8 <= n {
        let mut acc = [[f32x4_splat(0.0); 2]; R];
        for p in 0..k {
            // SAFETY: p*n + j + 8 <= k*n <= b.len(); v128_load allows unaligned addresses.
            let (b0, b1) = unsafe {
                let ptr = b.as_ptr().add(p * n + j);
                (v128_load(ptr as *const v128), v128_load(ptr.add(4) as *const v128))
            };
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = a_at(r, p);
                acc_r[0] = f32x4_add(acc_r[0], f32x4_mul(av, b0));
                acc_r[1] = f32x4_add(acc_r[1], f32x4_mul(av, b1));
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            // SAFETY: (i0+r)*n + j + 8 <= (i0+R)*n <= out.len().
            unsafe {
                let ptr = out.as_mut_ptr().add((i0 + r) * n + j);
                v128_store(ptr as *mut v128, f32x4_add(v128_load(ptr as *const v128), acc_r[0]));
                let ptr = ptr.add(4);
                v128_store(ptr as *mut v128, f32x4_add(v128_load(ptr as *const v128), acc_r[1]));
            }
        }
        j += 8;
    }
    while j + 4 <= n {
        let mut acc = [f32x4_splat(0.0); R];
        for p in 0..k {
            // SAFETY: p*n + j + 4 <= k*n <= b.len().
            let bv = unsafe { v128_load(b.as_ptr().add(p * n + j) as *const v128) };
            for (r, acc_r) in acc.iter_mut().enumerate() {
                *acc_r = f32x4_add(*acc_r, f32x4_mul(a_at(r, p), bv));
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            // SAFETY: (i0+r)*n + j + 4 <= (i0+R)*n <= out.len().
            unsafe {
                let ptr = out.as_mut_ptr().add((i0 + r) * n + j);
                v128_store(ptr as *mut v128, f32x4_add(v128_load(ptr as *const v128), *acc_r));
            }
        }
        j += 4;
    }
    // leftovers
    while j < n {
        for r in 0..R {
            let mut acc = 0.0;
            for p in 0..k {
                acc += a[(i0 + r) * row_stride + p * k_stride] * b[p * n + j];
            }
            out[(i0 + r) * n + j] += acc;
        }
        j += 1;
    }
}

/// The C dot products of `a` (K) with the C rows of `rows` (C,K).
#[inline(always)]
fn dots<const C: usize>(a: &[f32], rows: &[f32]) -> [f32; C] {
    let k = a.len();
    assert_eq!(rows.len(), C * k);
    let mut acc = [f32x4_splat(0.0); C];
    let mut p = 0;
    while p + 4 <= k {
        // SAFETY: p + 4 <= k = a.len(), and c*k + p + 4 <= C*k = rows.len().
        unsafe {
            let av = v128_load(a.as_ptr().add(p) as *const v128);
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let bv = v128_load(rows.as_ptr().add(c * k + p) as *const v128);
                *acc_c = f32x4_add(*acc_c, f32x4_mul(av, bv));
            }
        }
        p += 4;
    }
    let mut sums = [0.0f32; C];
    for (c, sum) in sums.iter_mut().enumerate() {
        let v = acc[c];
        *sum = (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v)) + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v));
        // leftovers
        for q in p..k {
            *sum += a[q] * rows[c * k + q];
        }
    }
    sums
}
