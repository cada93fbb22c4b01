//! Unfolding an image into patches (im2col, and its transpose) and
//! folding gradients back (col2im), by vectors.

use core::arch::wasm32::*;

use crate::kernels::pooled::for_each_patch_segment;
use crate::kernels::{for_each_patch_row, ConvShape};

/// `super::im2col` with the rows copied by vectors: a row is only OW =
/// 24 or 8 floats, and `copy_from_slice` would make each one a
/// `memory.copy`, which costs a call into the engine.
pub(super) fn im2col(cols: &mut [f32], img: &[f32], s: &ConvShape) {
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| copy(&mut cols[at_cols..at_cols + ow], &img[at_img..at_img + ow]));
}

/// `super::col2im_add` with the rows added by vectors, as `im2col` copies
/// them; for conv2's shape (5 x 5 kernel, output rows 8 wide) row by row
/// of the image (`col2im_rows`).
pub(super) fn col2im_add(dimg: &mut [f32], cols: &[f32], s: &ConvShape) {
    if s.kernel == 5 && s.out_width() == 8 {
        return col2im_rows::<5, 2, 3>(dimg, cols, s);
    }
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| {
        let (dst, src) = (&mut dimg[at_img..at_img + ow], &cols[at_cols..at_cols + ow]);
        let mut i = 0;
        while i + 4 <= ow {
            // SAFETY: i + 4 <= ow = dst.len() = src.len(); unaligned loads and stores.
            unsafe {
                let at = dst.as_mut_ptr().add(i) as *mut v128;
                v128_store(at, f32x4_add(v128_load(at), v128_load(src.as_ptr().add(i) as *const v128)));
            }
            i += 4;
        }
        for (d, v) in dst[i..].iter_mut().zip(&src[i..]) {
            *d += v;
        }
    });
}

/// `col2im_add` an image row at a time, for a K x K kernel and output
/// rows OV vectors wide: each row of the image (IV vectors, OV*4 + K - 1
/// floats) is summed in registers from the K x K output rows of `cols`
/// that reach it, each shifted by its kx (`add_shifted`), then added
/// into `dimg` once. Row by row of `cols` instead, each of the image's
/// rows is added into K * K times, by vectors that overlap the ones just
/// stored, at offsets 0..K: the loads wait on those stores.
pub(super) fn col2im_rows<const K: usize, const OV: usize, const IV: usize>(dimg: &mut [f32], cols: &[f32], s: &ConvShape) {
    let (oh, ow, h, w) = (s.out_height(), s.out_width(), s.height, s.width);
    assert!(s.kernel == K && ow == 4 * OV && w == 4 * IV, "col2im_rows::<{K}, {OV}, {IV}> does not fit {s:?}");
    assert!(cols.len() >= s.cols_len() && dimg.len() >= s.in_channels * h * w, "cols or dimg is too short for {s:?}");
    let p = oh * ow;
    for c in 0..s.in_channels {
        for y in 0..h {
            let mut row = [f32x4_splat(0.0); IV];
            // The output rows oy = y - ky of every ky that reaches y.
            for ky in y.saturating_sub(oh - 1)..=y.min(K - 1) {
                let at = (c * K + ky) * K * p + (y - ky) * ow;
                for kx in 0..K {
                    let mut out_row = [f32x4_splat(0.0); OV];
                    for (v, o) in out_row.iter_mut().enumerate() {
                        // SAFETY: at + kx*p + 4v + 4 <= the end of row (c, ky, kx)'s
                        // output row y - ky, inside cols (asserted).
                        *o = unsafe { v128_load(cols.as_ptr().add(at + kx * p + 4 * v) as *const v128) };
                    }
                    add_shifted(&mut row, &out_row, kx);
                }
            }
            let at = (c * h + y) * w;
            for (v, r) in row.iter().enumerate() {
                // SAFETY: at + 4v + 4 <= at + w, inside dimg (asserted).
                unsafe {
                    let d = dimg.as_mut_ptr().add(at + 4 * v) as *mut v128;
                    v128_store(d, f32x4_add(v128_load(d), *r));
                }
            }
        }
    }
}

