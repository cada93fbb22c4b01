//! WebAssembly SIMD128 twins of `scalar`: same signatures, same contract
//! (`out += ...`). Convolutions are im2col + GEMM; the GEMMs are
//! register-blocked micro-kernels, 5 rows x 8 columns for `matmul` and
//! `matmul_at` (10 accumulators, 2 loads of `b` and 5 broadcasts of `a`
//! per step, both operands read in order from one pointer each; see
//! `Gemm`), 2 rows x 4 dot products for `matmul_bt`.
//! SIMD128 has no fused multiply-add: each step is a mul then an add. The
//! `relaxed-simd` feature builds the same kernels with relaxed SIMD's
//! `f32x4.relaxed_madd` instead (`madd`), for browsers that validate it;
//! the page picks that build at load (see `page::worker_build`).

use core::arch::wasm32::*;

use super::{check_matmul, for_each_patch_row, ConvShape, Pooled};

/// The kernels' name, for the benchmark's rows.
pub fn name() -> &'static str {
    if cfg!(feature = "relaxed-simd") {
        "relaxed-simd"
    } else {
        "simd128"
    }
}

/// out (M,N) += a (M,K) . b (K,N), with `a` first packed into row groups
/// (`pack_rows`) in a buffer kept from call to call, so that a training
/// step allocates nothing after its first.
#[track_caller]
pub fn matmul(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    std::thread_local! {
        static PACKED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    PACKED.with_borrow_mut(|packed| {
        packed.resize(packed.len().max(packed_len(m, k)), 0.0);
        let a = pack_rows(packed, a, k, 1, m, k);
        gemm(out, a, Source::rows(b, n), m, k, n, Out::Add);
    });
}

/// out (M,N) += a^T . b, where a is (K,M) and b is (K,N): A's row groups
/// are already side by side in `a`, so nothing is packed.
#[track_caller]
pub fn matmul_at(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    check_matmul(out.len(), a.len(), b.len(), m, k, n);
    gemm(out, Operand::rows(a, m), Source::rows(b, n), m, k, n, Out::Add);
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
/// out_b += weight . im2col(image), with the weight packed once per call.
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
            Source::Image(Patches::new(img, s))
        } else {
            im2col(cols, img, s);
            Source::rows(cols, p)
        };
        gemm(&mut out[b * oc * p..][..oc * p], weight, cols, oc, ckk, p, Out::Add);
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
        gemm(cols, weight_t, Source::rows(&dout[b * oc * p..][..oc * p], p), ckk, oc, p, Out::Set);
        col2im_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
    }
}

