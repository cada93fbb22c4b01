//! LeNet-5 on MNIST, trained and used inside a browser tab.
//!
//! The crate is a tensor core with no dependencies (everything but `web`),
//! wrapped by a thin browser shell (`web`, compiled for wasm32 only):
//!
//! | module       | concept                                                    |
//! |--------------|------------------------------------------------------------|
//! | `tensor`     | a shaped `f32` buffer                                      |
//! | `rng`        | the seeded generator behind initialisation                 |
//! | `kernels`    | conv / GEMM kernels: `scalar` reference, `simd128` twins    |
//! | `layers`     | forward/backward pairs: conv, max-pool, bias+tanh, dense   |
//! | `loss`       | softmax + mean negative log-likelihood                     |
//! | `model`      | LeNet-5 of the Theano tutorial: parameters and buffers     |
//! | `sgd`        | the SGD update: plain (the tutorial's), or with momentum    |
//! | `train`      | the tutorial's protocol as a resumable state machine      |
//! | `parallel`   | a step's chunks on model replicas, one thread each         |
//! | `data`       | IDX parsing (raw or gzip), the 50k/10k/10k MNIST split     |
//! | `weights`    | safetensors weight files                                   |
//! | `preprocess` | a drawn digit turned into an MNIST-style 28x28 image       |

pub mod data;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod model;
pub mod parallel;
pub mod preprocess;
pub mod rng;
pub mod sgd;
pub mod tensor;
pub mod train;
pub mod weights;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use data::{Dataset, Mnist};
pub use model::LeNet5;
pub use train::{Event, Protocol, Trainer};
