//! The training Web Worker with relaxed-SIMD kernels (built for wasm32 by
//! trunk with the `relaxed-simd` feature; the page picks it where the
//! browser validates relaxed SIMD).

fn main() {
    #[cfg(target_arch = "wasm32")]
    lenet::web::worker::start(false);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("`worker-relaxed` runs in a browser's Web Worker: use `cargo xtask serve`");
}
