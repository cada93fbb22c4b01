//! The lead: the worker that holds the `Trainer` and drives it over Web
//! Workers, the asynchronous twin of `train::Threads`. Each step it sends
//! every helper worker (see `helper`) its block of the plan's chunks in
//! one message, with the parameters whenever they changed, works its own
//! block, then adds the helpers' outcomes in chunk order. A helper sums
//! its block's gradients itself, along the tree every worker count shares
//! (`GradTree`), and sends the sums back in one reply: the SGD of one
//! worker, bit-identical from run to run. No SharedArrayBuffer, no
//! special server headers.
//!
//! The lead starts its helpers itself, as nested workers, and talks to
//! each through its `Worker` object: the page's thread is not on the way.
//! (Through a `MessagePort` that the page hands out, Firefox took far
//! longer per round trip: `cargo xtask bench` measures both.) Each link
//! has parameter-sized buffers that go to the helper with the work
//! (holding the parameters when they changed) and come back with the
//! gradient sums, so a step allocates no new megabytes for the garbage
//! collector, whose work would take a core from the workers.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::Range;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

use super::clock_ms;
use super::js::{envelope, get, message_of, set, Endpoint};
use super::wire::{FromHelper, FromWorker, StepTimes, Times, ToHelper, ToWorker, DATA_ARRAYS};
use crate::data::Mnist;
use crate::model::{param_count, IMAGE_LEN};
use crate::train::{work, Event, Outcome, Plan, Task, Trainer, CHUNK_IMAGES};

/// A run driven over Web Workers: the trainer, the links to the helpers
/// and the lead's image buffer.
pub struct Lead {
    pub trainer: Trainer,
    helpers: Vec<Link>,
    x: Vec<f32>,
}

impl Lead {
    /// Drives `trainer` here and on `helpers`, `chunks_per_worker` chunks each a step.
    pub fn new(mut trainer: Trainer, helpers: Vec<Link>, chunks_per_worker: usize) -> Lead {
        trainer.share_with(helpers.len() + 1, chunks_per_worker);
        Lead { trainer, helpers, x: vec![0.0; CHUNK_IMAGES * IMAGE_LEN] }
    }

    /// Makes sure every helper serves and holds the data (of `data_url`).
    pub async fn connect(&mut self, data_url: &str) -> Result<(), String> {
        for link in &mut self.helpers {
            link.connect(&self.trainer.data, data_url).await?;
        }
        Ok(())
    }

    /// The trainer and the helpers back.
    pub fn into_parts(self) -> (Trainer, Vec<Link>) {
        (self.trainer, self.helpers)
    }

    /// One step of the trainer: the plan's first block of chunks here, the
    /// others on the helpers, the outcomes added in chunk order. Training
    /// steps add where their time went to `times`, evaluation steps their
    /// whole time.
    pub async fn step(&mut self, times: &mut StepTimes) -> Result<Event, String> {
        let t = &mut self.trainer;
        let Some(plan) = t.plan() else {
            return Ok(t.finish());
        };
        // One clock for the lead's times and the helpers' (see `clock_ms`).
        let start = clock_ms();
        // The parameters change only with an SGD step.
        let version = t.iterations();
        let workers = self.helpers.len() + 1;
        for (w, link) in (1..workers).zip(&mut self.helpers) {
            link.send(&plan, plan.share(w, workers), &t.model.params, version)?;
        }
        let own_start = clock_ms();
        for i in plan.share(0, workers) {
            let own = work(&mut t.model, &t.data, &plan, i, &mut self.x);
            t.add(own, None);
        }
        let free = clock_ms();
        let own_ms = free - own_start;
        let (mut helpers, mut handling, mut wait, mut in_flight, mut taking) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for link in self.helpers.iter_mut().filter(|link| link.out.is_some()) {
            let wait_start = clock_ms();
            let (outcomes, reply) = link.receive().await?;
            let waited = clock_ms() - wait_start;
            wait += waited;
            helpers += reply.work;
            handling += reply.answered - reply.taken - reply.work;
            // The work's way to the helper and the reply's way back: the
            // round trip on the lead's clock less the helper's part on its
            // own (the two clocks need not agree), as far as the lead
            // waited for them.
            in_flight += ((reply.arrived - start) - (reply.answered - reply.taken)).clamp(0.0, waited);
            let add_start = clock_ms();
            match outcomes[..] {
                [Outcome::Trained { .. }, ..] => t.add_summed(&outcomes, |k, sum| link.copy_sum(k, sum)),
                _ => outcomes.into_iter().for_each(|outcome| t.add(outcome, None)),
            }
            taking += clock_ms() - add_start;
        }
        let event = t.finish();
        if plan.task == Task::Train {
            times.steps += 1;
            times.images += (plan.end - plan.first) as u32;
            times.own += own_ms;
            times.helpers += helpers;
            times.handling += handling;
            times.wait += wait;
            times.in_flight += in_flight;
            times.taking += taking;
            times.rest += clock_ms() - start - own_ms - wait;
        } else {
            times.evaluating += clock_ms() - start;
        }
        Ok(event)
    }
}

