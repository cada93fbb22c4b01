//! The loops of the sparse pooled backward pass (`pooled::Sparse`) for
//! x86-64, written once over the vector (`Lanes`): AVX2's 8 floats and
//! AVX-512's 16. Each twin's code is its `#[target_feature]` entry points
//! with the generic loops inlined into them, every method of `Lanes`
//! being `#[inline(always)]` (the memchr crate builds its SSE2 and AVX2
//! searches from one generic body the same way). Masked loads and stores
//! take the columns a whole vector leaves over, so no column falls back
//! to scalar code and no row is read past its end.

use core::arch::x86_64::*;

use super::pooled::{for_each_patch_segment, Rows, Sparse, Term};
use super::{ConvShape, Out};

/// A vector of floats, with what the weighted rows do with one. Every
/// function is unsafe: the CPU must have the vector's features, and a
/// load or store must stay inside its slice.
trait Lanes: Copy {
    const WIDTH: usize;
    /// Which lanes a partial load or store touches.
    type Mask: Copy;
    /// The first `n` lanes, 1 <= n <= WIDTH.
    unsafe fn first(n: usize) -> Self::Mask;
    unsafe fn zero() -> Self;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(at: *const f32) -> Self;
    /// The lanes of `mask` from `at` on, zeros elsewhere (not read).
    unsafe fn load_part(at: *const f32, mask: Self::Mask) -> Self;
    unsafe fn store(v: Self, at: *mut f32);
    /// Stores the lanes of `mask` only.
    unsafe fn store_part(v: Self, at: *mut f32, mask: Self::Mask);
    /// a * b + c, fused.
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
}

/// `Lanes`'s functions, each one intrinsic, with their safety argument once.
macro_rules! intrinsics {
    ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:expr;)*) => {$(
        #[inline(always)]
        unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the caller's promise (see `Lanes`): the CPU has the
            // vector's features, and each lane read or written is inside its slice.
            unsafe { $body }
        }
    )*};
}

impl Lanes for __m256 {
    const WIDTH: usize = 8;
    type Mask = __m256i;
    intrinsics! {
        first(n: usize) -> __m256i = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        zero() -> Self = _mm256_setzero_ps();
        splat(x: f32) -> Self = _mm256_set1_ps(x);
        load(at: *const f32) -> Self = _mm256_loadu_ps(at);
        load_part(at: *const f32, mask: __m256i) -> Self = _mm256_maskload_ps(at, mask);
        store(v: Self, at: *mut f32) = _mm256_storeu_ps(at, v);
        store_part(v: Self, at: *mut f32, mask: __m256i) = _mm256_maskstore_ps(at, mask, v);
        mul_add(a: Self, b: Self, c: Self) -> Self = _mm256_fmadd_ps(a, b, c);
        add(a: Self, b: Self) -> Self = _mm256_add_ps(a, b);
    }
}

impl Lanes for __m512 {
    const WIDTH: usize = 16;
    type Mask = __mmask16;
    #[inline(always)]
    unsafe fn first(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }
    intrinsics! {
        zero() -> Self = _mm512_setzero_ps();
        splat(x: f32) -> Self = _mm512_set1_ps(x);
        load(at: *const f32) -> Self = _mm512_loadu_ps(at);
        load_part(at: *const f32, mask: __mmask16) -> Self = _mm512_maskz_loadu_ps(mask, at);
        store(v: Self, at: *mut f32) = _mm512_storeu_ps(at, v);
        store_part(v: Self, at: *mut f32, mask: __mmask16) = _mm512_mask_storeu_ps(at, mask, v);
        mul_add(a: Self, b: Self, c: Self) -> Self = _mm512_fmadd_ps(a, b, c);
        add(a: Self, b: Self) -> Self = _mm512_add_ps(a, b);
    }
}

