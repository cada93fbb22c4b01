//! The arithmetic: GEMM and convolution kernels.
//!
//! `scalar` is the plain reference, the oracle of the parity tests. Its
//! twins mirror it signature for signature: `simd128` (WebAssembly
//! SIMD128, chosen at compile time where the target has it, as
//! `.cargo/config.toml` sets for wasm32) and `avx2` (x86-64 AVX2 with
//! fused multiply-add, chosen at run time by `native` where the CPU has
//! it; `avx512`'s wider GEMM where it has that too; `cpu` says which).
//! Callers use `best`, the fastest twin this build can run, and never see
//! a `cfg`: `simd128` in the browser, `native` on x86-64, `scalar`
//! everywhere else. What the vector twins share is written once: tanh's
//! approximation in `tanh`, and in `pooled` the sparse backward pass of a
//! convolution followed by max-pooling, each twin bringing its three
//! loops (natively `lanes`, one body over AVX2's and AVX-512's vectors).
//!
//! Every kernel *accumulates* into its output (`out += ...`): callers zero
//! or pre-fill (with a bias) first.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "x86_64")]
pub mod cpu;
#[cfg(target_arch = "x86_64")]
mod lanes;
#[cfg(target_arch = "x86_64")]
pub mod native;
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
mod pooled;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
mod tanh;

#[cfg(target_arch = "x86_64")]
pub use self::native as best;
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
pub use self::scalar as best;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use self::simd128 as best;

/// Shapes of a valid (no padding, stride 1) square-kernel convolution.
/// `inp` is (B,C,H,W), `weight` is (OC,C,K,K), `out` is (B,OC,H-K+1,W-K+1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: usize,
}

impl ConvShape {
    pub fn out_height(&self) -> usize {
        self.height - self.kernel + 1
    }
    pub fn out_width(&self) -> usize {
        self.width - self.kernel + 1
    }
    pub fn inp_len(&self) -> usize {
        self.batch * self.in_channels * self.height * self.width
    }
    pub fn out_len(&self) -> usize {
        self.batch * self.out_channels * self.out_height() * self.out_width()
    }
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.in_channels * self.kernel * self.kernel
    }
    /// (C*K*K, OH*OW, C*H*W): the GEMM sizes of one image, and its length.
    pub fn gemm_dims(&self) -> (usize, usize, usize) {
        let ckk = self.in_channels * self.kernel * self.kernel;
        (ckk, self.out_height() * self.out_width(), self.in_channels * self.height * self.width)
    }

    /// Length of the im2col buffer of one image: (C*K*K, OH*OW).
    pub fn cols_len(&self) -> usize {
        self.in_channels * self.kernel * self.kernel * self.out_height() * self.out_width()
    }

    /// OC rounded up to a multiple of `lanes` (at most 8, AVX2's width,
    /// which `workspace_len` makes room for).
    pub fn padded_out_channels_to(&self, lanes: usize) -> usize {
        assert!(lanes <= 8, "the workspace has room for padding to 8");
        self.out_channels.next_multiple_of(lanes)
    }

    /// Length of the workspace the convolution kernels take: the im2col
    /// buffer (C*K*K, OH*OW), then room for what each twin keeps beside
    /// it. AVX2: one image's output gradient transposed (OH*OW, OC') and
    /// the filter gradient transposed (C*K*K, OC'), OC' being OC padded
    /// to 8. SIMD128: the weight or one image's output gradient packed in
    /// groups of 5 rows (OC, or C*K*K, rounded up to 5).
    pub fn workspace_len(&self) -> usize {
        let (ckk, p) = (self.in_channels * self.kernel * self.kernel, self.out_height() * self.out_width());
        ckk * p + (p + ckk + 4) * self.padded_out_channels_to(8).max(self.out_channels.next_multiple_of(5))
    }

    #[track_caller]
    pub(crate) fn check(&self, inp: usize, weight: usize, out: usize) {
        assert!(self.kernel <= self.height && self.kernel <= self.width, "kernel larger than image: {self:?}");
        assert_eq!(inp, self.inp_len(), "input length does not match {self:?}");
        assert_eq!(weight, self.weight_len(), "weight length does not match {self:?}");
        assert_eq!(out, self.out_len(), "output length does not match {self:?}");
    }
}

/// What a kernel does with its output: out += the result, or out = the
/// result (the caller's own scratch, which then needs no zeroing first).
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Out {
    Add,
    Set,
}

