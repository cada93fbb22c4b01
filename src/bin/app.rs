//! The page's main thread (built for wasm32 by trunk).

fn main() {
    #[cfg(target_arch = "wasm32")]
    lenet::web::page::start();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("`app` runs in the browser: use `cargo xtask serve`");
}
