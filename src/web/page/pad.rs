//! The drawing pad: strokes from mouse, pen or touch (pointer events with
//! pointer capture; `touch-action: none` in the CSS keeps the page from
//! scrolling), turned into an MNIST-style image by the core's
//! `preprocess`, shown as the 28x28 preview the network sees, and
//! classified with the newest weights.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlElement, PointerEvent};

use super::dataset::class_name;
use crate::model::{CLASSES, IMAGE_SIDE};
use crate::web::{element, listen};

/// Stroke width as a share of the pad's side: about the pen of MNIST's
/// writers once the digit is scaled to 20 pixels.
const STROKE: f64 = 0.07;

pub fn context_2d(canvas: &HtmlCanvasElement) -> CanvasRenderingContext2d {
    canvas.get_context("2d").ok().flatten().expect("canvas 2d contexts are available").dyn_into().expect("a 2d context")
}

/// Ink (0 paper .. 1 black) of a canvas drawn black on white, (height,width).
pub fn ink(canvas: &HtmlCanvasElement) -> Vec<f32> {
    let (w, h) = (canvas.width(), canvas.height());
    let data = context_2d(canvas).get_image_data(0.0, 0.0, f64::from(w), f64::from(h)).expect("the pad is same-origin").data();
    data.chunks_exact(4)
        .map(|px| {
            let luminance = (0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2])) / 255.0;
            let alpha = f32::from(px[3]) / 255.0;
            alpha * (1.0 - luminance)
        })
        .collect()
}

pub struct Pad {
    pub canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    last: Option<(f64, f64)>,
}

impl Pad {
    /// Wires the pad's pointer events; `on_ink` runs after every stroke segment.
    pub fn install(on_ink: impl Fn() + 'static) -> Rc<RefCell<Pad>> {
        let canvas: HtmlCanvasElement = element("pad");
        let ctx = context_2d(&canvas);
        let pad = Rc::new(RefCell::new(Pad { canvas: canvas.clone(), ctx, last: None }));
        pad.borrow().clear();
        let on_ink = Rc::new(on_ink);
        let (p, ink) = (pad.clone(), on_ink.clone());
        listen(&canvas, "pointerdown", move |e: PointerEvent| {
            e.prevent_default();
            let _ = p.borrow().canvas.set_pointer_capture(e.pointer_id());
            let point = p.borrow().position(&e);
            p.borrow_mut().last = Some(point);
            p.borrow().segment(point, point);
            ink();
        });
        let (p, ink) = (pad.clone(), on_ink.clone());
        listen(&canvas, "pointermove", move |e: PointerEvent| {
            let Some(last) = p.borrow().last else { return };
            e.prevent_default();
            let point = p.borrow().position(&e);
            p.borrow().segment(last, point);
            p.borrow_mut().last = Some(point);
            ink();
        });
        for name in ["pointerup", "pointercancel"] {
            let p = pad.clone();
            listen(&canvas, name, move |_: PointerEvent| p.borrow_mut().last = None);
        }
        pad
    }

    /// The event's position in canvas pixels (the CSS size may differ).
    fn position(&self, e: &PointerEvent) -> (f64, f64) {
        let rect = self.canvas.get_bounding_client_rect();
        let sx = f64::from(self.canvas.width()) / rect.width().max(1.0);
        let sy = f64::from(self.canvas.height()) / rect.height().max(1.0);
        ((f64::from(e.client_x()) - rect.left()) * sx, (f64::from(e.client_y()) - rect.top()) * sy)
    }

    fn segment(&self, from: (f64, f64), to: (f64, f64)) {
        let ctx = &self.ctx;
        ctx.set_stroke_style_str("#000");
        ctx.set_line_width(STROKE * f64::from(self.canvas.width()));
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        ctx.begin_path();
        ctx.move_to(from.0, from.1);
        ctx.line_to(to.0, to.1);
        ctx.stroke();
    }

    pub fn clear(&self) {
        self.ctx.set_fill_style_str("#fff");
        self.ctx.fill_rect(0.0, 0.0, f64::from(self.canvas.width()), f64::from(self.canvas.height()));
    }
}

/// Paints the 28x28 image the network sees (white ink on black, as MNIST).
pub fn show_preview(canvas: &HtmlCanvasElement, image: Option<&[f32]>) {
    let ctx = context_2d(canvas);
    let mut rgba = vec![0u8; IMAGE_SIDE * IMAGE_SIDE * 4];
    for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
        let v = image.map_or(0, |im| (im[i] * 256.0).min(255.0) as u8);
        px.copy_from_slice(&[v, v, v, 255]);
    }
    let data = web_sys::ImageData::new_with_u8_clamped_array(wasm_bindgen::Clamped(&rgba), IMAGE_SIDE as u32).expect("28x28 RGBA");
    ctx.put_image_data(&data, 0.0, 0.0).expect("preview is same-origin");
}

/// Fills #prediction: `data-digit` (the class's label, a digit on either
/// data set), `data-class` (its name), `data-probs`, and the ten bars.
pub fn show_prediction(probs: Option<&[f32]>) {
    let out: HtmlElement = element("prediction");
    match probs {
        Some(p) => {
            let digit = crate::tensor::argmax(p);
            let _ = out.set_attribute("data-digit", &digit.to_string());
            let list: Vec<String> = p.iter().map(|v| format!("{v:.4}")).collect();
            let _ = out.set_attribute("data-probs", &list.join(","));
            let _ = out.set_attribute("data-class", class_name(digit));
            element::<HtmlElement>("guess").set_text_content(Some(class_name(digit)));
        }
        None => {
            let _ = out.remove_attribute("data-digit");
            let _ = out.remove_attribute("data-class");
            let _ = out.remove_attribute("data-probs");
            element::<HtmlElement>("guess").set_text_content(Some("?"));
        }
    }
    for c in 0..CLASSES {
        let bar: HtmlElement = element(&format!("bar{c}"));
        let v = probs.map_or(0.0, |p| p[c]);
        let _ = bar.style().set_property("width", &format!("{:.1}%", v * 100.0));
        let _ = bar.set_attribute("title", &format!("{}: {:.1} %", class_name(c), v * 100.0));
        let is_best = probs.is_some_and(|p| crate::tensor::argmax(p) == c);
        let _ = bar.class_list().toggle_with_force("best", is_best);
    }
}
