//! The native kernels, picked at run time: `avx2` where the CPU has AVX2
//! and FMA (its GEMM 16 wide, `avx512`, where it also has AVX-512F and
//! VL), the `scalar` reference elsewhere. `LENET_KERNELS=scalar` or
//! `LENET_KERNELS=avx2` caps the choice (to measure or check the others).
//! Same signatures as both.

use super::cpu::{level, Level};
use super::lanes::{Avx2, Avx512};
use super::pooled::backward_pooled_sparse;
use super::{avx2, scalar, ConvShape, PooledBackward};

/// Whether the AVX2 + FMA kernels run (with or without AVX-512's GEMM).
pub fn uses_avx2() -> bool {
    level() >= Level::Avx2
}

/// The kernels' names, for the benchmark's rows.
pub fn name() -> &'static str {
    match level() {
        Level::Avx512 => "avx512 gemm+avx2+fma",
        Level::Avx2 => "avx2+fma",
        Level::Scalar => "scalar",
    }
}

macro_rules! dispatch {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name($($arg: $ty),*) {
            if uses_avx2() {
                // SAFETY: `uses_avx2` is true only where the CPU has AVX2 and FMA.
                unsafe { avx2::$name($($arg),*) }
            } else {
                scalar::$name($($arg),*)
            }
        }
    )*};
}

dispatch! {
    /// out (M,N) += a (M,K) . b (K,N)
    fn matmul(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize);
    /// out (M,N) += a^T . b, where a is (K,M) and b is (K,N)
    fn matmul_at(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize);
    /// out (M,N) += a (M,K) . b^T, where b is (N,K)
    fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize);
    /// out (B,OC,OH,OW) = inp (B,C,H,W) (*) weight (OC,C,K,K)
    fn conv2d_forward(out: &mut [f32], inp: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape);
    /// dinp (B,C,H,W) += dout (B,OC,OH,OW) (*)^T weight (OC,C,K,K)
    fn conv2d_backward_input(dinp: &mut [f32], dout: &[f32], weight: &[f32], cols: &mut [f32], s: &ConvShape);
    /// dweight (OC,C,K,K) += sum over the batch of dout x inp
    fn conv2d_backward_filter(dweight: &mut [f32], dout: &[f32], inp: &[f32], cols: &mut [f32], s: &ConvShape);
    /// out (N,H/2,W/2) = 2x2 max-pooling of inp (N,H,W), winners in `argmax`
    fn maxpool2x2(out: &mut [f32], argmax: &mut [u8], inp: &[f32], planes: usize, h: usize, w: usize);
    /// x = tanh(x)
    fn tanh_inplace(x: &mut [f32]);
}

/// dweight (and dinp through weight) += the backward pass of a
/// convolution followed by 2x2 max-pooling, from the pooling's output
/// gradient, as weighted rows of the unfolded image
/// (`pooled::backward_pooled_sparse`), 16 or 8 floats a vector; the
/// scalar reference runs the dense kernels on the routed gradient instead.
#[track_caller]
pub fn conv2d_backward_pooled(op: PooledBackward) {
    match level() {
        // SAFETY: each level is chosen only where the CPU has its features.
        Level::Avx512 => backward_pooled_sparse(op, unsafe { Avx512::new() }),
        // SAFETY: as above.
        Level::Avx2 => backward_pooled_sparse(op, unsafe { Avx2::new() }),
        Level::Scalar => scalar::conv2d_backward_pooled(op),
    }
}
