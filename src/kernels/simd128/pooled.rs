//! The sparse backward pass of a convolution followed by 2x2 max-pooling:
//! each pooled value is one weighted row of the unfolded image.

use core::arch::wasm32::*;

use super::madd;
use super::unfold::{col2im_t_add, im2col_t};
use crate::kernels::pooled::{backward_pooled_sparse, Rows, Sparse, Term};
use crate::kernels::{ConvShape, Out, PooledBackward};

/// The backward pass of a convolution followed by 2x2 max-pooling, from
/// the pooling's output gradient (see `scalar`), as weighted rows of the
/// unfolded image (see `pooled::backward_pooled_sparse`).
#[track_caller]
pub fn conv2d_backward_pooled(op: PooledBackward) {
    backward_pooled_sparse(op, Simd128);
}

/// This build's loops of the sparse backward pass.
struct Simd128;

impl Sparse for Simd128 {
    // `weighted_rows` reads conv1's 25 columns as 7 vectors.
    const SLACK: usize = 3;
    fn im2col_t(&self, cols_t: &mut [f32], img: &[f32], s: &ConvShape) {
        im2col_t(cols_t, img, s);
    }
    fn col2im_t_add(&self, dimg: &mut [f32], cols_t: &[f32], s: &ConvShape) {
        col2im_t_add(dimg, cols_t, s);
    }
    fn weighted_rows(&self, out: &mut [f32], n: usize, src: &[f32], terms: &[Term], starts: &[usize], to: Out) {
        weighted_rows(out, n, src, terms, starts, to);
    }
}

/// Row r of out (R rows of N) += (or =, as `to` says) the sum over its
/// terms, terms[starts[r]..starts[r + 1]], (at, g) of g * src[at..at + N]:
/// one load per multiply-add, 32 columns of every row at a time in 8
/// accumulators, so that those columns of src's rows (16 KB for two of
/// conv2's images, 128 patches) stay in the L1 cache while every row
/// passes over them,
/// then the rest in one pass of up to 8 vectors, so that a row's terms
/// are walked once more, not once a vector (conv2's 500 columns are
/// 15 x 32 + 20, conv1's 25 one pass of 7 vectors). Where every row of
/// src can be read on to a whole vector (N rounded up to 4), the last 1
/// to 3 columns are a vector too, of which only they are stored (conv1's
/// 25th); elsewhere they are summed one by one.
#[track_caller]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub(super) fn weighted_rows(out: &mut [f32], n: usize, src: &[f32], terms: &[Term], starts: &[usize], to: Out) {
    let mut rows = Rows::checked(out, n, src, terms, starts, to);
    let whole = n.next_multiple_of(4) <= rows.reach;
    let mut j = 0;
    while j + 32 <= n {
        // SAFETY: the columns lie inside n, and each term's row inside src
        // (checked), or readable on to the vector after them (`whole`).
        unsafe { rows.pass::<8, false>(j, 32) };
        j += 32;
    }
    let rest = if whole { n - j } else { (n - j) / 4 * 4 };
    // SAFETY: as above.
    unsafe {
        match rest.div_ceil(4) {
            0 => {}
            1 => rows.pass::<1, true>(j, rest),
            2 => rows.pass::<2, true>(j, rest),
            3 => rows.pass::<3, true>(j, rest),
            4 => rows.pass::<4, true>(j, rest),
            5 => rows.pass::<5, true>(j, rest),
            6 => rows.pass::<6, true>(j, rest),
            7 => rows.pass::<7, true>(j, rest),
            _ => rows.pass::<8, true>(j, rest),
        }
    }
    j += rest;
    let Rows { out, .. } = rows;
    // leftovers, where src's rows end short of a vector
    for (r, range) in starts.windows(2).enumerate() {
        for j in j..n {
            let sum = terms[range[0]..range[1]].iter().fold(0.0, |acc, &(at, g)| acc + g * src[at as usize + j]);
            let o = &mut out[r * n + j];
            *o = if to == Out::Add { *o + sum } else { sum };
        }
    }
}

impl Rows<'_> {
    /// Columns j..j + width of every row, width in (4V - 4, 4V] (4V
    /// without `PART`).
    ///
    /// # Safety
    /// j + width <= n, and each term's row read on to j + 4V inside src.
    #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
    #[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
    unsafe fn pass<const V: usize, const PART: bool>(&mut self, j: usize, width: usize) {
        let n = self.n;
        for (r, range) in self.starts.windows(2).enumerate() {
            // SAFETY: the caller's promise.
            unsafe {
                weighted_columns::<V, PART>(&mut self.out[r * n..(r + 1) * n], self.src, &self.terms[range[0]..range[1]], j, width, self.to)
            };
        }
    }
}

/// Columns j..j + width of `weighted_rows`, width in (4V - 4, 4V]: with
/// `PART`, the last vector's lanes past the width are summed but not
/// stored; without, width is 4V.
///
/// # Safety
/// j + width <= out.len(), and each term's row read on to j + 4V,
/// src[at..at + j + 4V], inside src.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
pub(super) unsafe fn weighted_columns<const V: usize, const PART: bool>(
    out: &mut [f32],
    src: &[f32],
    terms: &[Term],
    j: usize,
    width: usize,
    to: Out,
) {
    // SAFETY: the caller's promise.
    let acc = unsafe { weighted_sum::<V>(src, terms, j) };
    for (v, acc) in acc.iter().enumerate() {
        if !PART || 4 * v + 4 <= width {
            // SAFETY: j + 4v + 4 <= j + width <= out.len() (the caller's promise).
            unsafe {
                let ptr = out.as_mut_ptr().add(j + 4 * v) as *mut v128;
                v128_store(ptr, if to == Out::Add { f32x4_add(v128_load(ptr), *acc) } else { *acc });
            }
            continue;
        }
        let mut lanes = [0.0f32; 4];
        // SAFETY: `lanes` is 4 floats.
        unsafe { v128_store(lanes.as_mut_ptr() as *mut v128, *acc) };
        for (o, lane) in out[j + 4 * v..j + width].iter_mut().zip(lanes) {
            *o = if to == Out::Add { *o + lane } else { lane };
        }
    }
}

/// The sum over `terms` (at, g) of g * src[at + j..at + j + 4V], in V vectors.
///
/// # Safety
/// Each term's row read on to j + 4V, src[at..at + j + 4V], inside src.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
pub(super) unsafe fn weighted_sum<const V: usize>(src: &[f32], terms: &[Term], j: usize) -> [v128; V] {
    let mut acc = [f32x4_splat(0.0); V];
    for &(at, g) in terms {
        let (gv, row) = (f32x4_splat(g), src.as_ptr().wrapping_add(at as usize + j));
        for (v, acc) in acc.iter_mut().enumerate() {
            // SAFETY: at + j + 4v + 4 <= src.len() (the caller's promise).
            *acc = madd(gv, unsafe { v128_load(row.add(4 * v) as *const v128) }, *acc);
        }
    }
    acc
}
