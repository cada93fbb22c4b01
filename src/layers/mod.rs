//! Layers as forward/backward function pairs, outputs first, gradients
//! named `d*` and accumulated (`+=`) into buffers the caller zeroes.

pub mod conv;
pub mod dense;
pub mod pool;
pub mod tanh;

pub use conv::{conv2d_backward, conv2d_forward, conv2d_pool_backward};
pub use dense::{dense_backward, dense_forward};
pub use pool::{maxpool2x2_backward, maxpool2x2_forward};
pub use tanh::{bias_tanh_backward, bias_tanh_forward, tanh_backward, tanh_forward};

/// The shapes the layers take, for the model to describe its own.
pub use crate::kernels::{ConvShape, Pooled, PooledBackward};
