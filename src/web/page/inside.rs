//! A look inside the network: conv1's filters, the drawn digit's feature
//! maps, the test set's confusion matrix and, for a clicked cell, a
//! gallery of its images.

use wasm_bindgen::Clamped;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlElement, ImageData};

use super::dataset::{class_name, collection};
use super::pad::context_2d;
use crate::confusion::{Confusion, Prediction};
use crate::data::Collection;
use crate::model::{FeatureMaps, CLASSES, CONV1_FILTERS, CONV1_SIDE, CONV2_FILTERS, CONV2_SIDE, IMAGE_LEN, IMAGE_SIDE, KERNEL};
use crate::web::{element, window};

/// Most images a gallery shows of one cell.
pub const GALLERY_MAX: usize = 60;
/// Tiles per row on the filter and map canvases.
const PER_ROW: usize = 10;
/// Gap between tiles, and a caption line's height, in CSS pixels.
const GAP: f64 = 4.0;
const CAPTION: f64 = 16.0;

/// Square maps of `side` values each, drawn in rows of `PER_ROW` tiles
/// `tile` device pixels apart, each value a `scale`-pixel square.
struct Grid<'a> {
    values: &'a [f32],
    side: usize,
    tile: usize,
    scale: usize,
}

impl Grid<'_> {
    /// The grid filling `width` device pixels (gaps of `gap`).
    fn fit(values: &[f32], side: usize, width: usize, gap: usize) -> Grid<'_> {
        let tile = (width / PER_ROW).max(side + gap);
        Grid { values, side, tile, scale: ((tile - gap) / side).max(1) }
    }

    fn height(&self) -> usize {
        let maps = self.values.len() / (self.side * self.side);
        maps.div_ceil(PER_ROW) * self.tile
    }

    /// Draws the maps at `top`, each grey from -`range` (black) to
    /// +`range` (white), `range` per map if `per_map`, else 1.
    fn draw(&self, ctx: &CanvasRenderingContext2d, top: usize, per_map: bool) {
        let area = self.side * self.side;
        let px = self.side * self.scale;
        let mut rgba = vec![0u8; px * px * 4];
        for (m, map) in self.values.chunks_exact(area).enumerate() {
            let range = if per_map { map.iter().fold(1e-6f32, |r, v| r.max(v.abs())) } else { 1.0 };
            for (i, out) in rgba.chunks_exact_mut(4).enumerate() {
                let (y, x) = (i / px / self.scale, i % px / self.scale);
                let v = ((map[y * self.side + x] / range + 1.0) * 127.5).clamp(0.0, 255.0) as u8;
                out.copy_from_slice(&[v, v, v, 255]);
            }
            let image = ImageData::new_with_u8_clamped_array(Clamped(&rgba), px as u32).expect("square RGBA");
            let (col, row) = (m % PER_ROW, m / PER_ROW);
            let _ = ctx.put_image_data(&image, (col * self.tile) as f64, (top + row * self.tile) as f64);
        }
    }
}

/// The canvas's displayed width in device pixels, and the pixel ratio.
fn device_width(canvas: &HtmlCanvasElement) -> (usize, f64) {
    let ratio = window().device_pixel_ratio().max(1.0);
    ((f64::from(canvas.client_width().max(1)) * ratio).round() as usize, ratio)
}

/// Gives the canvas a backing store of `width` x `height` device pixels,
/// shown at that size divided by the pixel ratio.
fn size(canvas: &HtmlCanvasElement, width: usize, height: usize, ratio: f64) {
    if canvas.width() != width as u32 || canvas.height() != height as u32 {
        canvas.set_width(width as u32);
        canvas.set_height(height as u32);
    }
    let _ = canvas.style().set_property("height", &format!("{}px", height as f64 / ratio));
}

/// conv1's filters, each scaled to its largest weight.
pub fn draw_filters(conv1_weights: &[f32]) {
    let canvas: HtmlCanvasElement = element("filters");
    let (width, ratio) = device_width(&canvas);
    let grid = Grid::fit(conv1_weights, KERNEL, width, (GAP * ratio) as usize);
    size(&canvas, width, grid.height(), ratio);
    let ctx = context_2d(&canvas);
    ctx.clear_rect(0.0, 0.0, width as f64, grid.height() as f64);
    grid.draw(&ctx, 0, true);
}

/// The drawn digit's maps after conv1 and conv2, or a note to draw; text
/// in `ink`.
pub fn draw_maps(maps: Option<&FeatureMaps>, ink: &str) {
    let canvas: HtmlCanvasElement = element("maps");
    let empty = vec![0.0; CONV1_FILTERS * CONV1_SIDE * CONV1_SIDE + CONV2_FILTERS * CONV2_SIDE * CONV2_SIDE];
    let (c1, c2) = match maps {
        Some(m) => (&m.conv1[..], &m.conv2[..]),
        None => empty.split_at(CONV1_FILTERS * CONV1_SIDE * CONV1_SIDE),
    };
    let (width, ratio) = device_width(&canvas);
    let (gap, caption) = ((GAP * ratio) as usize, (CAPTION * ratio) as usize);
    let g1 = Grid::fit(c1, CONV1_SIDE, width, gap);
    // conv2's maps are a third of conv1's side: tiles half as wide keep them legible and short.
    let g2 = Grid::fit(c2, CONV2_SIDE, width / 2, gap);
    let height = 2 * caption + g1.height() + g2.height();
    size(&canvas, width, height, ratio);
    let ctx = context_2d(&canvas);
    ctx.clear_rect(0.0, 0.0, width as f64, height as f64);
    ctx.set_fill_style_str(ink);
    ctx.set_font(&format!("{}px system-ui, sans-serif", (12.0 * ratio).round()));
    let note = if maps.is_some() { "" } else { " (draw a digit)" };
    let baseline = 12.0 * ratio;
    let _ = ctx.fill_text(&format!("after conv1: {CONV1_FILTERS} maps of {CONV1_SIDE}x{CONV1_SIDE}{note}"), 0.0, baseline);
    g1.draw(&ctx, caption, false);
    let below = caption + g1.height();
    let _ = ctx.fill_text(&format!("after conv2: {CONV2_FILTERS} maps of {CONV2_SIDE}x{CONV2_SIDE}"), 0.0, below as f64 + baseline);
    g2.draw(&ctx, below + caption, false);
}

