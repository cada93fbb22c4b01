//! The GEMM engine: operands packed into row groups, column panels of B,
//! and the register-blocked micro-kernel.

use core::arch::wasm32::*;

use super::madd;
use crate::kernels::{ConvShape, Out};

/// Rows of a micro-kernel tile: 5 rows by 8 columns hold 10 accumulators,
/// enough independent chains to keep the multiply-add ports busy through
/// their latency, with room left in x86's 16 vector registers (where the
/// engines put v128s) for the 2 loads of `b` and the broadcast of `a`.
/// More rows spill registers (see www/bench/NOTES.md).
pub(super) const MR: usize = 5;
/// Columns of a tile, two vectors: the width of a column panel.
pub(super) const PANEL: usize = 8;

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
pub(super) struct Operand<'a> {
    data: &'a [f32],
    group_stride: usize,
    step: usize,
}

impl<'a> Operand<'a> {
    /// A row-major (K, N) matrix as B, or a (K, M) matrix as A^T: every
    /// group is already side by side.
    pub(super) fn rows(data: &'a [f32], width: usize) -> Self {
        Operand { data, group_stride: 1, step: width }
    }

    /// Where element (i, p) lies.
    fn at(&self, i: usize, p: usize) -> usize {
        (i - i % MR) * self.group_stride + p * self.step + i % MR
    }
}

/// The length `pack_rows` needs for M rows of K.
pub(super) fn packed_len(m: usize, k: usize) -> usize {
    m.div_ceil(MR) * MR * k
}

