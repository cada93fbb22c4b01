//! The live charts, drawn by hand on one canvas: training cost per
//! iteration (raw, faint, and smoothed) on the left, validation and test
//! error per epoch on the right. `ChartData` is the model (tested on its
//! own); `draw` paints it at its displayed size and the screen's pixel
//! ratio, in the page's colour scheme.

use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Weight of the newest cost in the exponential moving average.
const SMOOTHING: f64 = 0.05;
/// Most points drawn per line: more cannot be told apart on a canvas.
const MAX_DRAWN: usize = 1500;
/// Most points a series keeps: past it, every other one is let go, so that
/// however long a run is, a redraw costs the same (a tenth of a million
/// points is far more than a canvas or the figures table can show).
const MAX_KEPT: usize = 100_000;
/// Most rows of the figures table, spread over the run like the lines.
pub const MAX_ROWS: usize = 500;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartData {
    /// (iteration, cost) and its moving average.
    pub costs: Vec<(f64, f64)>,
    pub smoothed: Vec<(f64, f64)>,
    /// (epoch, error %).
    pub validation: Vec<(f64, f64)>,
    pub test: Vec<(f64, f64)>,
    /// Changed whenever the validations or tests change, to a number no
    /// chart had before (0 for none): the figures table is rebuilt only then.
    pub figures: u64,
}

/// A number no earlier change of a chart's figures had.
fn next_revision() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl ChartData {
    pub fn push_cost(&mut self, iteration: f64, cost: f64) {
        let average = match self.smoothed.last() {
            Some(&(_, prev)) => prev + SMOOTHING * (cost - prev),
            None => cost,
        };
        keep(&mut self.costs, (iteration, cost));
        keep(&mut self.smoothed, (iteration, average));
    }

    pub fn push_validation(&mut self, epoch: f64, error_percent: f64) {
        keep(&mut self.validation, (epoch, error_percent));
        self.figures = next_revision();
    }

    pub fn push_test(&mut self, epoch: f64, error_percent: f64) {
        keep(&mut self.test, (epoch, error_percent));
        self.figures = next_revision();
    }

    pub fn clear(&mut self) {
        *self = ChartData::default();
    }
}

/// Appends `point`, first letting every other kept point go once there are
/// `MAX_KEPT` (the first and the newest stay).
fn keep(series: &mut Vec<(f64, f64)>, point: (f64, f64)) {
    if series.len() >= MAX_KEPT {
        let mut i = 0;
        series.retain(|_| {
            i += 1;
            i % 2 == 1
        });
    }
    series.push(point);
}

/// Round tick values covering [lo, hi], at most about `max_ticks`, on
/// steps of 1, 2 or 5 times a power of ten.
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || max_ticks == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / max_ticks as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// [0, max] of the values, padded, never empty.
pub fn y_range(series: &[&[(f64, f64)]]) -> (f64, f64) {
    let max = series.iter().flat_map(|s| s.iter().map(|p| p.1)).filter(|v| v.is_finite()).fold(0.0, f64::max);
    (0.0, if max > 0.0 { max * 1.08 } else { 1.0 })
}

/// At most `MAX_DRAWN` evenly spaced points of a series (always the last).
pub fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    thin_to(points, MAX_DRAWN)
}

/// At most about `most` evenly spaced points of a series (always the last).
fn thin_to(points: &[(f64, f64)], most: usize) -> Vec<(f64, f64)> {
    if points.len() <= most {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(most);
    let mut out: Vec<_> = points.iter().step_by(stride).copied().collect();
    if out.last() != points.last() {
        out.push(*points.last().unwrap());
    }
    out
}

struct Panel {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Panel {
    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.width
    }
    fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.0) / (self.y.1 - self.y.0) * self.height
    }
}

/// The chart's colours, for a light or a dark page.
pub struct Palette {
    pub ink: &'static str,
    pub grid: &'static str,
    pub cost: &'static str,
    pub cost_raw: &'static str,
    pub valid: &'static str,
    pub test: &'static str,
}

