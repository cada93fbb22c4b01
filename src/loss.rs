//! Logistic regression's output and loss: softmax, then the mean negative
//! log-likelihood of the true labels.

/// probs (B,C) = softmax(logits (B,C)), row by row.
pub fn softmax_forward(probs: &mut [f32], logits: &[f32], classes: usize) {
    assert_eq!(probs.len(), logits.len(), "probs must be shaped like logits");
    for (p, z) in probs.chunks_exact_mut(classes).zip(logits.chunks_exact(classes)) {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (p, &z) in p.iter_mut().zip(z) {
            *p = (z - max).exp();
            sum += *p;
        }
        p.iter_mut().for_each(|p| *p /= sum);
    }
}

/// Mean over the batch of -log probs[label] (probs is (B,C)). NaN or
/// infinite when the probabilities are: that is how divergence shows.
pub fn nll_loss(probs: &[f32], labels: &[u8], classes: usize) -> f32 {
    assert_eq!(probs.len(), labels.len() * classes, "probs must be (B,C) with B = labels.len()");
    let total: f64 = probs.chunks_exact(classes).zip(labels).map(|(p, &y)| -f64::from(p[y as usize]).ln()).sum();
    (total / labels.len().max(1) as f64) as f32
}

/// dlogits (B,C) = (probs - onehot(labels)) / B, the gradient of the mean
/// NLL through the softmax.
pub fn softmax_nll_backward(dlogits: &mut [f32], probs: &[f32], labels: &[u8], classes: usize) {
    let scale = 1.0 / labels.len().max(1) as f32;
    for ((d, p), &y) in dlogits.chunks_exact_mut(classes).zip(probs.chunks_exact(classes)).zip(labels) {
        for (c, (d, &p)) in d.iter_mut().zip(p).enumerate() {
            *d = (p - if c == y as usize { 1.0 } else { 0.0 }) * scale;
        }
    }
}
