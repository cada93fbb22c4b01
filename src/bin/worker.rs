//! The training Web Worker (built for wasm32 by trunk).

fn main() {
    #[cfg(target_arch = "wasm32")]
    lenet::web::worker::start(false);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("`worker` runs in a browser's Web Worker: use `cargo xtask serve`");
}
