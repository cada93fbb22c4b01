//! A step's work as independent chunks: what any driver (threads, Web
//! Workers, a test) hands out, works and gives back in chunk order.

use super::sum::GradTree;
use crate::augment::Distortion;
use crate::data::{HeldOut, Mnist};
use crate::model::{LeNet5, IMAGE_LEN};

/// Images in a chunk, the unit of work. 50 images are about 0.66 GFLOP of
/// training: short enough for Pause to act at once, small enough that the
/// activations stay in cache, and a divisor of the tutorial's batch of 500.
pub const CHUNK_IMAGES: usize = 50;

/// What the chunks of a step do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// The loss and gradient of training images.
    Train,
    /// Count the errors on a validation or test pass.
    Evaluate(HeldOut),
}

/// One step's work: examples `first..end` of the task's set, in chunks of
/// `chunk_images` (the last may be short). Chunks are independent of each other,
/// so threads or Web Workers can share them out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub task: Task,
    pub first: usize,
    pub end: usize,
    pub chunk_images: usize,
    /// Training: the minibatch's size (minibatch `k` is examples
    /// `k * batch..`), whose chunks' gradients are summed along a tree
    /// (`tree`). Unused by evaluations.
    pub batch: usize,
    /// Training: how its images are distorted, if they are.
    pub distortion: Option<Distortion>,
}

impl Plan {
    /// A whole evaluation pass over examples `first..end` of `set`.
    pub fn evaluation(set: HeldOut, first: usize, end: usize) -> Plan {
        Plan { task: Task::Evaluate(set), first, end, chunk_images: CHUNK_IMAGES, batch: 0, distortion: None }
    }

    /// Training: where the plan's chunk 0 is among its minibatch's chunks,
    /// and how many chunks the minibatch has (see `GradTree`); (0, 0) for
    /// an evaluation, or without a minibatch or chunks.
    pub fn tree(&self) -> (usize, usize) {
        match (self.task, self.batch, self.chunk_images) {
            (Task::Evaluate(_), ..) | (_, 0, _) | (_, _, 0) => (0, 0),
            (Task::Train, batch, chunk_images) => ((self.first % batch) / chunk_images, batch.div_ceil(chunk_images)),
        }
    }

    /// How many gradient sums a worker of chunks `chunks` hands over: the
    /// nodes of the minibatch's tree they make up (none for an evaluation).
    pub fn sums(&self, chunks: std::ops::Range<usize>) -> usize {
        let (offset, tree_chunks) = self.tree();
        match self.task {
            Task::Train => GradTree::cover(tree_chunks, offset + chunks.start..offset + chunks.end).len(),
            Task::Evaluate(_) => 0,
        }
    }

    pub fn chunks(&self) -> usize {
        (self.end - self.first).div_ceil(self.chunk_images)
    }

    /// (first example, count) of chunk `i`.
    #[track_caller]
    pub fn chunk(&self, i: usize) -> (usize, usize) {
        let start = self.first + i * self.chunk_images;
        assert!(start < self.end, "chunk {i} is past the plan's end");
        (start, self.chunk_images.min(self.end - start))
    }

    /// The chunks worker `w` of `workers` takes: consecutive blocks, the
    /// first to worker 0, which adds the outcomes in chunk order (its own
    /// as it goes, then the others' as they arrive). Two blocks split
    /// where `GradTree` splits a node, so each is one sum.
    pub fn share(&self, w: usize, workers: usize) -> std::ops::Range<usize> {
        let (chunks, each) = (self.chunks(), self.chunks().div_ceil(workers));
        (w * each).min(chunks)..((w + 1) * each).min(chunks)
    }

    /// Why this plan cannot be worked on `data`, if it cannot: for a plan
    /// that came from elsewhere (a message), before `work` trusts it.
    pub fn check(&self, data: &Mnist, chunk: usize) -> Result<(), String> {
        let size = match self.task {
            Task::Train => data.train.len(),
            Task::Evaluate(set) => data.held_out(set).len(),
        };
        let start = chunk.checked_mul(self.chunk_images).and_then(|s| s.checked_add(self.first));
        let (first, end, chunk_images, batch) = (self.first, self.end, self.chunk_images, self.batch);
        if chunk_images == 0 || chunk_images > CHUNK_IMAGES || end > size || start.is_none_or(|s| s >= end) {
            return Err(format!("chunk {chunk} of {first}..{end} by {chunk_images} is not in a set of {size}"));
        }
        if let Some(d) = &self.distortion {
            d.augment.check()?;
        }
        // A training plan lies within one minibatch, starting at one of its chunks.
        if self.task == Task::Train && (batch == 0 || (first % batch) % chunk_images != 0 || end - first > batch - first % batch) {
            return Err(format!("examples {first}..{end} by {chunk_images} are not chunks of one minibatch of {batch}"));
        }
        Ok(())
    }
}

/// What a chunk found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Mean loss of `count` images; the gradient is in the model's `grads`.
    Trained {
        loss: f32,
        count: usize,
    },
    Counted {
        errors: usize,
        count: usize,
    },
}

/// Works chunk `i` of `plan` on `model` (holding the trainer's
/// parameters), with `x` as its image buffer of `CHUNK_IMAGES` x 784.
pub fn work(model: &mut LeNet5, data: &Mnist, plan: &Plan, i: usize, x: &mut [f32]) -> Outcome {
    let (first, count) = plan.chunk(i);
    let images = &mut x[..count * IMAGE_LEN];
    match plan.task {
        Task::Train => {
            let labels = data.train.batch(images, first, count);
            if let Some(distortion) = &plan.distortion {
                distortion.apply(images, first);
            }
            Outcome::Trained { loss: model.loss_and_grad(images, labels), count }
        }
        Task::Evaluate(set) => {
            let labels = data.held_out(set).batch(images, first, count);
            Outcome::Counted { errors: model.count_errors(images, labels), count }
        }
    }
}