/// row[lanes kx..kx + 4 * OV] += v: OV vectors added into IV, kx lanes on.
#[inline(always)]
pub(super) fn add_shifted<const OV: usize, const IV: usize>(row: &mut [v128; IV], v: &[v128; OV], kx: usize) {
    let (q, shift) = (kx / 4, kx % 4);
    // Piece j is the last `shift` lanes of v[j - 1], then the first 4 - shift of v[j].
    let piece = |j: usize| {
        let (prev, cur) = (if j > 0 { v[j - 1] } else { f32x4_splat(0.0) }, if j < OV { v[j] } else { f32x4_splat(0.0) });
        match shift {
            1 => i32x4_shuffle::<3, 4, 5, 6>(prev, cur),
            2 => i32x4_shuffle::<2, 3, 4, 5>(prev, cur),
            _ => i32x4_shuffle::<1, 2, 3, 4>(prev, cur),
        }
    };
    if shift == 0 {
        for (r, v) in row[q..q + OV].iter_mut().zip(v) {
            *r = f32x4_add(*r, *v);
        }
    } else {
        for (j, r) in row[q..=q + OV].iter_mut().enumerate() {
            *r = f32x4_add(*r, piece(j));
        }
    }
}

/// `im2col` transposed: cols_t (OH*OW, C*K*K), each output pixel's patch
/// in one row, copied K floats (one row of the patch) at a time.
pub(super) fn im2col_t(cols_t: &mut [f32], img: &[f32], s: &ConvShape) {
    assert!(cols_t.len() >= s.cols_len() && img.len() >= s.in_channels * s.height * s.width);
    let (dst, src) = (cols_t.as_mut_ptr(), img.as_ptr());
    // SAFETY: the walk's places are inside both (asserted); unaligned loads and stores.
    let copy = |k, at_t, at_img| unsafe {
        each_4(
            k,
            |i| v128_store(dst.add(at_t + i) as *mut v128, v128_load(src.add(at_img + i) as *const v128)),
            |i| *dst.add(at_t + i) = *src.add(at_img + i),
        )
    };
    match s.kernel {
        5 => for_each_patch_segment(s, 5, |at_t, at_img| copy(5, at_t, at_img)),
        k => for_each_patch_segment(s, k, |at_t, at_img| copy(k, at_t, at_img)),
    }
}

/// The adjoint of `im2col_t`: adds cols_t (OH*OW, C*K*K) back into the
/// image gradient (C,H,W), a row of a patch (K values) at a time.
pub(super) fn col2im_t_add(dimg: &mut [f32], cols_t: &[f32], s: &ConvShape) {
    assert!(cols_t.len() >= s.cols_len() && dimg.len() >= s.in_channels * s.height * s.width);
    let (dst, src) = (dimg.as_mut_ptr(), cols_t.as_ptr());
    // SAFETY: the walk's places are inside both (asserted); unaligned loads and stores.
    let add = |k, at_t, at_img| unsafe {
        each_4(
            k,
            |i| {
                let d = dst.add(at_img + i) as *mut v128;
                v128_store(d, f32x4_add(v128_load(d), v128_load(src.add(at_t + i) as *const v128)));
            },
            |i| *dst.add(at_img + i) += *src.add(at_t + i),
        )
    };
    match s.kernel {
        5 => for_each_patch_segment(s, 5, |at_t, at_img| add(5, at_t, at_img)),
        k => for_each_patch_segment(s, k, |at_t, at_img| add(k, at_t, at_img)),
    }
}

/// `vector(i)` for i = 0, 4, ... while i + 4 <= n, then `one(i)` for the
/// rest.
#[inline(always)]
pub(super) fn each_4(n: usize, mut vector: impl FnMut(usize), mut one: impl FnMut(usize)) {
    let mut i = 0;
    while i + 4 <= n {
        vector(i);
        i += 4;
    }
    while i < n {
        one(i);
        i += 1;
    }
}

/// dst = src, for a few floats (a row of an image): four at a time, the
/// last four (which may overlap the ones before) at the end.
#[inline(always)]
pub(super) fn copy(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    assert_eq!(n, src.len());
    if n < 4 {
        return dst.copy_from_slice(src);
    }
    let mut i = 0;
    while i < n {
        let at = i.min(n - 4);
        // SAFETY: at + 4 <= n, the length of both; unaligned is allowed.
        unsafe { v128_store(dst.as_mut_ptr().add(at) as *mut v128, v128_load(src.as_ptr().add(at) as *const v128)) }
        i += 4;
    }
}
