//! The sparse backward pass of a convolution followed by 2x2 max-pooling:
//! each pooled value is one weighted row of the unfolded image.

use core::arch::wasm32::*;

use super::gemm::Out;
use super::madd;
use super::unfold::{col2im_t_add, im2col_t};
use crate::kernels::PooledBackward;

/// The backward pass of a convolution followed by 2x2 max-pooling, from
/// the pooling's output gradient (see `scalar`). Each pooled value
/// reaches one output pixel, its window's winner: three quarters of the
/// convolution's output gradient are zeros, which the dense kernels
/// multiply through. Here each pooled value g of channel o, won at pixel
/// x, is one weighted row, and per image:
///
/// - dweight[o] += the sum of g * patch(x) over o's windows, the patches
///   being rows of im2col(image)^T (`im2col_t`);
/// - each pixel's row of dcols^T (OH*OW, C*K*K) is the sum of g *
///   weight[o] over the channels o it won for, folded back into dinp by
///   `col2im_t_add`.
///
/// A quarter of the dense kernels' multiply-adds, and `dout` is not used.
#[track_caller]
pub fn conv2d_backward_pooled(op: PooledBackward) {
    let PooledBackward { dweight, mut dinp, pooled, inp, work, shape: s, .. } = op;
    let (ckk, p, img_len) = s.gemm_dims();
    let (oc, ow, windows) = (s.out_channels, s.out_width(), (s.out_height() / 2) * (s.out_width() / 2));
    s.check(inp.len(), dweight.len(), s.out_len());
    assert!(
        pooled.grad.len() == s.batch * oc * windows && pooled.argmax.len() == pooled.grad.len(),
        "the pooled gradient must be (B,OC,OH/2,OW/2)"
    );
    if let Some((dinp, weight)) = &dinp {
        s.check(dinp.len(), weight.len(), s.out_len());
    }
    // Room for a vector past the last patch: `weighted_rows` then reads
    // conv1's 25 columns as 7 vectors.
    assert!(work.len() >= ckk * p + 3, "the workspace is too short for {s:?}");
    let cols = &mut work[..ckk * p + 3];
    TERMS.with_borrow_mut(|Terms { terms, starts }| {
        for b in 0..s.batch {
            let img = &inp[b * img_len..(b + 1) * img_len];
            // Image b's pooled values, plane by plane, with their winners.
            let winners = || pooled.winners(b * oc..(b + 1) * oc, s.out_height(), ow);
            im2col_t(cols, img, s);
            // Channel o's terms are its windows', in order.
            terms.clear();
            terms.extend(winners().map(|x| (x.pixel * ckk, pooled.grad[x.at])));
            starts.clear();
            starts.extend((0..=oc).map(|o| o * windows));
            weighted_rows(dweight, ckk, cols, terms, starts, Out::Add);
            let Some((dinp, weight)) = dinp.as_mut() else { continue };
            // The terms by pixel, by a counting sort: counted two places
            // on, summed, and then used one place on as each pixel's next
            // free place, which leaves pixel x's terms at
            // terms[starts[x]..starts[x + 1]].
            starts.clear();
            starts.resize(p + 2, 0);
            for x in winners() {
                starts[x.pixel + 2] += 1;
            }
            for x in 2..p + 2 {
                starts[x] += starts[x - 1];
            }
            terms.resize(oc * windows, (0, 0.0));
            for x in winners() {
                let next = &mut starts[x.pixel + 1];
                terms[*next] = ((x.plane - b * oc) * ckk, pooled.grad[x.at]);
                *next += 1;
            }
            weighted_rows(cols, ckk, weight, terms, &starts[..p + 1], Out::Set);
            col2im_t_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
        }
    });
}

/// `conv2d_backward_pooled`'s weighted rows (where each starts in its
/// source, its factor), and where each output row's first is.
pub(super) struct Terms {
    terms: Vec<(usize, f32)>,
    starts: Vec<usize>,
}

std::thread_local! {
    /// Kept from call to call, so that a training step allocates nothing
    /// after its first.
    static TERMS: std::cell::RefCell<Terms> = const { std::cell::RefCell::new(Terms { terms: Vec::new(), starts: Vec::new() }) };
}