/// Messages that came from a helper and were not yet taken (each with
/// the time it arrived, or why the helper failed), and the promise's
/// `resolve` of a taker waiting for one.
#[derive(Default)]
struct Inbox {
    messages: VecDeque<Result<(JsValue, f64), String>>,
    wake: Option<js_sys::Function>,
}

impl Inbox {
    fn push(&mut self, message: Result<(JsValue, f64), String>) {
        self.messages.push_back(message);
        if let Some(resolve) = self.wake.take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

/// The lead's end of one helper. Several chunks may be out at once; the
/// replies come back in the order the chunks went.
pub struct Link {
    endpoint: Endpoint,
    /// The worker this link started (`spawn`), ended with the link.
    worker: Option<Worker>,
    /// Whether the helper serves yet: a worker just started says `Ready`,
    /// then is told to `Serve`.
    serving: bool,
    inbox: Rc<RefCell<Inbox>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Option<Closure<dyn FnMut(web_sys::Event)>>,
    /// The parameters' version the helper holds (see `send`).
    version: Option<usize>,
    /// The work sent and not yet answered: its task, chunks, and how
    /// many gradient sums its reply brings.
    out: Option<(Task, usize, usize)>,
    /// The last reply's buffers, holding its gradient sums in order.
    sums: Vec<js_sys::Float32Array>,
    /// Buffers back from the helper, for the next work to carry.
    spare: Vec<js_sys::Float32Array>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // The handler dies with the link: the endpoint must not call it.
        self.endpoint.set_onmessage(None);
        if let Some(worker) = &self.worker {
            worker.terminate();
        }
    }
}

impl Link {
    /// A link to a helper that serves at the other end of `endpoint`
    /// already (see `serve`).
    pub fn new(endpoint: Endpoint) -> Link {
        Link::listen(endpoint, None)
    }

    /// Starts a helper worker running `script` (this worker's own; a
    /// module if `module`), and links to it.
    pub fn spawn(script: &str, module: bool) -> Result<Link, String> {
        let options = web_sys::WorkerOptions::new();
        if module {
            options.set_type(web_sys::WorkerType::Module);
        }
        let worker = Worker::new_with_options(script, &options).map_err(|e| format!("cannot start a helper worker: {e:?}"))?;
        Ok(Link::listen(worker.clone().unchecked_into(), Some(worker)))
    }

