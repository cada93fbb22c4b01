//! The native kernels, picked at run time: `avx2` where the CPU has AVX2
//! and FMA, the `scalar` reference elsewhere, or everywhere when the
//! environment says `LENET_KERNELS=scalar` (to measure or check the
//! reference). Same signatures as both.

use std::sync::OnceLock;

use super::{avx2, scalar, ConvShape};

/// Whether the AVX2 + FMA kernels run: decided once per process.
pub fn uses_avx2() -> bool {
    static CHOICE: OnceLock<bool> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let forced_scalar = std::env::var("LENET_KERNELS").is_ok_and(|v| v == "scalar");
        !forced_scalar && std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    })
}

/// The kernels' names: "avx2+fma" or "scalar", for the benchmark's rows.
pub fn name() -> &'static str {
    if uses_avx2() {
        "avx2+fma"
    } else {
        "scalar"
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
    /// out (B,OC,OH,OW) += inp (B,C,H,W) (*) weight (OC,C,K,K)
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