/// The gradient of a 2x2 max-pooling's output (N,H/2,W/2), with the
/// winner of each window that its forward pass recorded (0..4,
/// row-major): where the backward pass of a convolution followed by
/// pooling starts (`conv2d_backward_pooled`).
#[derive(Clone, Copy)]
pub struct Pooled<'a> {
    pub grad: &'a [f32],
    pub argmax: &'a [u8],
}

impl Pooled<'_> {
    /// `f` of each pooled value of planes `planes` (each (H/2,W/2) of a
    /// plane (H,W)), in order, with where its window's winner lies: a
    /// walk of the windows, with no division.
    #[inline(always)]
    pub(crate) fn each_winner(&self, planes: std::ops::Range<usize>, h: usize, w: usize, mut f: impl FnMut(Winner)) {
        let (wh, ww) = (h / 2, w / 2);
        for plane in planes {
            for wy in 0..wh {
                let row = (plane * wh + wy) * ww;
                for (wx, &q) in self.argmax[row..row + ww].iter().enumerate() {
                    f(Winner { plane, at: row + wx, pixel: 2 * wy * w + 2 * wx + corner(q, w as u32) as usize });
                }
            }
        }
    }
}

/// Where winner q (0..4, row-major) of a 2x2 window lies from the
/// window's top left, in a plane `w` wide: row q / 2, column q % 2.
#[inline(always)]
pub(crate) fn corner(q: u8, w: u32) -> u32 {
    (u32::from(q) >> 1) * w + (u32::from(q) & 1)
}

/// A pooled value (at `at`, of plane `plane`) and where its window's
/// winner lies in that plane.
pub(crate) struct Winner {
    pub plane: usize,
    pub at: usize,
    pub pixel: usize,
}

/// dinp (N,H,W) += the pooled gradient routed to the winner of each
/// window: the adjoint of 2x2 max-pooling.
#[track_caller]
pub fn unpool_add(dinp: &mut [f32], pooled: Pooled, planes: usize, h: usize, w: usize) {
    let windows = (h / 2) * (w / 2);
    assert_eq!(dinp.len(), planes * h * w, "dinp must be (N,H,W)");
    assert!(pooled.grad.len() == planes * windows && pooled.argmax.len() == planes * windows, "the pooled gradient must be (N,H/2,W/2)");
    pooled.each_winner(0..planes, h, w, |Winner { plane, at, pixel }| dinp[plane * h * w + pixel] += pooled.grad[at]);
}

/// A convolution kernel of the backward pass: (gradient, dout, operand,
/// workspace, shape).
pub(crate) type ConvKernel = fn(&mut [f32], &[f32], &[f32], &mut [f32], &ConvShape);

/// The pooled sides (H/2, W/2) of a 2x2 max-pooling of inp (N,H,W) into
/// out and argmax (N,H/2,W/2), whose lengths it checks.
#[track_caller]
pub(crate) fn check_pool(out: &[f32], argmax: &[u8], inp: &[f32], planes: usize, h: usize, w: usize) -> (usize, usize) {
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(inp.len(), planes * h * w, "inp must be (N,H,W)");
    assert_eq!(out.len(), planes * oh * ow, "out must be (N,H/2,W/2)");
    assert_eq!(argmax.len(), out.len(), "argmax must be shaped like out");
    (oh, ow)
}

/// The operands of `conv2d_backward_pooled`, the backward pass of a
/// convolution followed by 2x2 max-pooling, which every twin and the
/// layer above them take as one.
pub struct PooledBackward<'a> {
    /// dweight (OC,C,K,K) += dL/dweight.
    pub dweight: &'a mut [f32],
    /// dinp (B,C,H,W) += dL/dinp through the weight (OC,C,K,K), when the
    /// input needs a gradient (the first layer's, the data, does not).
    pub dinp: Option<(&'a mut [f32], &'a [f32])>,
    /// The pooling's output gradient and winners (B,OC,OH/2,OW/2).
    pub pooled: Pooled<'a>,
    /// The convolution's input (B,C,H,W).
    pub inp: &'a [f32],
    /// At least `shape.workspace_len()` values of scratch, for the scalar
    /// reference (the sparse pass unfolds images into a buffer of its own,
    /// sized for the images it takes together).
    pub work: &'a mut [f32],
    pub shape: &'a ConvShape,
}

