//! The GEMM of the AVX2 kernels, 16 floats wide, for CPUs with AVX-512
//! (`native` picks it at run time; `avx2::gemm_strided` hands over to it).
//! The register-blocked micro-kernel of `avx2` with twice the width and
//! twice the registers: up to 12 rows x 32 columns in 24 of the 32 zmm
//! registers, 2 loads of `b` and 12 broadcasts of `a` per step of k. The
//! columns a 32- or 16-wide panel leaves over go through one masked
//! vector, so no column falls back to scalar code.

use core::arch::x86_64::*;

use super::check_strided;

/// Rows of `out` a tile covers at most.
const ROWS: usize = 12;

/// out (M,N) += A . b (K,N) where A[i][p] = a[i*row_stride + p*k_stride]
/// (see `avx2::gemm_strided`).
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512VL, AVX2 and FMA.
#[allow(clippy::too_many_arguments, reason = "a GEMM's three operands, its shape and A's two strides, as avx2's")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub unsafe fn gemm_strided(out: &mut [f32], a: &[f32], row_stride: usize, k_stride: usize, b: &[f32], m: usize, k: usize, n: usize) {
    check_strided(out, a, row_stride, k_stride, b, m, k, n);
    let mut g = Gemm { out, a, row_stride, k_stride, b, k, n };
    let mut j = 0;
    while j + 32 <= n {
        g.panel::<2>(m, j, u16::MAX);
        j += 32;
    }
    if j + 16 <= n {
        g.panel::<1>(m, j, u16::MAX);
        j += 16;
    }
    if j < n {
        // The last 1..15 columns: one vector, masked.
        g.panel::<1>(m, j, (1u16 << (n - j)) - 1);
    }
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
    /// Columns j0..j0+16V of every row, `ROWS` rows at a time; `last`
    /// masks the columns of the last vector (all 16, or the leftovers).
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    fn panel<const V: usize>(&mut self, m: usize, j0: usize, last: u16) {
        let mut i = 0;
        while i + ROWS <= m {
            self.tile::<ROWS, V>(i, j0, last);
            i += ROWS;
        }
        match m - i {
            11 => self.tile::<11, V>(i, j0, last),
            10 => self.tile::<10, V>(i, j0, last),
            9 => self.tile::<9, V>(i, j0, last),
            8 => self.tile::<8, V>(i, j0, last),
            7 => self.tile::<7, V>(i, j0, last),
            6 => self.tile::<6, V>(i, j0, last),
            5 => self.tile::<5, V>(i, j0, last),
            4 => self.tile::<4, V>(i, j0, last),
            3 => self.tile::<3, V>(i, j0, last),
            2 => self.tile::<2, V>(i, j0, last),
            1 => self.tile::<1, V>(i, j0, last),
            _ => {}
        }
    }

    /// out[i0..i0+R][j0..j0+16V] += A[i0..i0+R][..] . b[..][j0..j0+16V],
    /// in R x V accumulators; the last vector's lanes outside `last` are
    /// neither read nor written.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    fn tile<const R: usize, const V: usize>(&mut self, i0: usize, j0: usize, last: u16) {
        let (k, n) = (self.k, self.n);
        let mask = |v: usize| if v + 1 == V { last } else { u16::MAX };
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..k {
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, b) in bv.iter_mut().enumerate() {
                // SAFETY: the masked lanes are columns j0+16v.. below n, so
                // every lane read is at most p*n + n - 1 < k*n <= b.len()
                // (checked by gemm_strided); masked-off lanes are not read.
                *b = unsafe { _mm512_maskz_loadu_ps(mask(v), self.b.as_ptr().add(p * n + j0 + 16 * v)) };
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // SAFETY: i0 + r < m and p < k, so the index is at most
                // (m-1)*row_stride + (k-1)*k_stride < a.len() (checked).
                let av = _mm512_set1_ps(unsafe { *self.a.get_unchecked((i0 + r) * self.row_stride + p * self.k_stride) });
                for (acc_rv, b) in acc_r.iter_mut().zip(&bv) {
                    *acc_rv = _mm512_fmadd_ps(av, *b, *acc_rv);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, acc_rv) in acc_r.iter().enumerate() {
                // SAFETY: the lanes in the mask are columns below n of row
                // i0 + r < m: at most m*n - 1 < out.len() (checked).
                unsafe {
                    let ptr = self.out.as_mut_ptr().add((i0 + r) * n + j0 + 16 * v);
                    let sum = _mm512_add_ps(_mm512_maskz_loadu_ps(mask(v), ptr), *acc_rv);
                    _mm512_mask_storeu_ps(ptr, mask(v), sum);
                }
            }
        }
    }
}
