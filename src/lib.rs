//! LeNet-5 on MNIST, trained and used inside a browser tab.
//!
//! The numeric core uses no crate at all; the edges read and write files
//! and talk to the browser:
//!
//! | room  | module       | concept                                                   |
//! |-------|--------------|-----------------------------------------------------------|
//! | core  | `tensor`     | a shaped `f32` buffer                                     |
//! | core  | `rng`        | the seeded generator behind initialisation                |
//! | core  | `kernels`    | conv / GEMM kernels: `scalar` reference, `simd128` twins  |
//! | core  | `augment`    | distorted training images: affine, elastic, pen           |
//! | core  | `layers`     | forward/backward pairs: conv, max-pool, bias+tanh, dense  |
//! | core  | `loss`       | softmax + mean negative log-likelihood                    |
//! | core  | `model`      | LeNet-5 of the Theano tutorial: shapes, parameters        |
//! | core  | `confusion`  | predictions on a data set, and their confusion matrix     |
//! | core  | `sgd`        | the SGD update: plain (the tutorial's), or with momentum  |
//! | core  | `train`      | the protocol as a state machine, its log, its drivers     |
//! | core  | `preprocess` | a drawn digit turned into an MNIST-style 28x28 image      |
//! | edge  | `data`       | IDX parsing, the 50k/10k/10k MNIST split                  |
//! | edge  | `weights`    | safetensors weight files (the format's reference crate)   |
//! | edge  | `checkpoint` | a run's whole state, as a safetensors file                |
//! | edge  | `onnx`       | the model as an ONNX file, for other tools                |
//! | edge  | `web`        | the browser shell (its messages also build natively)      |
//! | above | `bench`      | the core measured: kernels alone, whole steps, throughput |

pub mod augment;
pub mod bench;
pub mod checkpoint;
pub mod confusion;
pub mod data;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod model;
pub mod onnx;
pub mod preprocess;
pub mod rng;
pub mod sgd;
pub mod tensor;
pub mod train;
pub mod weights;

pub mod web;

pub use data::{Dataset, Mnist};
pub use model::LeNet5;
pub use train::{Event, Protocol, Threads, Trainer};