/// `conv2d_backward_pooled` by the dense kernels `filter` and `input`:
/// the pooled gradient routed to its winners in dout (B,OC,OH,OW), a
/// buffer of its own, three quarters of it zeros, and both kernels run on
/// that.
#[track_caller]
pub(crate) fn backward_pooled_dense(op: PooledBackward, [filter, input]: [ConvKernel; 2]) {
    let PooledBackward { dweight, dinp, pooled, inp, work, shape: s } = op;
    std::thread_local! {
        /// The convolution's output gradient (B,OC,OH,OW), kept from call
        /// to call: only this dense route needs it, so only the builds
        /// that take it hold one.
        static DOUT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    DOUT.with_borrow_mut(|dout| {
        dout.clear();
        dout.resize(s.out_len(), 0.0);
        unpool_add(dout, pooled, s.batch * s.out_channels, s.out_height(), s.out_width());
        filter(dweight, dout, inp, work, s);
        if let Some((dinp, weight)) = dinp {
            input(dinp, dout, weight, work, s);
        }
    });
}

/// Unfolds one image (C,H,W) into `cols` (C*K*K, OH*OW), so that a
/// convolution becomes the GEMM weight (OC, C*K*K) x cols.
pub fn im2col(cols: &mut [f32], img: &[f32], s: &ConvShape) {
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| cols[at_cols..at_cols + ow].copy_from_slice(&img[at_img..at_img + ow]));
}

/// The adjoint of `im2col`: adds `cols` (C*K*K, OH*OW) back into the image
/// gradient (C,H,W).
pub fn col2im_add(dimg: &mut [f32], cols: &[f32], s: &ConvShape) {
    let ow = s.out_width();
    for_each_patch_row(s, |at_cols, at_img| {
        for (d, &v) in dimg[at_img..at_img + ow].iter_mut().zip(&cols[at_cols..at_cols + ow]) {
            *d += v;
        }
    });
}

/// The im2col layout, walked once for both directions: for each row of
/// `cols` (channel c, kernel offset ky,kx) and each output row oy,
/// `f(where that output row starts in cols, where its OW pixels start in
/// the image)`.
#[inline(always)]
pub(crate) fn for_each_patch_row(s: &ConvShape, mut f: impl FnMut(usize, usize)) {
    let (k, w, oh, ow) = (s.kernel, s.width, s.out_height(), s.out_width());
    let plane = s.height * w;
    let mut row = 0;
    for c in 0..s.in_channels {
        for ky in 0..k {
            for kx in 0..k {
                for oy in 0..oh {
                    f(row * oh * ow + oy * ow, c * plane + (oy + ky) * w + kx);
                }
                row += 1;
            }
        }
    }
}

/// The checks of a strided GEMM, out (M,N) += A . b (K,N) with
/// A[i][p] = a[i*row_stride + p*k_stride], before its unchecked loads.
#[cfg(target_arch = "x86_64")]
#[track_caller]
#[allow(clippy::too_many_arguments, reason = "the GEMM's operands and shape, as the kernels take them")]
pub(crate) fn check_strided(out: &[f32], a: &[f32], row_stride: usize, k_stride: usize, b: &[f32], m: usize, k: usize, n: usize) {
    assert!(m == 0 || k == 0 || a.len() > (m - 1) * row_stride + (k - 1) * k_stride, "a is too short for ({m},{k})");
    assert!(b.len() >= k * n && out.len() >= m * n, "b or out is too short for ({k},{n}) or ({m},{n})");
}

/// Columns `columns` of a strided GEMM (as `check_strided` describes it),
/// one dot product at a time: the few columns a vector panel leaves over.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments, reason = "the GEMM's operands and shape, as the kernels take them")]
pub(crate) fn gemm_columns(
    out: &mut [f32],
    a: &[f32],
    row_stride: usize,
    k_stride: usize,
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    columns: std::ops::Range<usize>,
) {
    for j in columns {
        for i in 0..m {
            let mut acc = 0.0;
            for p in 0..k {
                acc += a[i * row_stride + p * k_stride] * b[p * n + j];
            }
            out[i * n + j] += acc;
        }
    }
}

#[track_caller]
pub(crate) fn check_matmul(out: usize, a: usize, b: usize, m: usize, k: usize, n: usize) {
    assert_eq!(out, m * n, "out must be (M,N) = ({m},{n})");
    assert_eq!(a, m * k, "a must hold M*K = {m}*{k} values");
    assert_eq!(b, k * n, "b must hold K*N = {k}*{n} values");
}
