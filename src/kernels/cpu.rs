//! What the x86-64 CPU running this process offers, decided once: the
//! level `native` dispatches on and `avx2`'s GEMM hands over at. Both
//! kernel files ask here rather than each other.

use std::sync::OnceLock;

/// The widest kernels this process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Scalar,
    Avx2,
    Avx512,
}

/// The kernels' level: decided once per process.
pub fn level() -> Level {
    static CHOICE: OnceLock<Level> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let cap = match std::env::var("LENET_KERNELS").as_deref() {
            Ok("scalar") => Level::Scalar,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        let found = if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
            Level::Scalar
        } else if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl") {
            Level::Avx512
        } else {
            Level::Avx2
        };
        found.min(cap)
    })
}
