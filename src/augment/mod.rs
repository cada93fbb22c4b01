//! Distorted copies of training images, as LeCun et al. (1998) and Simard
//! et al. (2003) trained on: a random affine map and elastic field
//! (`geometry`), and the ways pens differ, stroke width and blur (`pen`).
//! Each kind is off at zero and scaled by its setting. An image's
//! distortion is a pure function of the run's seed, the epoch and the
//! image's index, computed with exact IEEE arithmetic alone (`math`):
//! one thread or many, one worker or several, a resumed run, the command
//! line and the page all train on the same images, bit for bit.

mod geometry;
mod math;
mod pen;

use crate::model::IMAGE_LEN;
use crate::rng::Rng;

/// How far each kind of distortion goes (0: not at all). The tutorial's
/// protocol has none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Augment {
    /// Rotation, uniform within +-this many degrees.
    pub rotate: f32,
    /// Scale, uniform within 1 +- this.
    pub scale: f32,
    /// Horizontal shear, uniform within +- this (a slant's tangent).
    pub shear: f32,
    /// Translation, uniform within +- this many pixels on each axis.
    pub shift: f32,
    /// Elastic displacements of up to about this many pixels (Simard's
    /// alpha), smoothed over `elastic_sigma` pixels.
    pub elastic: f32,
    pub elastic_sigma: f32,
    /// Strokes thicker or thinner by up to this many pixels.
    pub stroke: f32,
    /// Blur of a Gaussian up to this many pixels wide.
    pub blur: f32,
}

/// Each setting's name (as `--augment` and checkpoints write it), and
/// the largest value it takes.
const SETTINGS: [(&str, f32); 8] = [
    ("rotate", 90.0),
    ("scale", 0.5),
    ("shear", 1.0),
    ("shift", 8.0),
    ("elastic", 100.0),
    ("elastic_sigma", 8.0),
    ("stroke", 3.0),
    ("blur", 3.0),
];

impl Augment {
    /// No distortion: the tutorial's.
    pub const NONE: Augment =
        Augment { rotate: 0.0, scale: 0.0, shear: 0.0, shift: 0.0, elastic: 0.0, elastic_sigma: 0.0, stroke: 0.0, blur: 0.0 };

    fn values(&self) -> [f32; 8] {
        [self.rotate, self.scale, self.shear, self.shift, self.elastic, self.elastic_sigma, self.stroke, self.blur]
    }

    fn from_values(v: [f32; 8]) -> Augment {
        Augment { rotate: v[0], scale: v[1], shear: v[2], shift: v[3], elastic: v[4], elastic_sigma: v[5], stroke: v[6], blur: v[7] }
    }

    /// Whether any image is distorted.
    pub fn is_on(&self) -> bool {
        *self != Augment::NONE
    }

    /// As `--augment` takes it: "none", or "rotate=10,stroke=1" and so on
    /// (settings left out are 0).
    pub fn parse(text: &str) -> Result<Augment, String> {
        let text = text.trim();
        let mut values = [0.0f32; 8];
        if text == "none" || text.is_empty() {
            return Ok(Augment::NONE);
        }
        for pair in text.split(',') {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("augment: {pair:?} is not name=value"))?;
            let i = SETTINGS
                .iter()
                .position(|(name, _)| *name == key.trim())
                .ok_or_else(|| format!("augment: unknown distortion {:?} (known: {})", key.trim(), Self::names()))?;
            values[i] = value.trim().parse().map_err(|_| format!("augment: {key}={value:?} is not a number"))?;
        }
        let augment = Augment::from_values(values);
        augment.check()?;
        Ok(augment)
    }

    fn names() -> String {
        SETTINGS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    /// Why these settings cannot distort, if they cannot: a value below 0
    /// or past its largest, or an elastic field without a width.
    pub fn check(&self) -> Result<(), String> {
        for ((name, most), v) in SETTINGS.iter().zip(self.values()) {
            if !(v >= 0.0 && v <= *most) {
                return Err(format!("augment: {name} must be between 0 and {most}, got {v}"));
            }
        }
        if self.elastic > 0.0 && self.elastic_sigma < 0.5 {
            return Err(format!("augment: an elastic field needs an elastic_sigma of at least 0.5, got {}", self.elastic_sigma));
        }
        Ok(())
    }

    /// Distorts `images` (each 784 values, the network's scale), the
    /// training images `first..` of epoch `epoch` of a run seeded `seed`.
    pub fn distort(&self, images: &mut [f32], seed: u64, epoch: usize, first: usize) {
        if !self.is_on() {
            return;
        }
        for (k, image) in images.chunks_exact_mut(IMAGE_LEN).enumerate() {
            let image: &mut [f32; IMAGE_LEN] = image.try_into().expect("chunks of one image");
            self.distort_one(image, &mut Rng::new(key(seed, epoch, first + k)));
        }
    }

    fn distort_one(&self, image: &mut [f32; IMAGE_LEN], rng: &mut Rng) {
        if self.rotate > 0.0 || self.scale > 0.0 || self.shear > 0.0 || self.shift > 0.0 || self.elastic > 0.0 {
            let source = *image;
            geometry::warp(image, &source, self, rng);
        }
        if self.stroke > 0.0 {
            pen::stroke(image, rng.uniform(self.stroke));
        }
        if self.blur > 0.0 {
            pen::blur(image, rng.next_f32() * self.blur);
        }
    }
}

impl std::fmt::Display for Augment {
    /// As `parse` reads it back.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let set: Vec<String> =
            SETTINGS.iter().zip(self.values()).filter(|(_, v)| *v != 0.0).map(|((name, _), v)| format!("{name}={v}")).collect();
        if set.is_empty() {
            write!(f, "none")
        } else {
            write!(f, "{}", set.join(","))
        }
    }
}

/// The seed of image `index`'s distortion in epoch `epoch` of a run
/// seeded `seed` (`Rng::new` spreads it over its whole state).
fn key(seed: u64, epoch: usize, index: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ index as u64
}

/// The distortion of one epoch of a run: what a training plan applies to
/// its images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distortion {
    pub augment: Augment,
    pub seed: u64,
    pub epoch: usize,
}

impl Distortion {
    pub fn apply(&self, images: &mut [f32], first: usize) {
        self.augment.distort(images, self.seed, self.epoch, first);
    }
}