pub const LIGHT: Palette =
    Palette { ink: "#1f2330", grid: "#e3e6ec", cost: "#3565b8", cost_raw: "rgba(53,101,184,0.25)", valid: "#c0601a", test: "#23824c" };
pub const DARK: Palette =
    Palette { ink: "#e4e7ee", grid: "#2e3340", cost: "#8ab4ff", cost_raw: "rgba(138,180,255,0.25)", valid: "#f0a060", test: "#5fd08f" };

/// Below this width (CSS pixels) the two panels stack.
const SIDE_BY_SIDE: f64 = 560.0;
/// Each panel's height (CSS pixels).
const PANEL_HEIGHT: f64 = 300.0;

/// Paints the data on the canvas at its displayed width, its backing store
/// that width times the device pixel ratio so that text and lines stay
/// crisp; on a narrow screen the panels stack (the canvas grows taller).
pub fn draw(canvas: &HtmlCanvasElement, data: &ChartData, palette: &Palette) {
    let ratio = super::window().device_pixel_ratio().max(1.0);
    let css_w = f64::from(canvas.client_width().max(1));
    let stacked = css_w < SIDE_BY_SIDE;
    let css_h = if stacked { 2.0 * PANEL_HEIGHT } else { PANEL_HEIGHT };
    let _ = canvas.style().set_property("height", &format!("{css_h}px"));
    let (w, h) = ((css_w * ratio).round() as u32, (css_h * ratio).round() as u32);
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    let ctx = super::pad::context_2d(canvas);
    ctx.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0).expect("a plain scale");
    ctx.clear_rect(0.0, 0.0, css_w, css_h);
    ctx.set_font("12px system-ui, sans-serif");

    // Each panel's box: side by side, or one above the other.
    let (pw, second) = if stacked { (css_w, (0.0, PANEL_HEIGHT)) } else { (css_w / 2.0, (css_w / 2.0, 0.0)) };
    let (ml, mr, mt, mb) = (48.0, 14.0, 28.0, 36.0);
    let last_iter = data.costs.last().map_or(1.0, |p| p.0.max(1.0));
    let (width, height) = ((pw - ml - mr).max(10.0), PANEL_HEIGHT - mt - mb);
    let cost = Panel { left: ml, top: mt, width, height, x: (0.0, last_iter), y: y_range(&[&data.costs]) };
    // One epoch of headroom, so the newest point is not on the frame.
    let epochs = data.validation.iter().chain(&data.test).map(|p| p.0 + 1.0).fold(2.0, f64::max);
    let (left, top) = (second.0 + ml, second.1 + mt);
    let error = Panel { left, top, width, height, x: (0.0, epochs), y: y_range(&[&data.validation, &data.test]) };
    // Fewer x ticks where the panel is narrow, so that labels never collide.
    let x_ticks = ((width / 70.0) as usize).clamp(2, 6);
    axes(&ctx, &cost, "iteration", "training cost", x_ticks, palette);
    axes(&ctx, &error, "epoch", "error %", x_ticks, palette);
    line(&ctx, &cost, &thin(&data.costs), palette.cost_raw, 1.0, false);
    line(&ctx, &cost, &thin(&data.smoothed), palette.cost, 2.0, false);
    line(&ctx, &error, &thin(&data.validation), palette.valid, 2.0, true);
    line(&ctx, &error, &thin(&data.test), palette.test, 2.0, true);
    legend(&ctx, cost.left + 8.0, cost.top - 12.0, &[(palette.cost, "cost (smoothed)")], palette.ink);
    legend(&ctx, error.left + 8.0, error.top - 12.0, &[(palette.valid, "validation"), (palette.test, "test (best model)")], palette.ink);
}

