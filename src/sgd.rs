//! Stochastic gradient descent: plain, as in the tutorial (p -= lr * dp),
//! or with momentum (v = mu * v + dp; p -= lr * v) for the fast preset.

pub fn sgd_step(params: &mut [f32], grads: &[f32], learning_rate: f32) {
    assert_eq!(params.len(), grads.len(), "one gradient per parameter");
    for (p, g) in params.iter_mut().zip(grads) {
        *p -= learning_rate * g;
    }
}

/// One step with momentum `mu`: `velocity` carries the running sum.
pub fn momentum_step(params: &mut [f32], velocity: &mut [f32], grads: &[f32], learning_rate: f32, mu: f32) {
    assert!(params.len() == grads.len() && velocity.len() == grads.len(), "one gradient and velocity per parameter");
    for ((p, v), g) in params.iter_mut().zip(velocity.iter_mut()).zip(grads) {
        *v = mu * *v + g;
        *p -= learning_rate * *v;
    }
}
