//! Plain stochastic gradient descent, as in the tutorial: p -= lr * dp.

pub fn sgd_step(params: &mut [f32], grads: &[f32], learning_rate: f32) {
    assert_eq!(params.len(), grads.len(), "one gradient per parameter");
    for (p, g) in params.iter_mut().zip(grads) {
        *p -= learning_rate * g;
    }
}