/// `Sparse::weighted_rows` in vectors L: one load per multiply-add, eight
/// vectors of columns of every row at a time (those columns of two of
/// conv2's images, 128 patches: 32 KB with AVX2, which stay in the L1
/// cache while every row passes over them; 64 KB with AVX-512, which
/// outgrow it, yet two images measured faster than one there too), then
/// the last one to eight vectors, the last of them masked (conv2's 500 columns: 3 x 128 + 116 with AVX-512;
/// conv1's 25: 16 + 9). Eight rather than four measured 1.87 ms against
/// 2.09 for conv2's pass with AVX2, and the same with AVX-512.
///
/// # Safety
/// The CPU must have L's features.
#[inline(always)]
unsafe fn weighted_rows<L: Lanes>(out: &mut [f32], n: usize, src: &[f32], terms: &[Term], starts: &[usize], to: Out) {
    let mut rows = Rows::checked(out, n, src, terms, starts, to);
    let (width, mut j) = (L::WIDTH, 0);
    // SAFETY: the CPU has L's features (the caller's promise); each call's
    // columns lie inside n, and the rows were checked above.
    unsafe {
        while j + 8 * width <= n {
            rows.columns::<L, 8, false>(j, width);
            j += 8 * width;
        }
        let vectors = (n - j).div_ceil(width);
        let last = (n - j).saturating_sub((vectors.max(1) - 1) * width);
        match vectors {
            0 => {}
            1 => rows.columns::<L, 1, true>(j, last),
            2 => rows.columns::<L, 2, true>(j, last),
            3 => rows.columns::<L, 3, true>(j, last),
            4 => rows.columns::<L, 4, true>(j, last),
            5 => rows.columns::<L, 5, true>(j, last),
            6 => rows.columns::<L, 6, true>(j, last),
            7 => rows.columns::<L, 7, true>(j, last),
            _ => rows.columns::<L, 8, true>(j, last),
        }
    }
}

impl Rows<'_> {
    /// Columns j..j + V * WIDTH of every row, in V accumulators; with
    /// `PART`, the last vector's first `last` lanes only.
    ///
    /// # Safety
    /// The CPU must have L's features; the columns (with `PART`, up to
    /// j + (V - 1) * WIDTH + last) lie inside n; the operands are checked.
    #[inline(always)]
    unsafe fn columns<L: Lanes, const V: usize, const PART: bool>(&mut self, j: usize, last: usize) {
        // SAFETY: the caller's promise. Every term's row
        // at..at + n lies inside src, and every row r's r*n..(r + 1)*n
        // inside out (checked), so each vector read or written, inside
        // columns j..j + V * WIDTH (or masked to them), does too.
        unsafe {
            // The operands as locals, held in registers across the stores.
            let (out, src, n, to) = (self.out.as_mut_ptr(), self.src.as_ptr(), self.n, self.to);
            let mask = L::first(if PART { last } else { L::WIDTH });
            let load = |at: *const f32, v: usize| if PART && v + 1 == V { L::load_part(at, mask) } else { L::load(at) };
            for (r, range) in self.starts.windows(2).enumerate() {
                let mut acc = [L::zero(); V];
                for &(at, g) in self.terms.get_unchecked(range[0]..range[1]) {
                    let (g, row) = (L::splat(g), src.add(at as usize + j));
                    for (v, acc) in acc.iter_mut().enumerate() {
                        *acc = L::mul_add(g, load(row.add(v * L::WIDTH), v), *acc);
                    }
                }
                let out = out.add(r * n + j);
                for (v, acc) in acc.into_iter().enumerate() {
                    let at = out.add(v * L::WIDTH);
                    let sum = if to == Out::Add { L::add(load(at, v), acc) } else { acc };
                    if PART && v + 1 == V {
                        L::store_part(sum, at, mask);
                    } else {
                        L::store(sum, at);
                    }
                }
            }
        }
    }
}

