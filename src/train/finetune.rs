//! Learning a user's own digits: steps of SGD with momentum on
//! minibatches that mix distorted copies of the user's examples with
//! MNIST training images, so that the model learns their way of writing
//! without forgetting MNIST. Seeded: the same examples, model and seed
//! give the same weights.

use crate::augment::Augment;
use crate::data::Dataset;
use crate::model::{LeNet5, IMAGE_LEN};
use crate::rng::Rng;
use crate::sgd::momentum_step;

/// How a fine-tuning goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FineTune {
    pub steps: usize,
    /// Each step's minibatch: copies of the user's examples, and MNIST
    /// training images beside them.
    pub personal: usize,
    pub mnist: usize,
    pub learning_rate: f32,
    pub momentum: f32,
    /// How each copy of a user's example is distorted (each step anew).
    pub augment: Augment,
    pub seed: u64,
}

impl Default for FineTune {
    /// A few seconds in a browser: 100 steps of 10 copies and 90 MNIST
    /// images, the Accurate preset's distortions, a small learning rate.
    /// Nine MNIST images in ten keep the model where MNIST wants it
    /// (tests/mnist.rs: the user's drawings are learned, MNIST's test
    /// error moves by less than 0.15 points); fewer, and it drifts.
    fn default() -> Self {
        FineTune {
            steps: 100,
            personal: 10,
            mnist: 90,
            learning_rate: 0.002,
            momentum: 0.9,
            augment: crate::train::Protocol::accurate().augment,
            seed: 1,
        }
    }
}

/// A fine-tuning in progress, stepped by its caller (the worker yields
/// between steps).
pub struct Learner {
    pub model: LeNet5,
    settings: FineTune,
    velocity: Vec<f32>,
    images: Vec<f32>,
    labels: Vec<u8>,
    rng: Rng,
    step: usize,
}

impl Learner {
    pub fn new(params: Vec<f32>, settings: FineTune) -> Learner {
        let n = params.len();
        let batch = settings.personal + settings.mnist;
        Learner {
            model: LeNet5::from_params(params),
            settings,
            velocity: vec![0.0; n],
            images: vec![0.0; batch * IMAGE_LEN],
            labels: vec![0; batch],
            rng: Rng::new(settings.seed),
            step: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.step >= self.settings.steps
    }

    /// One step on `personal` (the user's examples) and `train` (MNIST's
    /// training set); its minibatch's loss.
    pub fn step(&mut self, personal: &Dataset, train: &Dataset) -> Result<f32, String> {
        if personal.is_empty() {
            return Err("there are no examples of your own to learn: correct a drawing first".into());
        }
        let s = self.settings;
        for k in 0..s.personal + s.mnist {
            let set = if k < s.personal { personal } else { train };
            let index = (self.rng.next_u32() as usize) % set.len();
            let image = &mut self.images[k * IMAGE_LEN..(k + 1) * IMAGE_LEN];
            self.labels[k] = set.batch(image, index, 1)[0];
            if k < s.personal {
                s.augment.distort(image, s.seed, self.step, k);
            }
        }
        let loss = self.model.loss_and_grad(&self.images, &self.labels);
        momentum_step(&mut self.model.params, &mut self.velocity, &self.model.grads, s.learning_rate, s.momentum);
        self.step += 1;
        Ok(loss)
    }
}
