//! What the page says of a run: its state (and the buttons it enables),
//! the status line, the log, the error box, and the chart redrawn once a
//! frame.

use web_sys::{HtmlButtonElement, HtmlCanvasElement, HtmlElement};

use super::app::{with_app, RunState};
use super::chart;
use super::runs::show_kept;
use crate::train::log::format_duration;
use crate::web::fetch::ANSWER_MS;
use crate::web::wire::Progress;
use crate::web::{element, window};
use wasm_bindgen::prelude::*;

/// The page's colours: the chart's palette and the panels' background.
pub struct Scheme {
    pub palette: &'static chart::Palette,
    pub card: [f64; 3],
}

/// The colour scheme the system prefers (see the style sheet).
pub fn scheme() -> Scheme {
    let dark = window().match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|m| m.matches());
    if dark {
        Scheme { palette: &chart::DARK, card: [27.0, 30.0, 38.0] }
    } else {
        Scheme { palette: &chart::LIGHT, card: [255.0, 255.0, 255.0] }
    }
}

pub fn set_state(state: RunState) {
    let data_missing = with_app(|app| {
        app.state = state;
        app.data_missing
    });
    let status: HtmlElement = element("status");
    let _ = status.set_attribute("data-state", state.name());
    let training = state.in_run();
    element::<HtmlButtonElement>("train").set_disabled(training || data_missing);
    element::<HtmlButtonElement>("pause").set_disabled(!training);
    element::<HtmlButtonElement>("stop").set_disabled(!training);
    element::<HtmlButtonElement>("pause").set_text_content(Some(if state == RunState::Paused { "Continue" } else { "Pause" }));
    show_kept();
}

pub fn set_status_text(text: &str) {
    element::<HtmlElement>("status-text").set_text_content(Some(text));
}

/// The status while MNIST downloads, with how long a server may keep it waiting.
pub fn loading_text() -> String {
    format!("loading {} ... (a file is given up after {} s without an answer)", super::dataset::collection().title(), ANSWER_MS / 1000)
}

pub fn log_line(line: &str) {
    let log: HtmlElement = element("log");
    let _ = log.append_with_str_1(&format!("{line}\n"));
    log.set_scroll_top(log.scroll_height());
}

pub fn show_error(message: &str) {
    let error: HtmlElement = element("error");
    error.set_text_content(Some(message));
    error.set_hidden(message.is_empty());
}

pub fn report(result: Result<(), String>) {
    if let Err(e) = result {
        show_error(&e);
    }
}

/// A slice of the run: the chart's new points, the log's new lines, and
/// the status line and its `data-*` figures.
pub fn on_progress(p: Progress) {
    with_app(|app| {
        for &(iter, cost) in &p.costs {
            app.chart.push_cost(f64::from(iter + 1), f64::from(cost));
        }
        for &(epoch, e) in &p.validations {
            app.chart.push_validation(f64::from(epoch), e);
        }
        for &(epoch, e) in &p.tests {
            app.chart.push_test(f64::from(epoch), e);
        }
    });
    for line in &p.log {
        log_line(line);
    }
    let status: HtmlElement = element("status");
    let set = |k: &str, v: String| {
        let _ = status.set_attribute(k, &v);
    };
    set("data-epoch", p.epoch.to_string());
    set("data-iterations", p.iterations.to_string());
    set("data-images-per-second", format!("{:.0}", p.images_per_second));
    if let Some(v) = p.best_validation {
        set("data-best-valid", format!("{v:.2}"));
    }
    if let Some(t) = p.test_score {
        set("data-test", format!("{t:.2}"));
    }
    let total = (p.epochs * p.batches_per_epoch) as f64;
    let left = if p.iterations > 0 { p.elapsed / p.iterations as f64 * (total - p.iterations as f64) } else { 0.0 };
    let mut text = format!(
        "epoch {}/{} · minibatch {}/{} · {:.0} images/s · {} elapsed · about {} left",
        p.epoch,
        p.epochs,
        p.minibatch,
        p.batches_per_epoch,
        p.images_per_second,
        format_duration(p.elapsed),
        format_duration(left)
    );
    if let (Some(v), Some(t)) = (p.best_validation, p.test_score) {
        text += &format!(" · best validation {v:.2} %, test {t:.2} %");
    }
    if let Some(e) = &p.evaluating {
        text += &format!(" · evaluating {e}");
    }
    set_status_text(&text);
    request_redraw();
}

/// Draws the chart on the next animation frame, once however many
/// messages arrive before it.
pub fn request_redraw() {
    let already = with_app(|app| std::mem::replace(&mut app.frame_pending, true));
    if already {
        return;
    }
    let frame = Closure::once_into_js(|| {
        with_app(|app| {
            app.frame_pending = false;
            chart::draw(&element::<HtmlCanvasElement>("chart"), &app.chart, scheme().palette);
            // The table changes only with a validation or a test.
            if app.figures_shown != Some(app.chart.figures) {
                app.figures_shown = Some(app.chart.figures);
                element::<HtmlElement>("figures-body").set_inner_html(&chart::figures_rows(&app.chart));
            }
        });
    });
    window().request_animation_frame(frame.unchecked_ref()).expect("animation frames exist");
}
