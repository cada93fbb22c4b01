//! Where each pixel of a distorted image is read from: a random affine
//! map (rotation, scale, shear, translation) about the centre, plus an
//! elastic displacement field (Simard, Steinkraus and Platt 2003: random
//! displacements smoothed by a Gaussian of width sigma and scaled by
//! alpha), then bilinear resampling of the source.

use super::math::{cos, exp_neg, sin};
use super::Augment;
use crate::model::{IMAGE_LEN, IMAGE_SIDE};
use crate::rng::Rng;

const SIDE: usize = IMAGE_SIDE;
/// The image's centre, about which the affine map turns and scales.
const CENTRE: f32 = (SIDE as f32 - 1.0) / 2.0;
/// The widest Gaussian the elastic field is smoothed with reaches this far.
pub const MAX_RADIUS: usize = 3 * 8;

/// out = the image `src` read at the positions of a random affine map
/// and elastic field (zero outside the image).
pub fn warp(out: &mut [f32; IMAGE_LEN], src: &[f32; IMAGE_LEN], a: &Augment, rng: &mut Rng) {
    let angle = rng.uniform(a.rotate) * (core::f32::consts::PI / 180.0);
    let scale = 1.0 + rng.uniform(a.scale);
    let shear = rng.uniform(a.shear);
    let (tx, ty) = (rng.uniform(a.shift), rng.uniform(a.shift));
    // The map from an output pixel to where it reads: scale, shear, turn.
    let (c, s) = (cos(angle), sin(angle));
    let m = [[c / scale, (c * shear - s) / scale], [s / scale, (s * shear + c) / scale]];
    let mut field = [[0.0f32; IMAGE_LEN]; 2];
    if a.elastic > 0.0 {
        elastic_field(&mut field, a.elastic, a.elastic_sigma, rng);
    }
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (dx, dy) = (x as f32 - CENTRE, y as f32 - CENTRE);
            let at = y * SIDE + x;
            let sx = m[0][0] * dx + m[0][1] * dy + CENTRE - tx + field[0][at];
            let sy = m[1][0] * dx + m[1][1] * dy + CENTRE - ty + field[1][at];
            out[at] = bilinear(src, sx, sy);
        }
    }
}

/// A displacement for each pixel, x then y: uniform in [-1, 1], smoothed
/// by a Gaussian of width `sigma` (separably, zero outside), times alpha.
fn elastic_field(field: &mut [[f32; IMAGE_LEN]; 2], alpha: f32, sigma: f32, rng: &mut Rng) {
    let mut weights = [0.0f32; MAX_RADIUS + 1];
    let radius = gaussian(&mut weights, sigma);
    for plane in field.iter_mut() {
        for v in plane.iter_mut() {
            *v = rng.uniform(1.0);
        }
        smooth(plane, &weights[..=radius]);
        for v in plane.iter_mut() {
            *v *= alpha;
        }
    }
}

/// weights[k] = exp(-k^2 / (2 sigma^2)), normalised over -r..=r; returns
/// the radius r (3 sigma, at most `MAX_RADIUS`; 0 for no width).
pub fn gaussian(weights: &mut [f32; MAX_RADIUS + 1], sigma: f32) -> usize {
    if sigma <= 0.0 {
        weights[0] = 1.0;
        return 0;
    }
    let radius = ((3.0 * sigma) as usize).clamp(1, MAX_RADIUS);
    let mut total = 0.0;
    for (k, w) in weights[..=radius].iter_mut().enumerate() {
        *w = exp_neg((k * k) as f32 / (2.0 * sigma * sigma));
        total += if k == 0 { *w } else { 2.0 * *w };
    }
    for w in &mut weights[..=radius] {
        *w /= total;
    }
    radius
}

/// plane (SIDE x SIDE) convolved with the symmetric kernel `weights`
/// (centre first) along rows, then columns; zero outside.
pub fn smooth(plane: &mut [f32; IMAGE_LEN], weights: &[f32]) {
    let r = weights.len() - 1;
    if r == 0 {
        return;
    }
    let mut rows = [0.0f32; IMAGE_LEN];
    for y in 0..SIDE {
        for x in 0..SIDE {
            let mut sum = plane[y * SIDE + x] * weights[0];
            for (k, &w) in weights.iter().enumerate().skip(1) {
                let left = if x >= k { plane[y * SIDE + x - k] } else { 0.0 };
                let right = if x + k < SIDE { plane[y * SIDE + x + k] } else { 0.0 };
                sum += w * (left + right);
            }
            rows[y * SIDE + x] = sum;
        }
    }
    for y in 0..SIDE {
        for x in 0..SIDE {
            let mut sum = rows[y * SIDE + x] * weights[0];
            for (k, &w) in weights.iter().enumerate().skip(1) {
                let up = if y >= k { rows[(y - k) * SIDE + x] } else { 0.0 };
                let down = if y + k < SIDE { rows[(y + k) * SIDE + x] } else { 0.0 };
                sum += w * (up + down);
            }
            plane[y * SIDE + x] = sum;
        }
    }
}

/// The image at (x, y), between pixels linearly; zero outside.
fn bilinear(src: &[f32; IMAGE_LEN], x: f32, y: f32) -> f32 {
    if !(x > -1.0 && y > -1.0 && x < SIDE as f32 && y < SIDE as f32) {
        return 0.0;
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i32, y0 as i32);
    let at = |xi: i32, yi: i32| -> f32 {
        if xi < 0 || yi < 0 || xi >= SIDE as i32 || yi >= SIDE as i32 {
            0.0
        } else {
            src[yi as usize * SIDE + xi as usize]
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
    let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}
