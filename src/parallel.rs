//! Data parallelism for the training loop: the chunks of one step go to
//! replicas of the model, one thread each (natively; in wasm32 there is
//! one replica and no thread). Every replica starts from the lead
//! model's parameters, and callers combine the replicas' results in chunk
//! order, so the outcome does not depend on the number of threads: it is
//! bit-identical to working through the chunks one after another.

use crate::model::{LeNet5, IMAGE_LEN};
use crate::train::STEP_IMAGES;

/// `Team::default()` is an empty placeholder (no buffers, so no
/// allocation) for `std::mem::take` while the trainer lends its team out.
#[derive(Default)]
pub struct Team {
    /// Models for chunks 1.. (chunk 0 runs on the lead model).
    replicas: Vec<LeNet5>,
    /// One image buffer per chunk, (STEP_IMAGES, 784) each.
    xs: Vec<Vec<f32>>,
}

impl Team {
    /// A team of `size` workers (1 in wasm32, which has no threads here).
    pub fn new(size: usize) -> Team {
        let size = if cfg!(target_arch = "wasm32") { 1 } else { size.max(1) };
        Team { replicas: Vec::new(), xs: vec![vec![0.0; STEP_IMAGES * IMAGE_LEN]; size] }
    }

    pub fn size(&self) -> usize {
        self.xs.len()
    }

    /// Runs `f(model, images_buffer, chunk)` for chunks 0..n, in parallel,
    /// and leaves the results in `results`, in chunk order (the vector is
    /// reused: on one thread a step allocates nothing).
    pub fn run<R: Send>(
        &mut self,
        lead: &mut LeNet5,
        n: usize,
        f: impl Fn(&mut LeNet5, &mut [f32], usize) -> R + Sync,
        results: &mut Vec<R>,
    ) {
        assert!(n >= 1 && n <= self.size(), "a team of {} cannot run {n} chunks", self.size());
        while self.replicas.len() < n - 1 {
            self.replicas.push(LeNet5::from_params(lead.params.clone()));
        }
        for r in &mut self.replicas[..n - 1] {
            r.params.copy_from_slice(&lead.params);
        }
        let (x0, xs) = self.xs.split_first_mut().expect("a team has a lead");
        results.clear();
        if n == 1 {
            results.push(f(lead, x0, 0));
            return;
        }
        // A wasm32 team has one member, so only native code gets here.
        #[cfg(not(target_arch = "wasm32"))]
        run_threads(&mut self.replicas[..n - 1], lead, x0, xs, &f, results);
        #[cfg(target_arch = "wasm32")]
        {
            let _ = xs;
            unreachable!("a wasm32 team has one member")
        }
    }

    /// The gradients chunk `i` >= 1 of the last `run` left (chunk 0's
    /// are the lead model's).
    pub fn grads(&self, i: usize) -> &[f32] {
        &self.replicas[i - 1].grads
    }
}

/// Chunk 0 on the lead here, chunk i on replica i-1 in a scoped thread of
/// its own (spawning one costs tens of microseconds, against a step's tens
/// of milliseconds).
#[cfg(not(target_arch = "wasm32"))]
fn run_threads<R: Send>(
    replicas: &mut [LeNet5],
    lead: &mut LeNet5,
    x0: &mut [f32],
    xs: &mut [Vec<f32>],
    f: &(impl Fn(&mut LeNet5, &mut [f32], usize) -> R + Sync),
    results: &mut Vec<R>,
) {
    std::thread::scope(|s| {
        let handles: Vec<_> = replicas
            .iter_mut()
            .zip(xs.iter_mut())
            .enumerate()
            .map(|(i, (model, x))| s.spawn(move || f(model, x, i + 1)))
            .collect();
        results.push(f(lead, x0, 0));
        results.extend(handles.into_iter().map(|h| h.join().expect("a training thread panicked")));
    })
}
