//! A drawing made to look like the images a model learned from. MNIST
//! (LeCun et al.'s recipe): crop to the ink, scale the box so its longer
//! side is 20 pixels keeping the aspect ratio (area averaging, so thin
//! strokes turn grey rather than vanish), then place it in a 28x28 frame
//! so that its centre of mass sits at the centre. Fashion-MNIST (Xiao et
//! al.'s): the longer side scaled to the whole 28 pixels, the box centred.

use crate::model::{IMAGE_LEN, IMAGE_SIDE};

/// Ink below this (of 1.0) counts as paper when cropping.
const INK_THRESHOLD: f32 = 0.05;

/// How a collection frames its images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// MNIST's: a 20-pixel box, its centre of mass at the frame's centre.
    Digit,
    /// Fashion-MNIST's: the whole frame, the box centred.
    Item,
}

/// `ink` is (height,width), 0 = paper, 1 = full ink. Returns the 28x28
/// image in the network's scale (0 to 255/256), or `None` for a blank pad.
pub fn to_mnist(ink: &[f32], width: usize, height: usize) -> Option<Vec<f32>> {
    to_image(ink, width, height, Framing::Digit)
}

/// `to_mnist`, framed as `framing` says.
pub fn to_image(ink: &[f32], width: usize, height: usize, framing: Framing) -> Option<Vec<f32>> {
    let frame = match framing {
        Framing::Digit => 20,
        Framing::Item => IMAGE_SIDE,
    };
    assert_eq!(ink.len(), width * height, "ink must be (height,width)");
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK_THRESHOLD {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            }
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let (cw, ch) = (x1 - x0, y1 - y0);
    let scale = frame as f32 / cw.max(ch) as f32;
    let (dw, dh) = (((cw as f32 * scale).round() as usize).clamp(1, frame), ((ch as f32 * scale).round() as usize).clamp(1, frame));
    // Separable area averaging: rows first, then columns.
    let mut rows = vec![0.0f32; ch * dw];
    for y in 0..ch {
        let src = &ink[(y0 + y) * width + x0..(y0 + y) * width + x1];
        area_resample(&mut rows[y * dw..(y + 1) * dw], src);
    }
    let mut small = vec![0.0f32; dh * dw];
    for x in 0..dw {
        let column: Vec<f32> = (0..ch).map(|y| rows[y * dw + x]).collect();
        let mut out = vec![0.0; dh];
        area_resample(&mut out, &column);
        for y in 0..dh {
            small[y * dw + x] = out[y];
        }
    }
    // Centre of mass to the frame's centre, kept inside the frame.
    let mass: f32 = small.iter().sum();
    let (mut cx, mut cy) = (0.0f32, 0.0f32);
    for y in 0..dh {
        for x in 0..dw {
            cx += small[y * dw + x] * (x as f32 + 0.5);
            cy += small[y * dw + x] * (y as f32 + 0.5);
        }
    }
    let half = IMAGE_SIDE as f32 / 2.0;
    let place = |c: f32, d: usize| ((half - c / mass).round() as isize).clamp(0, (IMAGE_SIDE - d) as isize) as usize;
    let (ox, oy) = match framing {
        Framing::Digit => (place(cx, dw), place(cy, dh)),
        Framing::Item => ((IMAGE_SIDE - dw) / 2, (IMAGE_SIDE - dh) / 2),
    };
    let mut image = vec![0.0f32; IMAGE_LEN];
    for y in 0..dh {
        for x in 0..dw {
            image[(oy + y) * IMAGE_SIDE + ox + x] = small[y * dw + x].clamp(0.0, 1.0) * (255.0 / 256.0);
        }
    }
    Some(image)
}

/// Resamples `src` onto `dst` by averaging the part of `src` each output
/// cell covers (partial pixels weighted by their overlap).
fn area_resample(dst: &mut [f32], src: &[f32]) {
    let ratio = src.len() as f32 / dst.len() as f32;
    for (i, d) in dst.iter_mut().enumerate() {
        let (start, end) = (i as f32 * ratio, (i + 1) as f32 * ratio);
        let mut sum = 0.0;
        let mut j = start.floor() as usize;
        while (j as f32) < end && j < src.len() {
            let overlap = (end.min(j as f32 + 1.0) - start.max(j as f32)).max(0.0);
            sum += src[j] * overlap;
            j += 1;
        }
        *d = sum / ratio;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_pad_is_none() {
        assert!(to_mnist(&[0.0; 100 * 80], 100, 80).is_none());
    }

    #[test]
    fn a_tall_bar_is_scaled_to_20_rows_and_centred() {
        // A 10-wide, 200-tall bar, off-centre in a 280x280 pad.
        let (w, h) = (280, 280);
        let mut ink = vec![0.0; w * h];
        for y in 30..230 {
            for x in 200..210 {
                ink[y * w + x] = 1.0;
            }
        }
        let img = to_mnist(&ink, w, h).unwrap();
        let inked: Vec<(usize, usize)> = (0..IMAGE_LEN).filter(|&i| img[i] > 0.0).map(|i| (i % 28, i / 28)).collect();
        let rows: std::collections::BTreeSet<_> = inked.iter().map(|p| p.1).collect();
        let cols: std::collections::BTreeSet<_> = inked.iter().map(|p| p.0).collect();
        assert_eq!(rows.len(), 20, "the long side becomes 20 pixels");
        assert_eq!(cols.len(), 1, "10/200 of 20 pixels is one column");
        // The mass centre (10, 0.5) goes to (14, 14): rows 4..24, column round(13.5) = 14.
        assert_eq!((*rows.first().unwrap(), *cols.first().unwrap()), (4, 14), "centred by mass");
        assert!(img.iter().all(|&v| (0.0..1.0).contains(&v)));
    }

    #[test]
    fn area_averaging_keeps_thin_strokes_grey() {
        let mut out = [0.0; 2];
        area_resample(&mut out, &[1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        assert!((out[0] - 1.0 / 3.0).abs() < 1e-6 && (out[1] - 2.0 / 3.0).abs() < 1e-6, "{out:?}");
    }
}
