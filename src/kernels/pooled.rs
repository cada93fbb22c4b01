//! The sparse backward pass of a convolution followed by 2x2 max-pooling,
//! shared by the vector twins (`simd128`, and `native`'s AVX2 and
//! AVX-512): each pooled value is one weighted row of the unfolded image.
//! A twin brings the three loops that touch memory (`Sparse`); the walk
//! of the winners and the sorting of the terms live here once.

use super::{corner, ConvShape, Out, PooledBackward};

/// What a vector twin brings to `backward_pooled_sparse`.
pub(crate) trait Sparse {
    /// Floats past the end of a row of `src` that `weighted_rows` may
    /// read (it stores none of them): simd128's last vector of conv1's
    /// 25 columns reads 3 on; masked loads read none.
    const SLACK: usize;
    /// cols_t (OH*OW, C*K*K) = the image's patches, one a row.
    fn im2col_t(&self, cols_t: &mut [f32], img: &[f32], s: &ConvShape);
    /// dimg (C,H,W) += cols_t folded back: the adjoint of `im2col_t`.
    fn col2im_t_add(&self, dimg: &mut [f32], cols_t: &[f32], s: &ConvShape);
    /// Row r of out (`starts.len() - 1` rows of n) += (or =, as `to`
    /// says) the sum over its terms, terms[starts[r]..starts[r + 1]],
    /// (at, g) of g * src[at..at + n], in that order, each column's sum
    /// started at zero (its operands checked by `Rows::checked`).
    fn weighted_rows(&self, out: &mut [f32], n: usize, src: &[f32], terms: &[Term], starts: &[usize], to: Out);
}

/// The backward pass of a convolution followed by 2x2 max-pooling, from
/// the pooling's output gradient (see `scalar`). Each pooled value
/// reaches one output pixel, its window's winner: three quarters of the
/// convolution's output gradient are zeros, which the dense kernels
/// multiply through. Here each pooled value g of channel o, won at pixel
/// x, is one weighted row:
///
/// - dweight[o] += the sum of g * patch(x) over o's windows, the patches
///   being rows of im2col(image)^T (`im2col_t`), of as many images at a
///   time as give each channel `ROW_TERMS` windows (conv2's two images of
///   16: 1.95 against 1.76 ms a chunk natively with AVX-512, 3.09 against
///   3.00 with relaxed SIMD in Chromium; conv1's 144 take one);
/// - per image, each pixel's row of dcols^T (OH*OW, C*K*K) is the sum of
///   g * weight[o] over the channels o it won for, folded back into dinp
///   by `col2im_t_add`.
///
/// A quarter of the dense kernels' multiply-adds, and no dense dout.
#[track_caller]
pub(crate) fn backward_pooled_sparse<T: Sparse>(op: PooledBackward, twin: T) {
    let PooledBackward { dweight, mut dinp, pooled, inp, shape: s, .. } = op;
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
    let patches = ckk * p;
    TERMS.with_borrow_mut(|Terms { cols, terms, pixels, by_pixel, starts }| {
        // (At most 8, so that tiny planes do not unfold a whole batch.)
        let together = (ROW_TERMS / windows.max(1)).clamp(1, 8);
        // Room for their patches and the twin's slack past the last.
        cols.resize(together * patches + T::SLACK, 0.0);
        let furthest = (together * patches).max(oc * ckk);
        assert!(u32::try_from(furthest).is_ok(), "{s:?} unfolds past what a term's u32 can reach");
        for first in (0..s.batch).step_by(together) {
            let images = first..(first + together).min(s.batch);
            let n = images.len();
            for (i, b) in images.clone().enumerate() {
                twin.im2col_t(&mut cols[i * patches..], &inp[b * img_len..(b + 1) * img_len], s);
            }
            // The images' pooled values, channel by channel, image by
            // image, window by window: channel o's terms are its windows'
            // in every image, whose patches lie one after the other. Each
            // window's winner first as its pixel, then as its patch: two
            // plain loops over a plane's windows, no division, no checks.
            let count = n * oc * windows;
            terms.resize(count, (0, 0.0));
            pixels.resize(count, 0);
            let (wh, ww) = (s.out_height() / 2, ow / 2);
            let mut at = 0;
            for o in 0..oc {
                for (i, b) in images.clone().enumerate() {
                    let plane = (b * oc + o) * windows..(b * oc + o + 1) * windows;
                    let (grad, argmax) = (&pooled.grad[plane.clone()], &pooled.argmax[plane]);
                    let (terms, pixels) = (&mut terms[at..at + windows], &mut pixels[at..at + windows]);
                    for wy in 0..wh {
                        let top = 2 * wy * ow;
                        let row = wy * ww..(wy + 1) * ww;
                        for (wx, (pixel, &q)) in pixels[row.clone()].iter_mut().zip(&argmax[row.clone()]).enumerate() {
                            *pixel = (top + 2 * wx) as u32 + corner(q, ow as u32);
                        }
                    }
                    let first = (i * patches) as u32;
                    for ((t, &pixel), &g) in terms.iter_mut().zip(pixels.iter()).zip(grad) {
                        *t = (first + pixel * ckk as u32, g);
                    }
                    at += windows;
                }
            }
            starts.clear();
            starts.extend((0..=oc).map(|o| o * n * windows));
            twin.weighted_rows(dweight, ckk, cols, terms, starts, Out::Add);
            let Some((dinp, weight)) = dinp.as_mut() else { continue };
            for (i, b) in images.enumerate() {
                // Image i's terms by pixel, by a counting sort: counted two
                // places on, summed, and then used one place on as each
                // pixel's next free place, which leaves pixel x's terms at
                // by_pixel[starts[x]..starts[x + 1]], each a row of the weight.
                let mine = |o: usize| (o * n + i) * windows..;
                starts.clear();
                starts.resize(p + 2, 0);
                for o in 0..oc {
                    for &x in &pixels[mine(o)][..windows] {
                        starts[x as usize + 2] += 1;
                    }
                }
                for x in 2..p + 2 {
                    starts[x] += starts[x - 1];
                }
                by_pixel.resize(oc * windows, (0, 0.0));
                for o in 0..oc {
                    for (&x, &(_, g)) in pixels[mine(o)].iter().zip(&terms[mine(o)]).take(windows) {
                        let next = &mut starts[x as usize + 1];
                        by_pixel[*next] = ((o * ckk) as u32, g);
                        *next += 1;
                    }
                }
                // The patches are used: image i's dcols^T takes their place.
                twin.weighted_rows(cols, ckk, weight, by_pixel, &starts[..p + 1], Out::Set);
                twin.col2im_t_add(&mut dinp[b * img_len..(b + 1) * img_len], cols, s);
            }
        }
    });
}