/// `Sparse::im2col_t`: cols_t (OH*OW, C*K*K), each output pixel's patch
/// in one row, copied a row of the patch (K floats) at a time, K a
/// constant for LeNet-5's 5, with the bounds checked once.
#[inline(always)]
fn im2col_t(cols_t: &mut [f32], img: &[f32], s: &ConvShape) {
    assert!(cols_t.len() >= s.cols_len() && img.len() >= s.in_channels * s.height * s.width);
    let (dst, src) = (cols_t.as_mut_ptr(), img.as_ptr());
    // SAFETY: the walk's places, k floats each, lie inside both (asserted).
    let copy = |k: usize, at_t: usize, at_img: usize| unsafe { std::ptr::copy_nonoverlapping(src.add(at_img), dst.add(at_t), k) };
    match s.kernel {
        5 => for_each_patch_segment(s, 5, |at_t, at_img| copy(5, at_t, at_img)),
        k => for_each_patch_segment(s, k, |at_t, at_img| copy(k, at_t, at_img)),
    }
}

/// `Sparse::col2im_t_add`: the adjoint of `im2col_t`.
#[inline(always)]
fn col2im_t_add(dimg: &mut [f32], cols_t: &[f32], s: &ConvShape) {
    assert!(cols_t.len() >= s.cols_len() && dimg.len() >= s.in_channels * s.height * s.width);
    let (dst, src) = (dimg.as_mut_ptr(), cols_t.as_ptr());
    let add = |k: usize, at_t: usize, at_img: usize| {
        for i in 0..k {
            // SAFETY: the walk's places, k floats each, lie inside both (asserted).
            unsafe { *dst.add(at_img + i) += *src.add(at_t + i) };
        }
    };
    match s.kernel {
        5 => for_each_patch_segment(s, 5, |at_t, at_img| add(5, at_t, at_img)),
        k => for_each_patch_segment(s, k, |at_t, at_img| add(k, at_t, at_img)),
    }
}

/// A twin of `pooled::Sparse` for one vector type: a token that exists
/// only where the CPU has the vector's features, and the three loops
/// compiled with them.
macro_rules! twin {
    ($(#[$doc:meta])* $name:ident, $lanes:ty, $features:literal) => {
        $(#[$doc])*
        pub(super) struct $name(());

        impl $name {
            /// # Safety
            #[doc = concat!("The CPU must have ", $features, ".")]
            pub(super) unsafe fn new() -> Self {
                $name(())
            }
        }

        impl Sparse for $name {
            const SLACK: usize = 0;
            fn im2col_t(&self, cols_t: &mut [f32], img: &[f32], s: &ConvShape) {
                #[target_feature(enable = $features)]
                fn run(cols_t: &mut [f32], img: &[f32], s: &ConvShape) {
                    im2col_t(cols_t, img, s)
                }
                // SAFETY: a token exists only where the CPU has the features.
                unsafe { run(cols_t, img, s) }
            }
            fn col2im_t_add(&self, dimg: &mut [f32], cols_t: &[f32], s: &ConvShape) {
                #[target_feature(enable = $features)]
                fn run(dimg: &mut [f32], cols_t: &[f32], s: &ConvShape) {
                    col2im_t_add(dimg, cols_t, s)
                }
                // SAFETY: as above.
                unsafe { run(dimg, cols_t, s) }
            }
            fn weighted_rows(&self, out: &mut [f32], n: usize, src: &[f32], terms: &[Term], starts: &[usize], to: Out) {
                #[target_feature(enable = $features)]
                fn run(out: &mut [f32], n: usize, src: &[f32], terms: &[Term], starts: &[usize], to: Out) {
                    // SAFETY: this function runs with the features.
                    unsafe { weighted_rows::<$lanes>(out, n, src, terms, starts, to) }
                }
                // SAFETY: as above.
                unsafe { run(out, n, src, terms, starts, to) }
            }
        }
    };
}

twin!(
    /// AVX2 with FMA: 8 floats a vector.
    Avx2,
    __m256,
    "avx2,fma"
);
twin!(
    /// AVX-512 (F and VL, with AVX2 and FMA): 16 floats a vector.
    Avx512,
    __m512,
    "avx512f,avx512vl,avx2,fma"
);
