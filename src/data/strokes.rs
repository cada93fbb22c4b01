//! A second test set that MNIST does not hold: digits drawn from stroke
//! templates (several ways of writing most digits: a 1 with or without
//! its flag and base, open and closed 4s, 7s with and without a bar,
//! straight and curved 9s), each drawn by a random hand (slanted, turned,
//! narrower or wider, its points wobbling, a pen of random width) on a
//! canvas like the page's pad, then put through the pad's own
//! preprocessing (`preprocess::to_mnist`). A proxy for handwriting from
//! outside MNIST: other writers, other pens, the pad's path.

use super::Dataset;
use crate::model::IMAGE_LEN;
use crate::preprocess::to_mnist;
use crate::rng::Rng;

/// The canvas the digits are drawn on, in pixels a side (the pad's scale).
const CANVAS: usize = 160;

/// A stroke: points in the unit square, x to the right, y down.
type Stroke = Vec<(f32, f32)>;

/// Points along an ellipse about (cx, cy), from angle a0 to a1 (degrees,
/// 0 to the right, 90 down).
fn arc(cx: f32, cy: f32, rx: f32, ry: f32, a0: f32, a1: f32) -> Stroke {
    let steps = ((a1 - a0).abs() / 10.0).ceil().max(2.0) as usize;
    (0..=steps)
        .map(|i| {
            let a = (a0 + (a1 - a0) * i as f32 / steps as f32).to_radians();
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect()
}

fn line(points: &[(f32, f32)]) -> Stroke {
    points.to_vec()
}

/// Every way of writing `digit` these templates know.
fn templates(digit: u8) -> Vec<Vec<Stroke>> {
    match digit {
        0 => vec![vec![arc(0.5, 0.5, 0.3, 0.42, -90.0, 270.0)], vec![arc(0.5, 0.5, 0.24, 0.43, -100.0, 265.0)]],
        1 => vec![
            vec![line(&[(0.5, 0.08), (0.5, 0.92)])],
            vec![line(&[(0.32, 0.28), (0.52, 0.08), (0.52, 0.92)])],
            vec![line(&[(0.32, 0.28), (0.52, 0.08), (0.52, 0.92)]), line(&[(0.32, 0.92), (0.72, 0.92)])],
            vec![line(&[(0.25, 0.4), (0.55, 0.08), (0.5, 0.92)])],
        ],
        2 => vec![
            vec![[arc(0.5, 0.3, 0.26, 0.22, -165.0, 40.0), line(&[(0.22, 0.92), (0.8, 0.92)])].concat()],
            vec![[
                arc(0.5, 0.3, 0.26, 0.22, -165.0, 30.0),
                line(&[(0.2, 0.9)]),
                arc(0.32, 0.84, 0.1, 0.08, 180.0, 360.0),
                line(&[(0.82, 0.88)]),
            ]
            .concat()],
        ],
        3 => vec![
            vec![[arc(0.48, 0.29, 0.25, 0.2, -160.0, 90.0), arc(0.48, 0.7, 0.29, 0.22, -90.0, 160.0)].concat()],
            vec![line(&[(0.22, 0.1), (0.76, 0.1), (0.45, 0.45)]), arc(0.48, 0.7, 0.29, 0.24, -90.0, 160.0)],
        ],
        4 => vec![
            vec![line(&[(0.6, 0.08), (0.18, 0.64), (0.82, 0.64)]), line(&[(0.62, 0.32), (0.62, 0.92)])],
            vec![line(&[(0.26, 0.08), (0.22, 0.55), (0.8, 0.55)]), line(&[(0.66, 0.1), (0.66, 0.92)])],
            vec![line(&[(0.66, 0.92), (0.66, 0.08), (0.2, 0.6), (0.84, 0.6)])],
        ],
        5 => vec![
            vec![[line(&[(0.76, 0.1), (0.32, 0.1), (0.28, 0.46)]), arc(0.48, 0.67, 0.27, 0.25, -125.0, 150.0)].concat()],
            vec![line(&[(0.3, 0.1), (0.27, 0.46)]), arc(0.48, 0.67, 0.27, 0.25, -125.0, 150.0), line(&[(0.3, 0.1), (0.78, 0.1)])],
        ],
        6 => vec![
            vec![[line(&[(0.7, 0.08), (0.42, 0.34), (0.27, 0.62)]), arc(0.5, 0.7, 0.23, 0.21, 180.0, 540.0)].concat()],
            vec![[arc(0.62, 0.5, 0.34, 0.42, -80.0, -180.0), arc(0.5, 0.7, 0.22, 0.21, 180.0, 520.0)].concat()],
            vec![[line(&[(0.6, 0.08), (0.3, 0.7)]), arc(0.5, 0.72, 0.2, 0.19, 180.0, 530.0)].concat()],
        ],
        7 => vec![
            vec![line(&[(0.2, 0.1), (0.8, 0.1), (0.42, 0.92)])],
            vec![line(&[(0.2, 0.1), (0.8, 0.1), (0.42, 0.92)]), line(&[(0.36, 0.5), (0.72, 0.5)])],
            vec![line(&[(0.2, 0.18), (0.26, 0.1), (0.8, 0.1), (0.55, 0.5), (0.48, 0.92)])],
            vec![[line(&[(0.2, 0.1), (0.8, 0.1)]), arc(0.95, 0.92, 0.5, 0.82, -90.0, -150.0)].concat()],
        ],
        8 => vec![
            vec![arc(0.5, 0.28, 0.2, 0.18, 0.0, 360.0), arc(0.5, 0.7, 0.26, 0.22, -90.0, 270.0)],
            vec![[arc(0.5, 0.27, 0.21, 0.18, 60.0, 300.0), arc(0.5, 0.7, 0.25, 0.22, -110.0, 250.0), line(&[(0.62, 0.13)])].concat()],
        ],
        _ => vec![
            vec![arc(0.47, 0.3, 0.23, 0.2, 0.0, 360.0), line(&[(0.7, 0.28), (0.68, 0.92)])],
            vec![[arc(0.47, 0.3, 0.23, 0.2, 0.0, 360.0), line(&[(0.7, 0.3), (0.64, 0.72), (0.44, 0.92)])].concat()],
            vec![[arc(0.45, 0.3, 0.25, 0.22, -20.0, 340.0), line(&[(0.62, 0.92)])].concat()],
        ],
    }
}

/// `per_digit` drawings of each digit, by hands seeded from `seed`,
/// as a data set in MNIST's form.
pub fn stroke_digits(per_digit: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let (mut images, mut labels) = (Vec::with_capacity(10 * per_digit * IMAGE_LEN), Vec::with_capacity(10 * per_digit));
    for k in 0..per_digit {
        for digit in 0..10u8 {
            let ways = templates(digit);
            let strokes = &ways[k % ways.len()];
            let ink = draw(strokes, &mut rng);
            let image = to_mnist(&ink, CANVAS, CANVAS).expect("every template has ink");
            images.extend(image.iter().map(|&v| (v * 256.0).clamp(0.0, 255.0) as u8));
            labels.push(digit);
        }
    }
    Dataset { images, labels }
}

/// The strokes drawn by a random hand on the canvas: ink from 0 to 1.
fn draw(strokes: &[Stroke], rng: &mut Rng) -> Vec<f32> {
    let angle = rng.uniform(15.0).to_radians();
    let slant = rng.uniform(0.45);
    let width = 0.7 + 0.5 * rng.next_f32();
    let pen = (0.03 + 0.09 * rng.next_f32()) * CANVAS as f32 / 2.0;
    // The hand's wobble: a slow wave across the digit, and a little jitter.
    let (wave_x, wave_y, phase) = (rng.uniform(0.05), rng.uniform(0.05), rng.uniform(3.0));
    let (c, s) = (angle.cos(), angle.sin());
    let mut place = |(x, y): (f32, f32)| -> (f32, f32) {
        let wave = (3.0 * (x + y) + phase).sin();
        let (x, y) = (x - 0.5 + wave_x * wave + rng.uniform(0.012), y - 0.5 + wave_y * wave + rng.uniform(0.012));
        let x = (x - slant * y) * width;
        let (x, y) = (c * x - s * y, s * x + c * y);
        // A margin, so that a turned digit stays on the canvas.
        ((0.5 + 0.75 * x) * CANVAS as f32, (0.5 + 0.75 * y) * CANVAS as f32)
    };
    let mut ink = vec![0.0f32; CANVAS * CANVAS];
    for stroke in strokes {
        let points: Vec<(f32, f32)> = stroke.iter().map(|&p| place(p)).collect();
        for pair in points.windows(2) {
            segment(&mut ink, pair[0], pair[1], pen);
        }
    }
    ink
}

/// A round-capped segment of radius `r` from a to b, anti-aliased over a pixel.
fn segment(ink: &mut [f32], a: (f32, f32), b: (f32, f32), r: f32) {
    let (x0, x1) = ((a.0.min(b.0) - r - 1.0).max(0.0) as usize, ((a.0.max(b.0) + r + 2.0) as usize).min(CANVAS));
    let (y0, y1) = ((a.1.min(b.1) - r - 1.0).max(0.0) as usize, ((a.1.max(b.1) + r + 2.0) as usize).min(CANVAS));
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length2 = (dx * dx + dy * dy).max(1e-6);
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5 - a.0, y as f32 + 0.5 - a.1);
            let t = ((px * dx + py * dy) / length2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let v = (r + 0.5 - d).clamp(0.0, 1.0);
            let at = &mut ink[y * CANVAS + x];
            *at = at.max(v);
        }
    }
}
