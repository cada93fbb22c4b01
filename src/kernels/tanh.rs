//! The rational approximation of tanh that the vector twins share: the
//! one Eigen and XLA use for f32, an odd degree-13 polynomial over an
//! even degree-6 one, in v = x clamped to +-`CLAMP` (where it reaches 1).
//! Within 4e-7 of the true tanh everywhere; `scalar` keeps the standard
//! library's tanh, the oracle the twins are tested against.

/// Past this |x|, tanh(x) rounds to +-1 in f32.
pub(crate) const CLAMP: f32 = 7.905_311;
/// The numerator's coefficients in v^2, lowest first (then times v).
pub(crate) const ALPHA: [f32; 7] =
    [4.893_524_6e-3, 6.372_619_3e-4, 1.485_722_4e-5, 5.122_297e-8, -8.604_672e-11, 2.000_188e-13, -2.760_768_5e-16];
/// The denominator's coefficients in v^2, lowest first.
pub(crate) const BETA: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347e-4, 1.198_258_4e-6];

/// The polynomial of `coefficients` (lowest first) by Horner's rule, in a
/// twin's vector type: `splat(c)` is a vector of c, and `madd(p, c)` is
/// p * v^2 + c with the twin's multiply-add.
#[inline(always)]
pub(crate) fn horner<V: Copy, const N: usize>(coefficients: &[f32; N], madd: impl Fn(V, V) -> V, splat: impl Fn(f32) -> V) -> V {
    let mut p = splat(coefficients[N - 1]);
    for &c in coefficients[..N - 1].iter().rev() {
        p = madd(p, splat(c));
    }
    p
}
