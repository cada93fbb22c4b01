//! The ways pens differ: thicker or thinner strokes (a grey-level
//! dilation or erosion, by a fraction of a pixel and more) and blur of
//! random width.

use super::geometry::{gaussian, smooth, MAX_RADIUS};
use crate::model::{IMAGE_LEN, IMAGE_SIDE};

const SIDE: usize = IMAGE_SIDE;

/// Strokes `radius` pixels thicker (or, negative, thinner): whole steps
/// of a 3x3 grey-level dilation (erosion), then the fraction left as a
/// blend with one more step.
pub fn stroke(image: &mut [f32; IMAGE_LEN], radius: f32) {
    let (steps, fraction) = (radius.abs() as usize, radius.abs() - radius.abs().floor());
    let thicker = radius > 0.0;
    for _ in 0..steps {
        *image = morph(image, thicker);
    }
    if fraction > 0.0 {
        let next = morph(image, thicker);
        for (v, n) in image.iter_mut().zip(next) {
            *v += fraction * (n - *v);
        }
    }
}

/// One step of grey-level dilation (the max over each pixel's 3x3
/// neighbourhood) or erosion (the min; outside the image counts as paper).
fn morph(image: &[f32; IMAGE_LEN], dilate: bool) -> [f32; IMAGE_LEN] {
    let mut out = [0.0f32; IMAGE_LEN];
    for y in 0..SIDE {
        for x in 0..SIDE {
            let mut v = image[y * SIDE + x];
            for ny in y.saturating_sub(1)..(y + 2).min(SIDE) {
                for nx in x.saturating_sub(1)..(x + 2).min(SIDE) {
                    let n = image[ny * SIDE + nx];
                    v = if dilate { v.max(n) } else { v.min(n) };
                }
            }
            let edge = y == 0 || x == 0 || y == SIDE - 1 || x == SIDE - 1;
            out[y * SIDE + x] = if !dilate && edge { 0.0 } else { v };
        }
    }
    out
}

/// A Gaussian blur of width `sigma` pixels.
pub fn blur(image: &mut [f32; IMAGE_LEN], sigma: f32) {
    let mut weights = [0.0f32; MAX_RADIUS + 1];
    let radius = gaussian(&mut weights, sigma);
    smooth(image, &weights[..=radius]);
}