/// Fills `#confusion`: a header row of predicted classes, a row per true
/// class; each count shaded by its share of the row (the diagonal blue,
/// errors red) over the page's `background`, its text black or white,
/// whichever reads better on that shade (at least 4.6:1 either way).
pub fn show_confusion(c: &Confusion, background: [f64; 3]) {
    let what = if collection() == Collection::Mnist { "digit" } else { "class" };
    let mut html = format!("<caption>Test images by true {what} (rows) and prediction (columns); click a cell to see its images</caption>");
    html += &format!("<thead><tr><th scope=\"col\"><span class=\"sr\">true {what}, then predicted</span></th>");
    for d in 0..CLASSES {
        html += &format!("<th scope=\"col\">{}</th>", class_name(d));
    }
    html += "</tr></thead><tbody>";
    for truth in 0..CLASSES {
        let row: usize = (0..CLASSES).map(|p| c.count(truth, p)).sum();
        html += &format!("<tr><th scope=\"row\">{}</th>", class_name(truth));
        for pred in 0..CLASSES {
            let count = c.count(truth, pred);
            let share = if row == 0 { 0.0 } else { count as f64 / row as f64 };
            // Errors are few: a root keeps a handful of them visible.
            let (alpha, hue) = if truth == pred { (share, [53.0, 101.0, 184.0]) } else { (share.sqrt().min(1.0), [200.0, 60.0, 60.0]) };
            let shade: Vec<f64> = (0..3).map(|i| alpha * hue[i] + (1.0 - alpha) * background[i]).collect();
            let text = if contrast(&shade, &[0.0; 3]) >= contrast(&shade, &[255.0; 3]) { "#000" } else { "#fff" };
            html += &format!(
                "<td data-true=\"{truth}\" data-pred=\"{pred}\" tabindex=\"0\" style=\"background:rgb({:.0},{:.0},{:.0});color:{text}\" title=\"true {}, read as {}: {count}\">{count}</td>",
                shade[0],
                shade[1],
                shade[2],
                class_name(truth),
                class_name(pred)
            );
        }
        html += "</tr>";
    }
    html += "</tbody>";
    element::<HtmlElement>("confusion").set_inner_html(&html);
}

/// WCAG's contrast ratio of two sRGB colours (0..255).
fn contrast(a: &[f64], b: &[f64]) -> f64 {
    let luminance = |c: &[f64]| {
        let lin = |v: f64| {
            let v = v / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The cell's test-set indices to show (at most `GALLERY_MAX`), and how
/// many it holds.
pub fn cell_indices(predictions: &[Prediction], truth: usize, pred: usize) -> (Vec<u32>, usize) {
    let all: Vec<usize> = Confusion::cell(predictions, truth, pred).collect();
    (all.iter().take(GALLERY_MAX).map(|&i| i as u32).collect(), all.len())
}

/// Fills `#gallery` with the images (784 bytes each) of `indices`.
pub fn show_gallery(indices: &[u32], pixels: &[u8], predictions: &[Prediction], total: usize) {
    let gallery: HtmlElement = element("gallery");
    let mut html = String::new();
    for &i in indices {
        let p = &predictions[i as usize];
        html += &format!(
            "<figure class=\"item\" data-index=\"{i}\" data-label=\"{}\" data-predicted=\"{}\"><canvas width=\"{IMAGE_SIDE}\" height=\"{IMAGE_SIDE}\" role=\"img\" aria-label=\"test image {i}\"></canvas><figcaption>#{i}: {} read as {} ({:.0} %)</figcaption></figure>",
            p.label,
            p.predicted,
            class_name(usize::from(p.label)),
            class_name(usize::from(p.predicted)),
            p.probability * 100.0
        );
    }
    gallery.set_inner_html(&html);
    let canvases = gallery.get_elements_by_tag_name("canvas");
    for (k, image) in pixels.chunks_exact(IMAGE_LEN).enumerate() {
        let Some(canvas) = canvases.item(k as u32) else {
            break;
        };
        let canvas: HtmlCanvasElement = wasm_bindgen::JsCast::unchecked_into(canvas);
        let rgba: Vec<u8> = image.iter().flat_map(|&v| [v, v, v, 255]).collect();
        let data = ImageData::new_with_u8_clamped_array(Clamped(&rgba), IMAGE_SIDE as u32).expect("28x28 RGBA");
        let _ = context_2d(&canvas).put_image_data(&data, 0.0, 0.0);
    }
    let caption = if indices.is_empty() {
        "no test image in this cell".to_string()
    } else if total > indices.len() {
        format!("the first {} of {total} images", indices.len())
    } else {
        format!("all {total} images")
    };
    element::<HtmlElement>("gallery-caption").set_text_content(Some(&caption));
}