/// Row r of out (R rows of N) += (or =, as `to` says) the sum over its
/// terms, terms[starts[r]..starts[r + 1]], (at, g) of g * src[at..at + N]:
/// one load per multiply-add, 32 columns of every row at a time in 8
/// accumulators, so that those columns of src's rows (8 KB for conv2's
/// 64 patches) stay in the L1 cache while every row passes over them,
/// then 16 once and 4 at a time. Where every row of src can be read on
/// to a whole vector (N rounded up to 4), the last 1 to 3 columns are a
/// vector too, of which only they are stored (conv1's 25th).
#[track_caller]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub(super) fn weighted_rows(out: &mut [f32], n: usize, src: &[f32], terms: &[(usize, f32)], starts: &[usize], to: Out) {
    let rows = starts.len() - 1;
    assert!(out.len() >= rows * n, "out is too short for ({rows},{n})");
    assert!(starts.windows(2).all(|r| r[0] <= r[1]) && starts[rows] <= terms.len(), "the rows' terms are out of order");
    assert!(terms.iter().all(|&(at, _)| at <= src.len() && n <= src.len() - at), "a weighted row is outside src");
    let mut columns = |j: usize, width: usize| {
        for (r, range) in starts.windows(2).enumerate() {
            let (out, terms) = (&mut out[r * n..(r + 1) * n], &terms[range[0]..range[1]]);
            // SAFETY: j + width <= n = out.len(), and each term's row is
            // inside src (asserted), or readable on to j + 4 (`whole`).
            unsafe {
                match width {
                    32 => weighted_columns::<8>(out, src, terms, j, to),
                    16 => weighted_columns::<4>(out, src, terms, j, to),
                    4 => weighted_columns::<1>(out, src, terms, j, to),
                    _ => weighted_lanes(out, src, terms, j, to),
                }
            }
        }
    };
    // conv2's 500 are 15 x 32 + 16 + 4.
    let mut j = 0;
    while j + 32 <= n {
        columns(j, 32);
        j += 32;
    }
    if j + 16 <= n {
        columns(j, 16);
        j += 16;
    }
    while j + 4 <= n {
        columns(j, 4);
        j += 4;
    }
    let whole = terms.iter().all(|&(at, _)| n.next_multiple_of(4) <= src.len() - at);
    if j < n && whole {
        columns(j, n - j);
        return;
    }
    // leftovers, where src's rows end short of a vector
    for (r, range) in starts.windows(2).enumerate() {
        for j in j..n {
            let sum = terms[range[0]..range[1]].iter().fold(0.0, |acc, &(at, g)| acc + g * src[at + j]);
            let o = &mut out[r * n + j];
            *o = if to == Out::Add { *o + sum } else { sum };
        }
    }
}

/// Columns j..j+4V of `weighted_rows`.
///
/// # Safety
/// j + 4V <= out.len(), and each term's row, at..at + out.len(), inside src.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
pub(super) unsafe fn weighted_columns<const V: usize>(out: &mut [f32], src: &[f32], terms: &[(usize, f32)], j: usize, to: Out) {
    // SAFETY: the caller's promise.
    let acc = unsafe { weighted_sum::<V>(src, terms, j) };
    for (v, acc) in acc.iter().enumerate() {
        // SAFETY: j + 4v + 4 <= out.len() (the caller's promise).
        unsafe {
            let ptr = out.as_mut_ptr().add(j + 4 * v) as *mut v128;
            v128_store(ptr, if to == Out::Add { f32x4_add(v128_load(ptr), *acc) } else { *acc });
        }
    }
}

/// The last 1 to 3 columns of `weighted_rows`, j.., as one vector.
///
/// # Safety
/// Each term's row read on to j + 4, src[at..at + j + 4], inside src.
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub(super) unsafe fn weighted_lanes(out: &mut [f32], src: &[f32], terms: &[(usize, f32)], j: usize, to: Out) {
    let mut lanes = [0.0f32; 4];
    // SAFETY: the caller's promise; `lanes` is 4 floats.
    unsafe { v128_store(lanes.as_mut_ptr() as *mut v128, weighted_sum::<1>(src, terms, j)[0]) };
    for (o, lane) in out[j..].iter_mut().zip(lanes) {
        *o = if to == Out::Add { *o + lane } else { lane };
    }
}

/// The sum over `terms` (at, g) of g * src[at + j..at + j + 4V], in V vectors.
///
/// # Safety
/// Each term's row read on to j + 4V, src[at..at + j + 4V], inside src.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
pub(super) unsafe fn weighted_sum<const V: usize>(src: &[f32], terms: &[(usize, f32)], j: usize) -> [v128; V] {
    let mut acc = [f32x4_splat(0.0); V];
    for &(at, g) in terms {
        let (gv, row) = (f32x4_splat(g), src.as_ptr().wrapping_add(at + j));
        for (v, acc) in acc.iter_mut().enumerate() {
            // SAFETY: at + j + 4v + 4 <= src.len() (the caller's promise).
            *acc = madd(gv, unsafe { v128_load(row.add(4 * v) as *const v128) }, *acc);
        }
    }
    acc
}