    fn listen(endpoint: Endpoint, worker: Option<Worker>) -> Link {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let on_message = {
            let inbox = inbox.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| inbox.borrow_mut().push(Ok((e.data(), clock_ms()))))
        };
        endpoint.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_error = worker.as_ref().map(|worker| {
            let inbox = inbox.clone();
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let what = get(&e, "message").as_string().unwrap_or_else(|| "it could not start".into());
                inbox.borrow_mut().push(Err(format!("a helper worker failed: {what}")));
            });
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error
        });
        let serving = worker.is_none();
        Link {
            endpoint,
            worker,
            serving,
            inbox,
            _on_message: on_message,
            _on_error: on_error,
            version: None,
            out: None,
            sums: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// The next message from the helper, and when it arrived.
    async fn next(&self) -> Result<(JsValue, f64), String> {
        loop {
            if let Some(message) = self.inbox.borrow_mut().messages.pop_front() {
                return message;
            }
            let promise = js_sys::Promise::new(&mut |resolve, _| self.inbox.borrow_mut().wake = Some(resolve));
            JsFuture::from(promise).await.map_err(|_| "a helper worker did not answer".to_string())?;
        }
    }

    /// The helper's next reply, the whole message it came in, and when it arrived.
    async fn reply(&self) -> Result<(FromHelper, JsValue, f64), String> {
        let (data, arrived) = self.next().await?;
        Ok((message_of::<FromHelper>(&data)?, data, arrived))
    }

    /// Makes sure the helper serves and holds `data`, sending it if not.
    pub async fn connect(&mut self, data: &Mnist, data_url: &str) -> Result<(), String> {
        if !self.serving {
            match message_of::<FromWorker>(&self.next().await?.0) {
                Ok(FromWorker::Ready) => {}
                other => return Err(format!("a helper worker started with {other:?}")),
            }
            self.post(&envelope(&ToWorker::Serve), &js_sys::Array::new())?;
            self.serving = true;
        }
        self.post(&envelope(&ToHelper::Hello { data_url: data_url.into() }), &js_sys::Array::new())?;
        let (FromHelper::Hello { has_data }, ..) = self.reply().await? else {
            return Err("a helper worker answered out of turn".into());
        };
        if !has_data {
            let message = envelope(&ToHelper::Data { data_url: data_url.into() });
            let transfer = js_sys::Array::new();
            let sets = [&data.train, &data.valid, &data.test];
            for (i, name) in DATA_ARRAYS.iter().enumerate() {
                let set_ = sets[i / 2];
                let array = js_sys::Uint8Array::from(if i % 2 == 0 { &set_.images[..] } else { &set_.labels[..] });
                transfer.push(&array.buffer());
                set(&message, name, &array);
            }
            self.post(&message, &transfer)?;
        }
        self.version = None;
        Ok(())
    }

    /// Sends chunks `chunks` of `plan` (none: nothing to send), with
    /// `params` if the helper's are not of `version` yet; `receive` takes
    /// the reply.
    pub fn send(&mut self, plan: &Plan, chunks: Range<usize>, params: &[f32], version: usize) -> Result<(), String> {
        if chunks.is_empty() {
            return Ok(());
        }
        // A buffer for each gradient sum the reply brings; at least one, for the parameters.
        let sums = plan.sums(chunks.clone());
        self.spare.append(&mut self.sums);
        let buffers: Vec<js_sys::Float32Array> = (0..sums.max(1))
            // New buffers only until the first replies bring theirs back.
            .map(|_| self.spare.pop().unwrap_or_else(|| js_sys::Float32Array::new_with_length(params.len() as u32)))
            .collect();
        let fresh = self.version != Some(version);
        if fresh {
            buffers[0].copy_from(params);
            self.version = Some(version);
        }
        let message = envelope(&ToHelper::work(plan, chunks.clone(), fresh));
        let transfer: js_sys::Array = buffers.iter().map(|b| b.buffer()).collect();
        set(&message, "buffers", &buffers.into_iter().collect::<js_sys::Array>());
        self.out = Some((plan.task, chunks.len(), sums));
        self.post(&message, &transfer)
    }

    /// The outcomes of the work last sent (the evaluation chunks' added
    /// up), with its times; `copy_sum` then gives its gradient sums.
    pub async fn receive(&mut self) -> Result<(Vec<Outcome>, Times), String> {
        let (task, chunks_out, sums) = self.out.take().ok_or("no work is out at this helper")?;
        let (head, data, arrived) = self.reply().await?;
        let buffers = get(&data, "buffers").dyn_into::<js_sys::Array>().unwrap_or_default();
        let n = param_count() as u32;
        self.sums = buffers.iter().filter_map(|b| b.dyn_into::<js_sys::Float32Array>().ok()).filter(|b| b.length() == n).collect();
        match head {
            FromHelper::Trained { chunks, times } if task == Task::Train => {
                if chunks.len() != chunks_out || self.sums.len() < sums {
                    return Err(format!(
                        "a helper worker answered {chunks_out} chunks with {} outcomes and {} sums",
                        chunks.len(),
                        self.sums.len()
                    ));
                }
                Ok((chunks.into_iter().map(|(loss, count)| Outcome::Trained { loss, count }).collect(), Times { arrived, ..times }))
            }
            FromHelper::Counted { errors, count, times } if task != Task::Train => {
                Ok((vec![Outcome::Counted { errors, count }], Times { arrived, ..times }))
            }
            FromHelper::Failed { message } => {
                // Refused work may not have loaded the parameters it brought.
                self.version = None;
                Err(format!("a helper worker failed: {message}"))
            }
            other => Err(format!("a helper worker answered out of turn: {other:?}")),
        }
    }

    /// Copies the last reply's `k`-th gradient sum into `sum`.
    #[track_caller]
    pub fn copy_sum(&self, k: usize, sum: &mut [f32]) {
        self.sums[k].copy_to(sum);
    }

    fn post(&self, message: &JsValue, transfer: &js_sys::Array) -> Result<(), String> {
        self.endpoint.post_message(message, transfer).map_err(|e| format!("cannot reach a helper worker: {e:?}"))
    }
}
