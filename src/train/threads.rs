//! The synchronous driver of the `Trainer`: a step's chunks go to replicas
//! of the model, one thread each (natively; in wasm32 there is one replica
//! and no thread). Every replica starts from the trainer's parameters and
//! the outcomes are added in chunk order, so the weights do not depend on
//! the number of threads: they are bit-identical to working through the
//! chunks one after another. (The lead worker in `web::lead` is its
//! asynchronous twin, over Web Workers.)

use super::event::Event;
use super::plan::{work, Outcome, Plan, CHUNK_IMAGES};
use super::trainer::Trainer;
use crate::data::HeldOut;
use crate::data::Mnist;
use crate::model::{LeNet5, IMAGE_LEN};

pub struct Threads {
    /// Models for chunks 1.. of a round (chunk 0 runs on the caller's model).
    replicas: Vec<LeNet5>,
    /// One image buffer per thread, (CHUNK_IMAGES, 784) each.
    xs: Vec<Vec<f32>>,
    /// The outcomes of the last round, in chunk order (reused: a step on
    /// one thread allocates nothing).
    outcomes: Vec<Outcome>,
}

impl Threads {
    /// `size` threads (1 in wasm32, which has no threads here).
    pub fn new(size: usize) -> Threads {
        let size = if cfg!(target_arch = "wasm32") { 1 } else { size.max(1) };
        Threads { replicas: Vec::new(), xs: vec![vec![0.0; CHUNK_IMAGES * IMAGE_LEN]; size], outcomes: Vec::with_capacity(size) }
    }

    pub fn size(&self) -> usize {
        self.xs.len()
    }

    /// Plans `trainer`'s steps for these threads.
    pub fn attach(&self, trainer: &mut Trainer) {
        trainer.share_with(self.size(), 1);
    }

    /// One step of `trainer`: its plan's chunks worked on the threads, the
    /// outcomes added in chunk order, the step finished.
    pub fn step(&mut self, trainer: &mut Trainer) -> Event {
        let Some(plan) = trainer.plan() else { return trainer.finish() };
        for round in (0..plan.chunks()).step_by(self.size()) {
            self.work_round(&mut trainer.model, &trainer.data, &plan, round);
            for (k, &outcome) in self.outcomes.iter().enumerate() {
                trainer.add(outcome, (k > 0).then(|| self.replicas[k - 1].grads.as_slice()));
            }
        }
        trainer.finish()
    }

    /// Steps until the run is over; `on_event` sees every event.
    pub fn run(&mut self, trainer: &mut Trainer, mut on_event: impl FnMut(&Trainer, &Event)) -> Event {
        loop {
            let event = self.step(trainer);
            on_event(trainer, &event);
            if let Event::Finished { .. } = event {
                return event;
            }
        }
    }

    /// Misclassified examples among `first..end` of `set`, by `model`:
    /// an evaluation plan worked as a trainer's would be.
    pub fn count_errors(&mut self, model: &mut LeNet5, data: &Mnist, set: HeldOut, first: usize, end: usize) -> usize {
        let plan = Plan::evaluation(set, first, end);
        let mut errors = 0;
        for round in (0..plan.chunks()).step_by(self.size()) {
            self.work_round(model, data, &plan, round);
            errors += self.outcomes.iter().map(|o| if let Outcome::Counted { errors, .. } = o { *errors } else { 0 }).sum::<usize>();
        }
        errors
    }

    /// Works chunks `round..` of `plan`, one per thread, chunk `round` on
    /// `lead`; the outcomes land in `self.outcomes`, in chunk order.
    fn work_round(&mut self, lead: &mut LeNet5, data: &Mnist, plan: &Plan, round: usize) {
        let n = self.size().min(plan.chunks() - round);
        while self.replicas.len() < n - 1 {
            self.replicas.push(LeNet5::from_params(lead.params.clone()));
        }
        for r in &mut self.replicas[..n - 1] {
            r.params.copy_from_slice(&lead.params);
        }
        let (x0, xs) = self.xs.split_first_mut().expect("at least one thread");
        let outcomes = &mut self.outcomes;
        outcomes.clear();
        if n == 1 {
            outcomes.push(work(lead, data, plan, round, x0));
            return;
        }
        // Spawning a scoped thread costs tens of microseconds, against a
        // chunk's tens of milliseconds.
        std::thread::scope(|s| {
            let handles: Vec<_> = (self.replicas[..n - 1].iter_mut())
                .zip(xs.iter_mut())
                .enumerate()
                .map(|(k, (model, x))| s.spawn(move || work(model, data, plan, round + 1 + k, x)))
                .collect();
            outcomes.push(work(lead, data, plan, round, x0));
            outcomes.extend(handles.into_iter().map(|h| h.join().expect("a training thread panicked")));
        });
    }
}
