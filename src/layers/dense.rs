//! Fully connected layer, `out = inp . weight + bias`, with the tutorial's
//! (n_in, n_out) weight layout.

use crate::kernels::best;

/// out (B,N) = inp (B,K) . weight (K,N) + bias (N)
pub fn dense_forward(out: &mut [f32], inp: &[f32], weight: &[f32], bias: &[f32], batch: usize) {
    let (k, n) = (inp.len() / batch.max(1), bias.len());
    for row in out.chunks_exact_mut(n) {
        row.copy_from_slice(bias);
    }
    best::matmul(out, inp, weight, batch, k, n);
}

/// dweight (K,N) += inp^T . dout; dbias (N) += column sums of dout;
/// dinp (B,K) += dout . weight^T when asked for.
pub fn dense_backward(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    batch: usize,
) {
    let (k, n) = (inp.len() / batch.max(1), dbias.len());
    best::matmul_at(dweight, inp, dout, k, batch, n);
    for row in dout.chunks_exact(n) {
        for (db, &g) in dbias.iter_mut().zip(row) {
            *db += g;
        }
    }
    if let Some(dinp) = dinp {
        best::matmul_bt(dinp, dout, weight, batch, n, k);
    }
}
