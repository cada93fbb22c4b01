//! The run's log, worded once: the command line prints these lines and
//! the page shows them, so the two read the same. The wording follows the
//! tutorial's own prints.

use super::event::{Event, StopReason};
use super::protocol::{Protocol, Schedule};

/// Costs are logged every this many minibatches, as the tutorial does.
pub const COST_EVERY: usize = 100;

/// The line that opens a run on `workers` threads or Web Workers (`kind`).
pub fn header(p: &Protocol, workers: usize, kind: &str) -> String {
    let plural = if workers == 1 { "" } else { "s" };
    format!(
        "... training (lr {}, momentum {}, {}, batch {}, {} epochs, seed {}{}) on {workers} {kind}{plural}",
        p.learning_rate,
        p.momentum,
        match p.schedule {
            Schedule::Step => format!("decay {}", p.lr_decay),
            Schedule::Cosine => "cosine schedule".to_string(),
        },
        p.batch_size,
        p.epochs,
        p.seed,
        if p.augment.is_on() { format!(", distortions {}", p.augment) } else { String::new() }
    )
}

/// The log lines of one event (none for most): `batches` is the number of
/// minibatches in an epoch.
pub fn lines(event: &Event, batches: usize) -> Vec<String> {
    let pct = |e: f64| e * 100.0;
    match *event {
        Event::Trained { iter, cost, .. } if iter % COST_EVERY == 0 || !cost.is_finite() => {
            vec![format!("training @ iter = {iter}, cost {cost:.6}")]
        }
        Event::Validated { epoch, minibatch, error, .. } => {
            vec![format!("epoch {epoch}, minibatch {minibatch}/{batches}, validation error {:.2} %", pct(error))]
        }
        Event::Tested { epoch, minibatch, error } => {
            vec![format!("     epoch {epoch}, minibatch {minibatch}/{batches}, test error of best model {:.2} %", pct(error))]
        }
        Event::Finished { reason, best_validation, best_iter, test_score } => vec![
            "Optimization complete.".into(),
            stop_reason(reason).into(),
            format!(
                "Best validation score of {:.2} % obtained at iteration {}, with test performance {:.2} %",
                pct(best_validation),
                best_iter + 1,
                pct(test_score)
            ),
        ],
        _ => Vec::new(),
    }
}

/// Why the run ended, for a person.
pub fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Epochs => "Stopped after the last epoch.",
        StopReason::Patience => "Stopped early: patience ran out (no better validation error for long enough).",
        StopReason::Diverged => "Training diverged (the cost became NaN or infinite): lower the learning rate.",
    }
}

/// The closing line: training time and speed.
pub fn ran_for(seconds: f64, images: usize) -> String {
    format!("ran for {:.2}m ({:.0} training images/s)", seconds / 60.0, images as f64 / seconds.max(1e-9))
}

/// "validation 3000/10000" while a pass runs.
pub fn evaluating(event: &Event) -> Option<String> {
    match event {
        Event::Evaluating { set, done, total } => Some(format!("{} {done}/{total}", set.name())),
        _ => None,
    }
}

/// "1m05s", "2h03m": durations for status lines.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}
