//! Kernel parity: the reference GEMMs against a naive triple loop, and the
//! im2col + GEMM route (the one the fast kernels take) against the direct
//! reference convolutions. Then every fast twin against the scalar
//! reference, on awkward shapes (lengths not divisible by 4 or 8, single
//! rows, single channels): SIMD128 in the browser, AVX2 + FMA natively.

mod common;

use common::{assert_close, random_vec};
use lenet::kernels::{col2im_add, im2col, scalar, ConvShape, Pooled, PooledBackward};
use lenet::rng::Rng;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// (M, K, N) triples: odd sizes, single rows and columns, vector-sized
/// ones, LeNet-5's, and (13, 300, 23), whose wide B
/// SIMD128 copies a panel at a time (K >= 256), ending in a panel of 4
/// and 3 columns of scalar leftovers.
const GEMM_SHAPES: [(usize, usize, usize); 15] = [
    (1, 1, 1),
    (1, 7, 3),
    (3, 1, 9),
    (5, 13, 17),
    (4, 8, 8),
    (7, 25, 576),
    (50, 500, 64),
    (2, 3, 4),
    (9, 4, 1),
    (6, 33, 24),
    (13, 80, 500),
    (25, 6, 47),
    (13, 300, 23),
    // SIMD128's matmul_bt from 10 rows and columns a multiple of 4: the
    // GEMM's tiles, B's panels copied out transposed, a panel of 4 last
    // and steps left over.
    (10, 7, 12),
    (50, 500, 800),
];

/// ConvShapes: LeNet-5's two layers and awkward ones. The third is conv2
/// with 3 images, which the sparse pooled backward pass unfolds two and
/// then one at a time. The one before last
/// has output rows 8 wide (SIMD128 reads its patches in place from the
/// image) with a 3 x 3 kernel, and 7 channels: a group of 5 and 2 left
/// over. The last has patches of 54 values (SIMD128's pooled backward
/// pass sums them as weighted rows, 32 and then 22 as 6 vectors, or 20
/// and 2 one by one where the weight's last row ends short of a vector;
/// AVX-512's as 3 vectors and a masked one) and odd output sides, whose
/// last row and column pooling drops.
fn conv_shapes() -> Vec<ConvShape> {
    let s = |batch, in_channels, out_channels, height, width, kernel| ConvShape { batch, in_channels, out_channels, height, width, kernel };
    vec![
        s(2, 1, 20, 28, 28, 5),
        s(2, 20, 50, 12, 12, 5),
        s(3, 20, 50, 12, 12, 5),
        s(1, 1, 1, 5, 5, 5),
        s(3, 2, 3, 7, 9, 3),
        s(1, 3, 5, 6, 11, 1),
        s(2, 2, 7, 6, 10, 3),
        s(2, 6, 5, 7, 7, 3),
    ]
}

/// out (M,N) = a (M,K) b (K,N), element by element.
fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    out
}

fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols).map(|i| a[(i % rows) * cols + i / rows]).collect()
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn reference_gemms_match_the_naive_product() {
    let mut rng = Rng::new(11);
    for (m, k, n) in GEMM_SHAPES {
        let (a, b) = (random_vec(&mut rng, m * k, 1.0), random_vec(&mut rng, k * n, 1.0));
        let start = random_vec(&mut rng, m * n, 1.0);
        let expected: Vec<f32> = naive(&a, &b, m, k, n).iter().zip(&start).map(|(x, y)| x + y).collect();
        let mut out = start.clone();
        scalar::matmul(&mut out, &a, &b, m, k, n);
        assert_close(&out, &expected, 1e-4, 1e-4);
        let mut out = start.clone();
        scalar::matmul_at(&mut out, &transpose(&a, m, k), &b, m, k, n);
        assert_close(&out, &expected, 1e-4, 1e-4);
        let mut out = start.clone();
        scalar::matmul_bt(&mut out, &a, &transpose(&b, k, n), m, k, n);
        assert_close(&out, &expected, 1e-4, 1e-4);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn im2col_gemm_matches_direct_convolution() {
    let mut rng = Rng::new(12);
    for s in conv_shapes() {
        let (inp, w) = (random_vec(&mut rng, s.inp_len(), 1.0), random_vec(&mut rng, s.weight_len(), 1.0));
        let dout = random_vec(&mut rng, s.out_len(), 1.0);
        let mut cols = vec![0.0; s.cols_len()];
        let (ckk, p) = (s.in_channels * s.kernel * s.kernel, s.out_height() * s.out_width());
        let img = s.in_channels * s.height * s.width;
        let (mut out, mut dinp, mut dw) = (vec![0.0; s.out_len()], vec![0.0; s.inp_len()], vec![0.0; s.weight_len()]);
        for b in 0..s.batch {
            im2col(&mut cols, &inp[b * img..(b + 1) * img], &s);
            scalar::matmul(&mut out[b * s.out_channels * p..][..s.out_channels * p], &w, &cols, s.out_channels, ckk, p);
            let d = &dout[b * s.out_channels * p..][..s.out_channels * p];
            scalar::matmul_bt(&mut dw, d, &cols, s.out_channels, p, ckk);
            cols.fill(0.0);
            scalar::matmul_at(&mut cols, &w, d, ckk, s.out_channels, p);
            col2im_add(&mut dinp[b * img..(b + 1) * img], &cols, &s);
        }
        let (mut out_ref, mut dinp_ref, mut dw_ref) = (vec![0.0; s.out_len()], vec![0.0; s.inp_len()], vec![0.0; s.weight_len()]);
        scalar::conv2d_forward(&mut out_ref, &inp, &w, &mut cols, &s);
        scalar::conv2d_backward_input(&mut dinp_ref, &dout, &w, &mut cols, &s);
        scalar::conv2d_backward_filter(&mut dw_ref, &dout, &inp, &mut cols, &s);
        assert_close(&out, &out_ref, 1e-4, 1e-4);
        assert_close(&dinp, &dinp_ref, 1e-4, 1e-4);
        assert_close(&dw, &dw_ref, 1e-3, 1e-4);
    }
}

#[cfg(any(target_arch = "wasm32", target_arch = "x86_64"))]
mod parity {
    use super::*;
    #[cfg(target_arch = "x86_64")]
    use lenet::kernels::native as fast;
    #[cfg(target_arch = "wasm32")]
    use lenet::kernels::simd128 as fast;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    type Gemm = fn(&mut [f32], &[f32], &[f32], usize, usize, usize);

    /// Natively the twin is the reference itself on a CPU without AVX2 and
    /// FMA, so its tests are ignored there (see build.rs); with AVX-512 its
    /// GEMM is the 16-wide one, unless `LENET_KERNELS=avx2`.
    fn check_twin_runs() {
        #[cfg(target_arch = "x86_64")]
        {
            assert!(fast::uses_avx2(), "LENET_KERNELS=scalar (or a CPU without AVX2 + FMA): the twin would be the reference");
            eprintln!("checking the {} kernels", fast::name());
        }
    }

    #[test]
    #[cfg_attr(all(target_arch = "x86_64", not(lenet_cpu_avx2)), ignore = "this CPU has no AVX2 + FMA")]
    fn gemms_match_scalar() {
        check_twin_runs();
        let mut rng = Rng::new(13);
        let pairs: [(Gemm, Gemm, &str); 3] = [
            (scalar::matmul, fast::matmul, "matmul"),
            (scalar::matmul_at, fast::matmul_at, "matmul_at"),
            (scalar::matmul_bt, fast::matmul_bt, "matmul_bt"),
        ];
        for (reference, fast, name) in pairs {
            for (m, k, n) in GEMM_SHAPES {
                let (a, b) = (random_vec(&mut rng, m * k, 1.0), random_vec(&mut rng, k * n, 1.0));
                let start = random_vec(&mut rng, m * n, 1.0);
                let (mut expected, mut out) = (start.clone(), start);
                reference(&mut expected, &a, &b, m, k, n);
                fast(&mut out, &a, &b, m, k, n);
                assert!(out.iter().zip(&expected).all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + y.abs())), "{name} {m}x{k}x{n}");
            }
        }
    }

    #[test]
    #[cfg_attr(all(target_arch = "x86_64", not(lenet_cpu_avx2)), ignore = "this CPU has no AVX2 + FMA")]
    fn maxpool_matches_scalar_with_the_same_winners_on_ties() {
        check_twin_runs();
        let mut rng = Rng::new(15);
        for (planes, h, w) in [(3, 24, 24), (5, 8, 8), (2, 6, 10), (1, 9, 16)] {
            // Values from a small set, so that windows often tie.
            let inp: Vec<f32> = (0..planes * h * w).map(|_| (rng.uniform(2.0) * 2.0).round()).collect();
            let len = planes * (h / 2) * (w / 2);
            let (mut a, mut b) = (vec![0.0; len], vec![0.0; len]);
            let (mut arg_a, mut arg_b) = (vec![9; len], vec![9; len]);
            scalar::maxpool2x2(&mut a, &mut arg_a, &inp, planes, h, w);
            fast::maxpool2x2(&mut b, &mut arg_b, &inp, planes, h, w);
            assert_eq!(a, b, "{planes}x{h}x{w} maxima");
            assert_eq!(arg_a, arg_b, "{planes}x{h}x{w} winners");
        }
    }

    #[test]
    #[cfg_attr(all(target_arch = "x86_64", not(lenet_cpu_avx2)), ignore = "this CPU has no AVX2 + FMA")]
    fn tanh_matches_the_standard_library() {
        check_twin_runs();
        // Across the range, past the clamp, at 0, and a length with leftovers.
        let mut x: Vec<f32> = (-1200..=1200).map(|i| i as f32 / 100.0).collect();
        x.extend([1e-6, -3e-5, 0.0, f32::MAX, -f32::MAX]);
        let (mut expected, mut twin) = (x.clone(), x.clone());
        scalar::tanh_inplace(&mut expected);
        fast::tanh_inplace(&mut twin);
        for ((f, e), x) in twin.iter().zip(&expected).zip(&x) {
            assert!((f - e).abs() <= 1e-6 * e.abs().max(1e-3), "tanh({x}) = {f}, not {e}");
            assert!(f.abs() <= 1.0, "tanh({x}) = {f} is outside [-1, 1]");
        }
        let mut nan = [f32::NAN; 11];
        fast::tanh_inplace(&mut nan);
        assert!(nan.iter().all(|v| v.is_nan()), "NaN stays NaN, so a diverging run is seen");
    }

    #[test]
    #[cfg_attr(all(target_arch = "x86_64", not(lenet_cpu_avx2)), ignore = "this CPU has no AVX2 + FMA")]
    fn convolutions_match_scalar() {
        check_twin_runs();
        let mut rng = Rng::new(14);
        for s in conv_shapes() {
            let (inp, w) = (random_vec(&mut rng, s.inp_len(), 1.0), random_vec(&mut rng, s.weight_len(), 1.0));
            let dout = random_vec(&mut rng, s.out_len(), 1.0);
            let mut cols = vec![0.0; s.workspace_len()];
            let (mut a, mut b) = (vec![0.5; s.out_len()], vec![0.5; s.out_len()]);
            scalar::conv2d_forward(&mut a, &inp, &w, &mut cols, &s);
            fast::conv2d_forward(&mut b, &inp, &w, &mut cols, &s);
            assert_close(&b, &a, 1e-3, 1e-4);
            let (mut a, mut b) = (vec![0.5; s.inp_len()], vec![0.5; s.inp_len()]);
            scalar::conv2d_backward_input(&mut a, &dout, &w, &mut cols, &s);
            fast::conv2d_backward_input(&mut b, &dout, &w, &mut cols, &s);
            assert_close(&b, &a, 1e-3, 1e-4);
            let (mut a, mut b) = (vec![0.5; s.weight_len()], vec![0.5; s.weight_len()]);
            scalar::conv2d_backward_filter(&mut a, &dout, &inp, &mut cols, &s);
            fast::conv2d_backward_filter(&mut b, &dout, &inp, &mut cols, &s);
            assert_close(&b, &a, 1e-2, 1e-4);
        }
    }

    /// The backward pass of a convolution followed by max-pooling, from
    /// the pooled gradient and random winners, with and without the input
    /// gradient.
    #[test]
    #[cfg_attr(all(target_arch = "x86_64", not(lenet_cpu_avx2)), ignore = "this CPU has no AVX2 + FMA")]
    fn pooled_backward_matches_scalar() {
        check_twin_runs();
        let mut rng = Rng::new(16);
        for s in conv_shapes() {
            let (inp, w) = (random_vec(&mut rng, s.inp_len(), 1.0), random_vec(&mut rng, s.weight_len(), 1.0));
            let windows = s.batch * s.out_channels * (s.out_height() / 2) * (s.out_width() / 2);
            let grad = random_vec(&mut rng, windows, 1.0);
            let argmax: Vec<u8> = (0..windows).map(|_| (rng.next_u32() % 4) as u8).collect();
            let pooled = Pooled { grad: &grad, argmax: &argmax };
            let mut cols = vec![0.0; s.workspace_len()];
            for with_input in [true, false] {
                let (mut dw_a, mut dw_b) = (vec![0.5; s.weight_len()], vec![0.5; s.weight_len()]);
                let (mut dx_a, mut dx_b) = (vec![0.5; s.inp_len()], vec![0.5; s.inp_len()]);
                let dx_a_w = with_input.then_some((&mut dx_a[..], &w[..]));
                scalar::conv2d_backward_pooled(PooledBackward {
                    dweight: &mut dw_a,
                    dinp: dx_a_w,
                    pooled,
                    inp: &inp,
                    work: &mut cols,
                    shape: &s,
                });
                let dx_b_w = with_input.then_some((&mut dx_b[..], &w[..]));
                fast::conv2d_backward_pooled(PooledBackward {
                    dweight: &mut dw_b,
                    dinp: dx_b_w,
                    pooled,
                    inp: &inp,
                    work: &mut cols,
                    shape: &s,
                });
                assert_close(&dw_b, &dw_a, 1e-3, 1e-4);
                assert_close(&dx_b, &dx_a, 1e-3, 1e-4);
                assert!(with_input || dx_b.iter().all(|&v| v == 0.5), "no input gradient was asked for");
            }
        }
    }

    /// AVX-512's GEMM itself, whatever `LENET_KERNELS` caps the others to.
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(lenet_cpu_avx512), ignore = "this CPU has no AVX-512F + VL")]
    fn the_avx512_gemm_matches_scalar() {
        use std::arch::is_x86_feature_detected as has;
        let cpu = has!("avx512f") && has!("avx512vl") && has!("avx2") && has!("fma");
        assert!(cpu, "this CPU has no AVX-512F + VL, AVX2 and FMA");
        let mut rng = Rng::new(17);
        for (m, k, n) in GEMM_SHAPES {
            let (a, b) = (random_vec(&mut rng, m * k, 1.0), random_vec(&mut rng, k * n, 1.0));
            let start = random_vec(&mut rng, m * n, 1.0);
            let (mut expected, mut out) = (start.clone(), start);
            scalar::matmul(&mut expected, &a, &b, m, k, n);
            // SAFETY: the CPU has AVX-512F, AVX-512VL, AVX2 and FMA (asserted
            // above); `a` is (m,k) with rows k apart, `b` (k,n), `out` (m,n).
            unsafe { lenet::kernels::avx512::gemm_strided(&mut out, &a, k, 1, &b, m, k, n) };
            assert!(out.iter().zip(&expected).all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + y.abs())), "{m}x{k}x{n}");
        }
    }
}

