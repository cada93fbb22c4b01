//! A drawing framed as each collection frames its images.
#![cfg(not(target_arch = "wasm32"))]

use lenet::preprocess::{to_image, to_mnist, Framing};

/// A 280x280 pad with a 20-pixel-wide bar of ink from (50, 40) to (70, 240).
fn bar() -> Vec<f32> {
    let mut ink = vec![0.0; 280 * 280];
    for y in 40..240 {
        for x in 50..70 {
            ink[y * 280 + x] = 1.0;
        }
    }
    ink
}

/// Rows and columns of `image` (28x28) that hold ink.
fn extent(image: &[f32]) -> (Vec<usize>, Vec<usize>) {
    let rows = (0..28).filter(|y| (0..28).any(|x| image[y * 28 + x] > 0.0)).collect();
    let cols = (0..28).filter(|x| (0..28).any(|y| image[y * 28 + x] > 0.0)).collect();
    (rows, cols)
}

#[test]
fn a_digit_is_scaled_to_20_pixels_and_an_item_fills_the_frame() {
    assert!(to_mnist(&vec![0.0; 280 * 280], 280, 280).is_none(), "a blank pad");
    let ink = bar();
    let (rows, cols) = extent(&to_mnist(&ink, 280, 280).unwrap());
    assert_eq!((rows[0], rows[rows.len() - 1]), (4, 23), "MNIST: 20 pixels tall, centred");
    assert_eq!(cols, [13, 14], "its centre of mass in the middle, wherever it was drawn");
    let (rows, cols) = extent(&to_image(&ink, 280, 280, Framing::Item).unwrap());
    assert_eq!((rows[0], rows[rows.len() - 1]), (0, 27), "Fashion-MNIST: the whole frame tall");
    assert_eq!(cols, [12, 13, 14], "its box in the middle");
}
