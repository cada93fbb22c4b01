//! Checkpoint files, as an upload, a stored run or `lenet train --resume
//! FILE` could hold anything: reading one answers with an error or a run
//! whose check, on any training set, answers too; never a panic.
#![no_main]

use lenet::checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(snapshot) = checkpoint::load(bytes) {
        for train_len in [0, 1, 20, 50_000, usize::MAX] {
            if snapshot.check(train_len).is_ok() {
                assert_eq!(snapshot.params.len(), lenet::model::param_count());
                assert_eq!(snapshot.best_params.len(), lenet::model::param_count());
            }
        }
    }
});