/// The profile's GEMM rate counts the multiply-adds of the eight GEMM
/// kernels, and only theirs, over their times: on a clock that moves 1 ms
/// each time it is read, every kernel reads as 20 calls a round in 1 ms,
/// 0.05 ms a call, and LeNet-5's 657.6 MFLOP of GEMMs a chunk (conv1 twice
/// 28.8, conv2 three times 160, the hidden layer three times 40) over
/// 8 x 0.05 ms is 1,644 GFLOP/s.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_profiles_gemm_rate_is_the_gemm_kernels_flops_over_their_time() {
    let profile = profile_on_a_ticking_clock(20.0);
    let lines: Vec<(&str, &str)> = profile.lines().map(|l| l.rsplit_once(' ').expect("name value")).collect();
    assert_eq!(lines.len(), 16, "fifteen kernels and the GEMM rate: {profile}");
    for (name, ms) in &lines[..15] {
        assert_eq!(*ms, "0.050", "{name}");
    }
    assert_eq!(lines[15], ("gemms", "1644.0"), "{profile}");
}

/// The profile times round after round of every kernel: a slow spell as
/// long as several kernels' every round costs each kernel one round, and
/// the fastest round of each is still the true 0.05 ms. The first round
/// reads the clock 60 times (each kernel's first call alone, then its
/// round); the spell is the next 30 readings, each 10 ms apart: the whole
/// second round, or every round of the ninth to eleventh kernels were
/// they timed one after the other.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_slow_spell_in_the_profile_costs_each_kernel_a_round_not_its_figure() {
    let (clock, reads) = (std::cell::Cell::new(0.0), std::cell::Cell::new(0));
    let profile = lenet::bench::profile::kernel_profile(3, 20.0, || {
        reads.set(reads.get() + 1);
        clock.set(clock.get() + if (61..=90).contains(&reads.get()) { 10.0 } else { 1.0 });
        clock.get()
    });
    for line in profile.lines().take(15) {
        assert!(line.ends_with(" 0.050"), "{line} in {profile}");
    }
}

/// A kernel's round lasts about `round_ms`: with a clock that moves 1 ms
/// at each reading (a coarse browser clock, at its worst), a kernel's
/// first call reads as 1 ms, so a round of 200 ms is 200 calls, and one
/// step of the clock over them is 0.005 ms a call. With rounds of 20 ms
/// the same clock says 0.05.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_kernels_round_lasts_about_round_ms() {
    let profile = profile_on_a_ticking_clock(200.0);
    for line in profile.lines().take(15) {
        assert!(line.ends_with(" 0.005"), "{line} in {profile}");
    }
}

/// Two rounds of the kernel profile, of `round_ms` each, on a clock that
/// moves 1 ms at each reading.
#[cfg(not(target_arch = "wasm32"))]
fn profile_on_a_ticking_clock(round_ms: f64) -> String {
    let clock = std::cell::Cell::new(0.0);
    lenet::bench::profile::kernel_profile(2, round_ms, || {
        clock.set(clock.get() + 1.0);
        clock.get()
    })
}