/// A[i][p] = a[i*row_stride + p*k_stride] (M,K) packed into `dst` as row
/// groups: group g is K steps of its MR values (the last group's missing
/// rows are left as they were, and never read).
pub(super) fn pack_rows<'d>(dst: &'d mut [f32], a: &[f32], row_stride: usize, k_stride: usize, m: usize, k: usize) -> Operand<'d> {
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
pub(super) fn pack_group(dst: &mut [f32], a: &[f32], row_stride: usize, k: usize) {
    const { assert!(MR == 5, "pack_group transposes 4 rows and adds a fifth") };
    assert!(dst.len() == MR * k && (k == 0 || a.len() >= (MR - 1) * row_stride + k), "a or dst does not fit a group of ({MR},{k})");
    let (src, to) = (a.as_ptr(), dst.as_mut_ptr());
    let mut p = 0;
    while p + 4 <= k {
        // SAFETY: rows r < MR, values p..p+4 < k: inside a (asserted).
        let row = |r: usize| unsafe { v128_load(src.add(r * row_stride + p) as *const v128) };
        let (steps, r4) = (transpose4([row(0), row(1), row(2), row(3)]), row(4));
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
pub(super) struct Patches<'a> {
    img: &'a [f32],
    channels: usize,
    kernel: usize,
    width: usize,
    plane: usize,
    out_width: usize,
}

impl<'a> Patches<'a> {
    #[track_caller]
    pub(super) fn new(img: &'a [f32], s: &ConvShape) -> Self {
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

/// A GEMM operand: a matrix (`Operand`), im2col(image) read in place, or
/// the transpose of a row-major (N, K) matrix, whose panels `gemm` always
/// copies out transposed (`Gemm::panel`).
#[derive(Clone, Copy)]
pub(super) enum BOperand<'a> {
    Matrix(Operand<'a>),
    Image(Patches<'a>),
    /// B (K, N) as `data` (N, K): element (p, j) at data[j * k + p].
    Transposed {
        data: &'a [f32],
        k: usize,
    },
}

/// out (M,N) += A (M,K) . B (K,N) (or =, as `to` says).
///
/// Column panels outside, row groups inside: a panel of B (K x 8, 16 KB
/// for conv2's K = 500) stays in the L1 cache while every row group of
/// A passes over it. Columns past the last panel of 4 are scalar code.
#[track_caller]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
pub(super) fn gemm(out: &mut [f32], a: Operand, b: BOperand, m: usize, k: usize, n: usize, to: Out) {
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
        BOperand::Matrix(b) => {
            assert!(b.at(n - 1, k - 1) < b.data.len(), "b is too short for ({k},{n})");
            n - n % 4
        }
        BOperand::Image(b) => {
            assert!(
                b.out_width.is_multiple_of(PANEL) && k == b.channels * b.kernel * b.kernel && n == b.out_width * b.out_height(),
                "B is no image's patches"
            );
            n
        }
        BOperand::Transposed { data, k: width } => {
            assert!(width == k && data.len() >= n * k, "b is too short for ({n},{k})");
            n - n % 4
        }
    };
    let mut g = Gemm { out, a, b, k, n, to };
    // A panel of a wide B is K rows a cache line apart: past about 256
    // of them it leaves the L1 cache before the next row group reads it
    // again. Copied together first, it stays.
    // A transposed B is always copied, its rows becoming the panel's columns.
    let pack = match b {
        BOperand::Matrix(b) => b.step > PANEL && k >= 256 && m > MR,
        BOperand::Image(_) => false,
        BOperand::Transposed { .. } => true,
    };
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

impl<'a> BOperand<'a> {
    /// A row-major (K, N) matrix.
    pub(super) fn rows(data: &'a [f32], width: usize) -> Self {
        BOperand::Matrix(Operand::rows(data, width))
    }

    /// Element (p, j) of B.
    fn value(&self, p: usize, j: usize) -> f32 {
        match self {
            BOperand::Matrix(b) => b.data[b.at(j, p)],
            BOperand::Image(im) => im.img[im.at(p, j)],
            BOperand::Transposed { data, k } => data[j * k + p],
        }
    }
}

/// The operands of `gemm`, checked by it.
pub(super) struct Gemm<'a> {
    out: &'a mut [f32],
    a: Operand<'a>,
    b: BOperand<'a>,
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
            (BOperand::Matrix(b), Some(scratch)) => {
                let w = 4 * V;
                for (p, to) in scratch[..self.k * w].chunks_exact_mut(w).enumerate() {
                    let from = b.at(j0, p);
                    to.copy_from_slice(&b.data[from..from + w]);
                }
                (BOperand::Matrix(Operand { data: &scratch[..self.k * w], group_stride: 1, step: w }), 0)
            }
            (BOperand::Transposed { data, k }, Some(scratch)) => {
                let w = 4 * V;
                transpose_rows(&mut scratch[..k * w], &data[j0 * k..(j0 + w) * k], k);
                (BOperand::Matrix(Operand { data: &scratch[..k * w], group_stride: 1, step: w }), 0)
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
    /// them be: `.cargo/config.toml` turns it off for wasm32, because its
    /// rewritten induction variables cost the engines a register and an
    /// add per load.
    ///
    /// B's pointer moves on by its step, or walks an image's patches a
    /// row of the image at a time. `b` is the gemm's B or a copy of the
    /// panel, read from its column `bj`. Over a matrix the loop ends where
    /// A's pointer does, both moving on by steps in bytes: two adds and a
    /// compare a step, with no counter and no shift.
    ///
    /// The accumulators start from `out`, so that a tile ends in stores
    /// alone: no loads and adds after the loop, which counts for the
    /// short GEMMs of 25 to 64 steps a tile.
    #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
    #[cfg_attr(feature = "relaxed-simd", inline, target_feature(enable = "relaxed-simd"))]
    fn tile<const R: usize, const V: usize>(&mut self, b: BOperand<'_>, bj: usize, i0: usize, j0: usize) {
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
            BOperand::Matrix(b) => {
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
            BOperand::Image(im) => {
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
            // `panel` copies it out as a matrix.
            BOperand::Transposed { .. } => unreachable!("a transposed B reached a tile uncopied"),
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, acc_rv) in acc_r.iter().enumerate() {
                // SAFETY: as above.
                unsafe { v128_store(place(r, v), *acc_rv) };
            }
        }
    }
}

/// Four vectors, rows of a 4 x 4 block, as its four columns.
#[inline(always)]
fn transpose4([r0, r1, r2, r3]: [v128; 4]) -> [v128; 4] {
    let (t0, t1) = (i32x4_shuffle::<0, 4, 1, 5>(r0, r1), i32x4_shuffle::<2, 6, 3, 7>(r0, r1));
    let (t2, t3) = (i32x4_shuffle::<0, 4, 1, 5>(r2, r3), i32x4_shuffle::<2, 6, 3, 7>(r2, r3));
    [
        i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
        i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
        i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
        i32x4_shuffle::<2, 3, 6, 7>(t1, t3),
    ]
}

/// dst (K, W) = rows (W, K) transposed, W a multiple of 4: four rows by
/// four steps of k at a time, transposed in registers.
fn transpose_rows(dst: &mut [f32], rows: &[f32], k: usize) {
    let w = dst.len() / k.max(1);
    assert!(w.is_multiple_of(4) && dst.len() == w * k && rows.len() == w * k, "({w},{k}) rows do not fit");
    let (src, to) = (rows.as_ptr(), dst.as_mut_ptr());
    for c in (0..w).step_by(4) {
        let mut p = 0;
        while p + 4 <= k {
            // SAFETY: rows c..c+4 < w, values p..p+4 <= k: inside rows (asserted).
            let row = |r: usize| unsafe { v128_load(src.add((c + r) * k + p) as *const v128) };
            for (q, step) in transpose4([row(0), row(1), row(2), row(3)]).into_iter().enumerate() {
                // SAFETY: step p + q < k, columns c..c+4 <= w: inside dst (asserted).
                unsafe { v128_store(to.add((p + q) * w + c) as *mut v128, step) };
            }
            p += 4;
        }
        for p in p..k {
            for r in 0..4 {
                dst[p * w + c + r] = rows[(c + r) * k + p];
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
pub(super) unsafe fn madd_step<const R: usize, const V: usize>(acc: &mut [[v128; V]; R], a: *const f32, b: *const f32) {
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
