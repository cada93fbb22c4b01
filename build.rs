//! Tells the native tests what this CPU can run, so that a kernel test
//! for an instruction set the CPU lacks is reported as ignored, not
//! passed: `lenet_cpu_avx2` (AVX2 and FMA) and `lenet_cpu_avx512`
//! (AVX-512F and VL as well). `LENET_EXPECT_CPU=avx2` or `=avx512` sets
//! them whatever the CPU, so that where the CPU is known to have the
//! feature a machine without it fails those tests instead.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=LENET_EXPECT_CPU");
    println!("cargo::rustc-check-cfg=cfg(lenet_cpu_avx2, lenet_cpu_avx512)");
    let expected = std::env::var("LENET_EXPECT_CPU").unwrap_or_default();
    let (mut avx2, mut avx512) = (expected.contains("avx2") || expected.contains("avx512"), expected.contains("avx512"));
    // The build script runs on the host: its CPU is the tests' only when
    // they are built for it.
    #[cfg(target_arch = "x86_64")]
    if std::env::var("HOST") == std::env::var("TARGET") {
        use std::arch::is_x86_feature_detected as has;
        avx2 |= has!("avx2") && has!("fma");
        avx512 |= avx2 && has!("avx512f") && has!("avx512vl");
    }
    if avx2 {
        println!("cargo::rustc-cfg=lenet_cpu_avx2");
    }
    if avx512 {
        println!("cargo::rustc-cfg=lenet_cpu_avx512");
    }
}