/// dweight (OC,C*K*K) += sum over images of dout_b (OC,OH*OW) . im2col(image)^T,
/// where im2col(image)^T (OH*OW,C*K*K) is unfolded so directly
/// (`im2col_t`) and dout_b packed (`pack_rows`, OC*OH*OW values a image).
/// (Reading im2col(image) in place as A of dweight^T = im2col(image) .
/// dout_b^T measured no faster: 5.1 ms a chunk for conv2 in Chromium,
/// against 5.2.)
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
            gemm(dweight, pack_rows(packed, dout_b, p, 1, oc, p), Source::rows(cols, ckk), oc, p, ckk, Out::Add);
        }
    }
}

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
pub fn conv2d_backward_pooled(
    dweight: &mut [f32],
    mut dinp: Option<(&mut [f32], &[f32])>,
    pooled: Pooled,
    inp: &[f32],
    _dout: &mut [f32],
    work: &mut [f32],
    s: &ConvShape,
) {
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
struct Terms {
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
fn weighted_rows(out: &mut [f32], n: usize, src: &[f32], terms: &[(usize, f32)], starts: &[usize], to: Out) {
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
unsafe fn weighted_columns<const V: usize>(out: &mut [f32], src: &[f32], terms: &[(usize, f32)], j: usize, to: Out) {
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
unsafe fn weighted_lanes(out: &mut [f32], src: &[f32], terms: &[(usize, f32)], j: usize, to: Out) {
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
unsafe fn weighted_sum<const V: usize>(src: &[f32], terms: &[(usize, f32)], j: usize) -> [v128; V] {
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

/// `super::im2col` with the rows copied by vectors: a row is only OW =
/// 24 or 8 floats, and `copy_from_slice` would make each one a
/// `memory.copy`, which costs a call into the engine.
fn im2col(cols: &mut [f32], img: &[f32], s: &ConvShape) {
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| copy(&mut cols[at_cols..at_cols + ow], &img[at_img..at_img + ow]));
}

/// `super::col2im_add` with the rows added by vectors, as `im2col` copies
/// them; for conv2's shape (5 x 5 kernel, output rows 8 wide) row by row
/// of the image (`col2im_rows`).
fn col2im_add(dimg: &mut [f32], cols: &[f32], s: &ConvShape) {
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
/// stored, at offsets 0..K: the loads wait on those stores (conv2's
/// col2im measured 0.7 ms a chunk that way, a sixth of its input
/// gradient's time).
fn col2im_rows<const K: usize, const OV: usize, const IV: usize>(dimg: &mut [f32], cols: &[f32], s: &ConvShape) {
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
fn add_shifted<const OV: usize, const IV: usize>(row: &mut [v128; IV], v: &[v128; OV], kx: usize) {
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
fn im2col_t(cols_t: &mut [f32], img: &[f32], s: &ConvShape) {
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
fn col2im_t_add(dimg: &mut [f32], cols_t: &[f32], s: &ConvShape) {
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

/// The im2col_t layout, walked for both directions: for each output pixel
/// (oy, ox) and each row of its patch (channel c, ky), `f(where that row
/// starts in cols_t, where its K values start in the image)`, K = `k`, the
/// kernel's side, passed on its own so that a caller can make it a
/// constant (LeNet-5's 5), which takes a third off both walks.
#[inline(always)]
fn for_each_patch_segment(s: &ConvShape, k: usize, mut f: impl FnMut(usize, usize)) {
    debug_assert_eq!(k, s.kernel);
    let (w, plane) = (s.width, s.height * s.width);
    let mut at_t = 0;
    for oy in 0..s.out_height() {
        for ox in 0..s.out_width() {
            for c in 0..s.in_channels {
                for ky in 0..k {
                    f(at_t, c * plane + (oy + ky) * w + ox);
                    at_t += k;
                }
            }
        }
    }
}

/// `vector(i)` for i = 0, 4, ... while i + 4 <= n, then `one(i)` for the
/// rest.
#[inline(always)]
fn each_4(n: usize, mut vector: impl FnMut(usize), mut one: impl FnMut(usize)) {
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
fn copy(dst: &mut [f32], src: &[f32]) {
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

/// Rows of a micro-kernel tile: 5 rows by 8 columns hold 10 accumulators,
/// enough to keep both multiply-add ports busy through their latency (the
/// ceiling loop measured 8 chains short of it), with room in x86's 16
/// vector registers for the 2 loads of `b` and the broadcast of `a` (6 rows,
/// 12 accumulators, measured slower in both browsers).
const MR: usize = 5;
/// Columns of a tile, two vectors: the width of a column panel.
const PANEL: usize = 8;

std::thread_local! {
    /// A panel of B copied together (see `gemm`), kept from call to call.
    static PANEL_B: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A GEMM operand as the micro-kernel reads it. Element (i, p) of A lies
/// at data[(i - i % MR) * group_stride + p * step + i % MR]: a group of MR
/// rows is side by side for each step p of k, so that a tile reads its
/// values from one pointer, at constant offsets, moving on by `step`. With
/// a group_stride of 1 that is data[i + p * step], a row-major matrix
/// read by columns, as B always is (element (p, j) at `at(j, p)`).
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    group_stride: usize,
    step: usize,
}

impl<'a> Operand<'a> {
    /// A row-major (K, N) matrix as B, or a (K, M) matrix as A^T: every
    /// group is already side by side.
    fn rows(data: &'a [f32], width: usize) -> Self {
        Operand { data, group_stride: 1, step: width }
    }

    /// Where element (i, p) lies.
    fn at(&self, i: usize, p: usize) -> usize {
        (i - i % MR) * self.group_stride + p * self.step + i % MR
    }
}

/// The length `pack_rows` needs for M rows of K.
fn packed_len(m: usize, k: usize) -> usize {
    m.div_ceil(MR) * MR * k
}

/// A[i][p] = a[i*row_stride + p*k_stride] (M,K) packed into `dst` as row
/// groups: group g is K steps of its MR values (the last group's missing
/// rows are left as they were, and never read).
fn pack_rows<'d>(dst: &'d mut [f32], a: &[f32], row_stride: usize, k_stride: usize, m: usize, k: usize) -> Operand<'d> {
    let dst = &mut dst[..packed_len(m, k)];
    let mut whole = 0;
    if k_stride == 1 {
        // Rows in order: whole groups by vectors.
        while whole + MR <= m {
            pack_group(&mut dst[whole * k..(whole + MR) * k], &a[whole * row_stride..], row_stride, k);
            whole += MR;
        }
    }
    for i in whole..m {
        let group = &mut dst[(i - i % MR) * k..][..MR * k];
        for (p, v) in group.iter_mut().skip(i % MR).step_by(MR).enumerate() {
            *v = a[i * row_stride + p * k_stride];
        }
    }
    Operand { data: dst, group_stride: k, step: MR }
}

/// One group of `pack_rows`, from MR = 5 rows of K in order, `row_stride`
/// apart in `a`: four steps of k at a time, the first four rows'
/// values transposed in registers and stored as a vector each step, the
/// fifth row's as single floats.
fn pack_group(dst: &mut [f32], a: &[f32], row_stride: usize, k: usize) {
    const { assert!(MR == 5, "pack_group transposes 4 rows and adds a fifth") };
    assert!(dst.len() == MR * k && (k == 0 || a.len() >= (MR - 1) * row_stride + k), "a or dst does not fit a group of ({MR},{k})");
    let (src, to) = (a.as_ptr(), dst.as_mut_ptr());
    let mut p = 0;
    while p + 4 <= k {
        // SAFETY: rows r < MR, values p..p+4 < k: inside a (asserted).
        let row = |r: usize| unsafe { v128_load(src.add(r * row_stride + p) as *const v128) };
        let (r0, r1, r2, r3, r4) = (row(0), row(1), row(2), row(3), row(4));
        let (t0, t1) = (i32x4_shuffle::<0, 4, 1, 5>(r0, r1), i32x4_shuffle::<2, 6, 3, 7>(r0, r1));
        let (t2, t3) = (i32x4_shuffle::<0, 4, 1, 5>(r2, r3), i32x4_shuffle::<2, 6, 3, 7>(r2, r3));
        let steps = [
            i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
            i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
            i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
            i32x4_shuffle::<2, 3, 6, 7>(t1, t3),
        ];
        let fifth = [f32x4_extract_lane::<0>(r4), f32x4_extract_lane::<1>(r4), f32x4_extract_lane::<2>(r4), f32x4_extract_lane::<3>(r4)];
        for (q, (step, fifth)) in steps.into_iter().zip(fifth).enumerate() {
            // SAFETY: step p + q < k: dst[(p+q)*MR..(p+q+1)*MR] is inside dst (asserted).
            unsafe {
                v128_store(to.add((p + q) * MR) as *mut v128, step);
                *to.add((p + q) * MR + 4) = fifth;
            }
        }
        p += 4;
    }
    for p in p..k {
        for r in 0..MR {
            dst[p * MR + r] = a[r * row_stride + p];
        }
    }
}

/// A convolution's im2col(image) (C*K*K, OH*OW) read in place from the
/// image, as B of the forward GEMM: element (c*K*K + ky*K + kx, oy*OW + ox)
/// is the image's value at (c, oy+ky, ox+kx), and a panel of 8 columns is
/// 8 neighbouring pixels of one output row, two loads from the image (OW
/// must be a multiple of 8).
#[derive(Clone, Copy)]
struct Patches<'a> {
    img: &'a [f32],
    channels: usize,
    kernel: usize,
    width: usize,
    plane: usize,
    out_width: usize,
}

impl<'a> Patches<'a> {
    #[track_caller]
    fn new(img: &'a [f32], s: &ConvShape) -> Self {
        let plane = s.height * s.width;
        assert!(img.len() >= s.in_channels * plane, "the image is too short for {s:?}");
        Patches { img, channels: s.in_channels, kernel: s.kernel, width: s.width, plane, out_width: s.out_width() }
    }

    fn out_height(&self) -> usize {
        self.plane / self.width - self.kernel + 1
    }

    /// Where element (row, column) lies in the image.
    fn at(&self, row: usize, column: usize) -> usize {
        let (k, (oy, ox)) = (self.kernel, (column / self.out_width, column % self.out_width));
        let (c, ky, kx) = (row / (k * k), row / k % k, row % k);
        c * self.plane + (oy + ky) * self.width + ox + kx
    }
}

/// A GEMM operand: a matrix (`Operand`), or im2col(image) read in place.
#[derive(Clone, Copy)]
enum Source<'a> {
    Matrix(Operand<'a>),
    Image(Patches<'a>),
}

/// out (M,N) += A (M,K) . B (K,N) (or =, as `to` says).
///
/// Column panels outside, row groups inside: a panel of B (K x 8, 16 KB
/// for conv2's K = 500) stays in the L1 cache while every row group of
/// A passes over it. Columns past the last panel of 4 are scalar code.
#[track_caller]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
fn gemm(out: &mut [f32], a: Operand, b: Source, m: usize, k: usize, n: usize, to: Out) {
    assert!(out.len() >= m * n, "out is too short for ({m},{n})");
    if m == 0 || k == 0 || n == 0 {
        if to == Out::Set {
            out[..m * n].fill(0.0);
        }
        return;
    }
    // The index of the last element is the largest: the unchecked loads
    // below read no further. An image's patches are inside it by shape.
    assert!(a.at(m - 1, k - 1) < a.data.len(), "a is too short for ({m},{k})");
    let panels = match b {
        Source::Matrix(b) => {
            assert!(b.at(n - 1, k - 1) < b.data.len(), "b is too short for ({k},{n})");
            n - n % 4
        }
        Source::Image(b) => {
            assert!(
                b.out_width.is_multiple_of(PANEL) && k == b.channels * b.kernel * b.kernel && n == b.out_width * b.out_height(),
                "B is no image's patches"
            );
            n
        }
    };
    let mut g = Gemm { out, a, b, k, n, to };
    // A panel of a wide B is K rows a cache line apart: past about 256
    // of them it leaves the L1 cache before the next row group reads it
    // again. Copied together first, it stays.
    let pack = matches!(b, Source::Matrix(b) if b.step > PANEL && k >= 256 && m > MR);
    PANEL_B.with_borrow_mut(|scratch| {
        if pack {
            scratch.resize(scratch.len().max(k * PANEL), 0.0);
        }
        let mut j = 0;
        while j + PANEL <= panels {
            g.panel::<2>(m, j, pack.then_some(&mut scratch[..]));
            j += PANEL;
        }
        if j < panels {
            g.panel::<1>(m, j, pack.then_some(&mut scratch[..]));
        }
    });
    // leftovers
    let (a_at, b_at) = (|i, p| a.data[a.at(i, p)], |p, j| b.value(p, j));
    for j in panels..n {
        for i in 0..m {
            let dot = (0..k).fold(0.0, |acc, p| acc + a_at(i, p) * b_at(p, j));
            let o = &mut g.out[i * n + j];
            *o = if to == Out::Add { *o + dot } else { dot };
        }
    }
}

impl<'a> Source<'a> {
    /// A row-major (K, N) matrix.
    fn rows(data: &'a [f32], width: usize) -> Self {
        Source::Matrix(Operand::rows(data, width))
    }

    /// Element (p, j) of B.
    fn value(&self, p: usize, j: usize) -> f32 {
        match self {
            Source::Matrix(b) => b.data[b.at(j, p)],
            Source::Image(im) => im.img[im.at(p, j)],
        }
    }
}

/// What `gemm` does with its output: out += A . B, or out = A . B (the
/// caller's own scratch, which then needs no zeroing first).
#[derive(Clone, Copy, PartialEq)]
enum Out {
    Add,
    Set,
}

/// The operands of `gemm`, checked by it.
struct Gemm<'a> {
    out: &'a mut [f32],
    a: Operand<'a>,
    b: Source<'a>,
    k: usize,
    n: usize,
    to: Out,
}

impl Gemm<'_> {
    /// Columns j0..j0+4V of every row, MR rows at a time; with `scratch`,
    /// B's columns are first copied into it, K steps of 4V side by side.
    #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
    #[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
    fn panel<const V: usize>(&mut self, m: usize, j0: usize, scratch: Option<&mut [f32]>) {
        let (b, bj) = match (self.b, scratch) {
            (Source::Matrix(b), Some(scratch)) => {
                let w = 4 * V;
                for (p, to) in scratch[..self.k * w].chunks_exact_mut(w).enumerate() {
                    let from = b.at(j0, p);
                    to.copy_from_slice(&b.data[from..from + w]);
                }
                (Source::Matrix(Operand { data: &scratch[..self.k * w], group_stride: 1, step: w }), 0)
            }
            (b, _) => (b, j0),
        };
        let mut i = 0;
        while i + MR <= m {
            self.tile::<MR, V>(b, bj, i, j0);
            i += MR;
        }
        match m - i {
            4 => self.tile::<4, V>(b, bj, i, j0),
            3 => self.tile::<3, V>(b, bj, i, j0),
            2 => self.tile::<2, V>(b, bj, i, j0),
            1 => self.tile::<1, V>(b, bj, i, j0),
            _ => {}
        }
    }

    /// out[i0..i0+R][j0..j0+4V] += A[i0..i0+R][..] . B[..][j0..j0+4V], in
    /// R x V accumulators: per step of k, V loads of B, R broadcasts of A.
    ///
    /// Each step's loads are two pointers and constant offsets from them,
    /// which LLVM folds into the loads' offset immediates and the engines
    /// into x86's addressing, as long as loop strength reduction leaves
    /// them be: `.cargo/config.toml` turns it off for wasm32. With it on,
    /// conv2's forward GEMM measured 40 % slower in Chromium, 10 % in
    /// Firefox.
    ///
    /// B's pointer moves on by its step, or walks an image's patches a
    /// row of the image at a time. `b` is the gemm's B or a copy of the
    /// panel, read from its column `bj`. Over a matrix the loop ends where
    /// A's pointer does, both moving on by steps in bytes: two adds and a
    /// compare a step, with no counter and no shift.
    ///
    /// The accumulators start from `out`, so that a tile ends in stores
    /// alone. (The three together made the short GEMMs, 25 to 64 steps a
    /// tile, 2 to 4 % faster.)
    #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
    #[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
    fn tile<const R: usize, const V: usize>(&mut self, b: Source<'_>, bj: usize, i0: usize, j0: usize) {
        let (out, n) = (self.out.as_mut_ptr(), self.n);
        let place = |r: usize, v: usize| out.wrapping_add((i0 + r) * n + j0 + 4 * v) as *mut v128;
        let mut acc = [[f32x4_splat(0.0); V]; R];
        if self.to == Out::Add {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                for (v, acc_rv) in acc_r.iter_mut().enumerate() {
                    // SAFETY: (i0+r)*n + j0 + 4v + 4 <= m*n <= out.len() (checked).
                    *acc_rv = unsafe { v128_load(place(r, v)) };
                }
            }
        }
        // Moved on by wrapping_add: after the last step they may point past
        // the operands, where they are never read.
        let a = self.a;
        let mut ap = a.data.as_ptr().wrapping_add(a.at(i0, 0));
        match b {
            Source::Matrix(b) => {
                let mut bp = b.data.as_ptr().wrapping_add(b.at(bj, 0));
                let (a_bytes, b_bytes) = (4 * a.step, 4 * b.step);
                // A's step is M or MR: never 0, so the loop takes K steps.
                debug_assert!(a_bytes > 0);
                let end = ap.wrapping_byte_add(self.k * a_bytes);
                while ap != end {
                    // SAFETY: at step p, ap..ap+R is A[i0..i0+R][p] and bp..bp+4V
                    // is B[p][bj..bj+4V], rows and columns inside (checked by gemm,
                    // or a panel's copy, K steps of 4V long).
                    unsafe { madd_step(&mut acc, ap, bp) };
                    ap = ap.wrapping_byte_add(a_bytes);
                    bp = bp.wrapping_byte_add(b_bytes);
                }
            }
            Source::Image(im) => {
                // Steps (c, ky, kx): kx along a row of the image.
                let corner = im.at(0, bj);
                for c in 0..im.channels {
                    for ky in 0..im.kernel {
                        let mut bp = im.img.as_ptr().wrapping_add(corner + c * im.plane + ky * im.width);
                        for _ in 0..im.kernel {
                            // SAFETY: A as above; bp..bp+4V is the image at (c, oy+ky,
                            // ox+kx..), 4V pixels of an output row on: inside it by its
                            // shape (checked by gemm).
                            unsafe { madd_step(&mut acc, ap, bp) };
                            ap = ap.wrapping_add(a.step);
                            bp = bp.wrapping_add(1);
                        }
                    }
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, acc_rv) in acc_r.iter().enumerate() {
                // SAFETY: as above.
                unsafe { v128_store(place(r, v), *acc_rv) };
            }
        }
    }
}

/// One step of k for an R x 4V tile: V loads of B at `b`, R broadcasts of
/// A at `a`, `a + 1`, ..., and R x V multiply-adds.
///
/// # Safety
/// `b..b + 4V` and `a..a + R` must be inside their operands.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
unsafe fn madd_step<const R: usize, const V: usize>(acc: &mut [[v128; V]; R], a: *const f32, b: *const f32) {
    let mut bv = [f32x4_splat(0.0); V];
    for (v, bv) in bv.iter_mut().enumerate() {
        // SAFETY: inside B (the caller's promise).
        *bv = unsafe { v128_load(b.add(4 * v) as *const v128) };
    }
    for (r, acc_r) in acc.iter_mut().enumerate() {
        // SAFETY: inside A (the caller's promise). One load-and-broadcast instruction.
        let av = unsafe { v128_load32_splat(a.add(r) as *const u32) };
        for (acc_rv, bv) in acc_r.iter_mut().zip(&bv) {
            *acc_rv = madd(av, *bv, *acc_rv);
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