/// `backward_pooled_sparse` unfolds images together until each channel
/// has this many windows among them, so that its filter gradient gathers
/// all of their terms in one pass of its accumulators. Four of conv2's
/// images (64) measured slower than two natively (1.98 ms): the columns
/// of their patches that a pass reads outgrow the L1 cache.
const ROW_TERMS: usize = 32;

/// A weighted row: where it starts in its source, and its factor.
pub(crate) type Term = (u32, f32);

/// The operands of a `weighted_rows` call, checked (`Rows::checked`): row
/// r of `out` (n columns) is the sum of its terms, terms[starts[r]..
/// starts[r + 1]], each (at, g) the row src[at..at + n] times g; `to`
/// says whether that sum is added to the row or replaces it. Each twin
/// adds its own passes over the columns.
pub(crate) struct Rows<'a> {
    pub(crate) out: &'a mut [f32],
    pub(crate) n: usize,
    pub(crate) src: &'a [f32],
    pub(crate) terms: &'a [Term],
    pub(crate) starts: &'a [usize],
    pub(crate) to: Out,
    /// How far every term's row can be read: src.len() less the furthest
    /// row's start (at least n; unbounded without terms). SIMD128 reads
    /// its last columns as a whole vector where this allows; the x86-64
    /// twins' masked loads never read past n.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    pub(crate) reach: usize,
}

impl<'a> Rows<'a> {
    /// The checks every `weighted_rows` makes before its unchecked loads:
    /// `out` holds every row, the rows' terms are in order, and each
    /// term's row, at..at + n, lies inside src (`reach` says how much
    /// further a twin may read).
    #[track_caller]
    pub(crate) fn checked(out: &'a mut [f32], n: usize, src: &'a [f32], terms: &'a [Term], starts: &'a [usize], to: Out) -> Self {
        let rows = starts.len() - 1;
        assert!(out.len() >= rows * n, "out is too short for ({rows},{n})");
        assert!(starts.windows(2).all(|r| r[0] <= r[1]) && starts[rows] <= terms.len(), "the rows' terms are out of order");
        // No terms, no reads: any reach will do.
        let reach = terms.iter().map(|&(at, _)| at as usize).max().map_or(usize::MAX, |furthest| src.len().saturating_sub(furthest));
        assert!(n <= reach, "a weighted row is outside src");
        Rows { out, n, src, terms, starts, to, reach }
    }
}

/// `backward_pooled_sparse`'s unfolded images, side by side, and its
/// weighted rows (where each starts in its source, its factor): the
/// images' by channel, with the pixel each reaches, then one image's by
/// pixel; and where each output row's first is.
struct Terms {
    cols: Vec<f32>,
    terms: Vec<Term>,
    pixels: Vec<u32>,
    by_pixel: Vec<Term>,
    starts: Vec<usize>,
}

std::thread_local! {
    /// Kept from call to call, so that a training step allocates nothing
    /// after its first.
    static TERMS: std::cell::RefCell<Terms> =
        const { std::cell::RefCell::new(Terms { cols: Vec::new(), terms: Vec::new(), pixels: Vec::new(), by_pixel: Vec::new(), starts: Vec::new() }) };
}

/// The im2col_t layout, walked for both directions: for each output pixel
/// (oy, ox) and each row of its patch (channel c, ky), `f(where that row
/// starts in cols_t, where its K values start in the image)`, K = `k`, the
/// kernel's side, passed on its own so that a caller can make it a
/// constant (LeNet-5's 5), which takes a third off both walks.
#[inline(always)]
pub(crate) fn for_each_patch_segment(s: &ConvShape, k: usize, mut f: impl FnMut(usize, usize)) {
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
