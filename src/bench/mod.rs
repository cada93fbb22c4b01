//! Measuring the core, a room above it: nothing in the core calls here.
//!
//! | module    | runs in      | what                                                  |
//! |-----------|--------------|-------------------------------------------------------|
//! | `profile` | everywhere   | each hot kernel of a training step timed alone        |
//! | `native`  | `lenet bench`| training and inference images per second, on threads  |
//! | `web`     | bench page   | the same in a browser, and the build's ceiling        |

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod profile;
#[cfg(target_arch = "wasm32")]
pub mod web;
