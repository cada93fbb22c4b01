//! Training: the tutorial's protocol as a state machine and its drivers.
//!
//! | module     | what                                                          |
//! |------------|---------------------------------------------------------------|
//! | `protocol` | the hyper-parameters, the tutorial's and the fast preset      |
//! | `plan`     | a step's work as chunks of `CHUNK_IMAGES`, and working one    |
//! | `trainer`  | the state machine: plan, add outcomes, finish                 |
//! | `event`    | what a step reports, a run's validations, why it ended        |
//! | `snapshot` | a run's state between minibatches, and its one check          |
//! | `sum`      | a minibatch's gradient, summed along a fixed tree of chunks    |
//! | `finetune` | learning a user's own digits without forgetting MNIST       |
//! | `log`      | the log lines of those events, for every front end            |
//! | `threads`  | the synchronous driver: chunks on native threads              |
//!
//! The lead Web Worker (`web::lead`) is the asynchronous driver.

pub mod event;
pub mod finetune;
pub mod log;
pub mod plan;
pub mod protocol;
pub mod snapshot;
pub mod sum;
pub mod threads;
pub mod trainer;

pub use event::{Event, StopReason, Validation};
pub use plan::{work, Outcome, Plan, Task, CHUNK_IMAGES};
pub use protocol::{Protocol, Schedule, MAX_EPOCHS};
pub use snapshot::Snapshot;
pub use sum::GradTree;
pub use threads::Threads;
pub use trainer::Trainer;
