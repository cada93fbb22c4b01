//! sin, cos and exp from additions, multiplications and divisions alone.
//! Those are exact IEEE operations on every platform, where the standard
//! library's `sin` and `exp` call the platform's libm (glibc natively, a
//! Rust port in WebAssembly), whose last bits differ: a distorted image
//! must be the same, bit for bit, in the command line and in the page.

/// sin(x) for |x| <= pi/2 (Taylor to x^11: within 1e-7 there).
pub fn sin(x: f32) -> f32 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    for k in 1..6 {
        let k = k as f32;
        term = -term * x2 / ((2.0 * k) * (2.0 * k + 1.0));
        sum += term;
    }
    sum
}

/// cos(x) for |x| <= pi/2 (Taylor to x^12).
pub fn cos(x: f32) -> f32 {
    let x2 = x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..7 {
        let k = k as f32;
        term = -term * x2 / ((2.0 * k - 1.0) * (2.0 * k));
        sum += term;
    }
    sum
}

/// exp(-x) for x >= 0 (0 past 80): exp(-x) = 2^-n exp(-r), with n whole
/// and r in [0, ln 2), exp(-r) by its Taylor series to r^10.
pub fn exp_neg(x: f32) -> f32 {
    if x >= 80.0 {
        return 0.0;
    }
    // ln 2 in two parts (Cody and Waite): n times the first is exact.
    const LN2_HIGH: f32 = 0.693_145_75;
    const LN2_LOW: f32 = 1.428_606_8e-6;
    let n = (x / core::f32::consts::LN_2) as i32;
    let r = (x - n as f32 * LN2_HIGH) - n as f32 * LN2_LOW;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..11 {
        term = -term * r / k as f32;
        sum += term;
    }
    sum * f32::from_bits(((127 - n) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn they_match_the_standard_library() {
        for i in -157..=157 {
            let x = i as f32 / 100.0;
            assert!((sin(x) - x.sin()).abs() < 2e-7, "sin {x}");
            assert!((cos(x) - x.cos()).abs() < 2e-7, "cos {x}");
        }
        for i in 0..8000 {
            let x = i as f32 / 100.0;
            let (ours, std) = (exp_neg(x), (-x).exp());
            assert!((ours - std).abs() <= 2e-6 * std, "exp(-{x}): {ours} against {std}");
        }
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(100.0), 0.0);
    }
}