fn axes(ctx: &CanvasRenderingContext2d, p: &Panel, x_label: &str, y_label: &str, x_ticks: usize, palette: &Palette) {
    ctx.set_line_width(1.0);
    ctx.set_stroke_style_str(palette.grid);
    ctx.set_fill_style_str(palette.ink);
    ctx.set_text_align("right");
    ctx.set_text_baseline("middle");
    for y in nice_ticks(p.y.0, p.y.1, 5) {
        let py = p.py(y).round() + 0.5;
        ctx.begin_path();
        ctx.move_to(p.left, py);
        ctx.line_to(p.left + p.width, py);
        ctx.stroke();
        let _ = ctx.fill_text(&trim(y), p.left - 6.0, py);
    }
    ctx.set_text_align("center");
    ctx.set_text_baseline("top");
    let whole = p.x.1 - p.x.0 >= 2.0;
    for x in nice_ticks(p.x.0, p.x.1, x_ticks).into_iter().filter(|x| !whole || x.fract() == 0.0) {
        let px = p.px(x).round() + 0.5;
        ctx.begin_path();
        ctx.move_to(px, p.top + p.height);
        ctx.line_to(px, p.top + p.height + 4.0);
        ctx.stroke();
        let _ = ctx.fill_text(&trim(x), px, p.top + p.height + 6.0);
    }
    ctx.set_stroke_style_str(palette.ink);
    ctx.begin_path();
    ctx.move_to(p.left + 0.5, p.top);
    ctx.line_to(p.left + 0.5, p.top + p.height + 0.5);
    ctx.line_to(p.left + p.width, p.top + p.height + 0.5);
    ctx.stroke();
    let _ = ctx.fill_text(x_label, p.left + p.width / 2.0, p.top + p.height + 20.0);
    ctx.save();
    let _ = ctx.translate(p.left - 38.0, p.top + p.height / 2.0);
    let _ = ctx.rotate(-std::f64::consts::FRAC_PI_2);
    let _ = ctx.fill_text(y_label, 0.0, 0.0);
    ctx.restore();
}

fn line(ctx: &CanvasRenderingContext2d, p: &Panel, points: &[(f64, f64)], color: &str, width: f64, dots: bool) {
    ctx.set_stroke_style_str(color);
    ctx.set_fill_style_str(color);
    ctx.set_line_width(width);
    ctx.begin_path();
    for (i, &(x, y)) in points.iter().enumerate() {
        if i == 0 {
            ctx.move_to(p.px(x), p.py(y));
        } else {
            ctx.line_to(p.px(x), p.py(y));
        }
    }
    ctx.stroke();
    if dots {
        for &(x, y) in points {
            ctx.begin_path();
            let _ = ctx.arc(p.px(x), p.py(y), 2.5, 0.0, std::f64::consts::TAU);
            ctx.fill();
        }
    }
}

fn legend(ctx: &CanvasRenderingContext2d, mut x: f64, y: f64, entries: &[(&str, &str)], ink: &str) {
    ctx.set_text_align("left");
    ctx.set_text_baseline("middle");
    for (color, label) in entries {
        ctx.set_fill_style_str(color);
        ctx.fill_rect(x, y - 2.0, 14.0, 4.0);
        ctx.set_fill_style_str(ink);
        let _ = ctx.fill_text(label, x + 18.0, y);
        x += 26.0 + ctx.measure_text(label).map_or(60.0, |m| m.width());
    }
}

/// A tick label without float noise: 0.30000000000000004 -> "0.3".
fn trim(v: f64) -> String {
    let s = format!("{:.4}", v);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The per-epoch figures as table rows (epoch, validation error, test
/// error of the best model): the chart's text alternative, at most about
/// `MAX_ROWS` of them spread over the run, in time linear in its history.
pub fn figures_rows(data: &ChartData) -> String {
    let mut rows = String::new();
    // Both series are in epoch order: one pass over each.
    let mut tests = data.test.iter().peekable();
    for (epoch, valid) in thin_to(&data.validation, MAX_ROWS) {
        while tests.next_if(|t| t.0 < epoch).is_some() {}
        let test = tests.peek().filter(|t| t.0 == epoch).map_or("–".to_string(), |t| format!("{:.2} %", t.1));
        rows += &format!("<tr><td>{epoch}</td><td>{valid:.2} %</td><td>{test}</td></tr>");
    }
    rows
}
