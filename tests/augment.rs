//! Distortions: none leaves an image as it is, each kind does what it
//! says, and an image's distortion depends on the run's seed, the epoch
//! and the image's index alone, the same on every platform.

mod common;

use common::{distorted_checksum, ring, EVERY_DISTORTION};
use lenet::augment::Augment;

fn ink(image: &[f32]) -> f32 {
    image.iter().sum()
}

fn distorted(settings: &str, seed: u64, epoch: usize, index: usize) -> Vec<f32> {
    let mut image = ring();
    Augment::parse(settings).unwrap().distort(&mut image, seed, epoch, index);
    image
}

#[test]
fn no_distortion_leaves_images_as_they_are() {
    let mut image = ring();
    Augment::NONE.distort(&mut image, 7, 3, 11);
    assert_eq!(image, ring());
    assert!(!Augment::parse("none").unwrap().is_on());
}

#[test]
fn an_images_distortion_depends_on_the_seed_the_epoch_and_its_index_alone() {
    let one = distorted(EVERY_DISTORTION, 5, 2, 11);
    assert_ne!(one, ring(), "it distorts");
    assert_eq!(one, distorted(EVERY_DISTORTION, 5, 2, 11), "the same key, the same image");
    assert_ne!(one, distorted(EVERY_DISTORTION, 6, 2, 11), "another seed");
    assert_ne!(one, distorted(EVERY_DISTORTION, 5, 3, 11), "another epoch");
    assert_ne!(one, distorted(EVERY_DISTORTION, 5, 2, 12), "another image");
    // Image 11 in a batch starting at 10 is distorted as alone.
    let augment = Augment::parse(EVERY_DISTORTION).unwrap();
    let mut batch: Vec<f32> = [ring(), ring(), ring()].concat();
    augment.distort(&mut batch, 5, 2, 10);
    assert_eq!(&batch[784..2 * 784], &one[..]);
}

#[test]
fn each_kind_changes_the_image_as_it_says() {
    let original = ink(&ring());
    for kind in ["rotate=30", "scale=0.2", "shear=0.5", "shift=3", "elastic=10,elastic_sigma=3", "stroke=2", "blur=2"] {
        let images: Vec<Vec<f32>> = (0..40).map(|i| distorted(kind, 1, 1, i)).collect();
        assert!(images.iter().all(|im| im.iter().all(|&v| (0.0..1.0).contains(&v))), "{kind}: values in the network's scale");
        let changed = images.iter().filter(|im| **im != ring()).count();
        // (A blur drawn narrower than a third of a pixel may change nothing.)
        assert!(changed >= 36, "{kind}: {changed} of 40 images changed");
        let inks: Vec<f32> = images.iter().map(|im| ink(im)).collect();
        let (least, most) = inks.iter().fold((f32::MAX, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        match kind {
            // Pens: some strokes thicker (more ink), some thinner (less).
            "stroke=2" => assert!(least < 0.8 * original && most > 1.2 * original, "{kind}: ink {least}..{most} around {original}"),
            // A blur spreads ink without adding any, and lowers the peaks.
            "blur=2" => {
                assert!(least > 0.97 * original && most < 1.03 * original, "{kind}: ink {least}..{most}, was {original}");
                let peak = |im: &Vec<f32>| im.iter().fold(0.0f32, |a, &b| a.max(b));
                assert!(images.iter().filter(|im| peak(im) < 0.95 * peak(&ring())).count() > 20, "{kind}: lower peaks");
            }
            // A scale changes the ink's area by the square of its factor.
            "scale=0.2" => assert!(least > 0.6 * original && most < 1.5 * original, "{kind}: ink {least}..{most}"),
            // Moves keep the ink, up to resampling.
            _ => assert!(least > 0.85 * original && most < 1.15 * original, "{kind}: ink {least}..{most}, was {original}"),
        }
    }
}

#[test]
fn settings_read_back_as_written_and_bad_ones_are_named() {
    let every = Augment::parse(EVERY_DISTORTION).unwrap();
    assert_eq!(every.to_string(), EVERY_DISTORTION);
    assert_eq!(Augment::parse(&every.to_string()).unwrap(), every);
    assert_eq!(Augment::NONE.to_string(), "none");
    assert_eq!(Augment::parse("rotate=10").unwrap(), Augment { rotate: 10.0, ..Augment::NONE });
    let refused = [
        ("rotate=-1", "augment: rotate must be between 0 and 90, got -1"),
        ("blur=NaN", "augment: blur must be between 0 and 3, got NaN"),
        ("stroke=4", "augment: stroke must be between 0 and 3, got 4"),
        ("spin=3", "augment: unknown distortion \"spin\""),
        ("rotate", "augment: \"rotate\" is not name=value"),
        ("shift=far", "augment: shift=\"far\" is not a number"),
        ("elastic=5", "augment: an elastic field needs an elastic_sigma of at least 0.5, got 0"),
    ];
    for (text, message) in refused {
        let error = Augment::parse(text).unwrap_err();
        assert!(error.starts_with(message), "{text}: {error}");
    }
}

#[test]
fn the_command_line_distorts_as_the_browsers_do() {
    // tests/web.rs asserts the same checksum in Firefox and Chromium.
    assert_eq!(distorted_checksum(), common::DISTORTED_CHECKSUM, "the distorted rings' bits changed");
}

#[test]
fn the_drawn_digits_are_the_same_set_every_time_in_mnists_form() {
    use lenet::data::strokes::stroke_digits;
    let set = stroke_digits(30, 1);
    assert_eq!(set.len(), 300);
    assert_eq!(set.images, stroke_digits(30, 1).images, "the same hands draw the same digits");
    assert_ne!(set.images, stroke_digits(30, 2).images, "other hands, other drawings");
    for digit in 0..10 {
        assert_eq!(set.labels.iter().filter(|&&l| l == digit).count(), 30, "digit {digit}");
    }
    // As the pad makes them: ink in a 20-pixel box, centred by its mass.
    for image in set.images.chunks_exact(784) {
        let mass: f64 = image.iter().map(|&v| f64::from(v)).sum();
        let centre = |coordinate: fn(usize) -> usize| {
            image.iter().enumerate().map(|(i, &v)| coordinate(i) as f64 * f64::from(v)).sum::<f64>() / mass
        };
        let (cx, cy) = (centre(|i| i % 28), centre(|i| i / 28));
        assert!(mass > 0.0 && (cx - 13.5).abs() < 1.5 && (cy - 13.5).abs() < 1.5, "centre of mass at ({cx:.1}, {cy:.1})");
        let inked = |x: usize, y: usize| image[y * 28 + x] > 0;
        assert!((0..28).all(|k| !inked(k, 0) && !inked(0, k) && !inked(k, 27) && !inked(27, k)), "a margin around the ink");
    }
}
