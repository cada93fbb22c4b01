//! Where a training step's time goes: each hot kernel of LeNet-5 timed
//! alone at the model's shapes, for the benchmark (`lenet bench --profile`
//! natively, the benchmark page in the browser).

use crate::kernels::{best, Pooled, PooledBackward};
use crate::layers::{bias_tanh_backward, bias_tanh_forward, maxpool2x2_forward};
use crate::model::{conv1_shape, conv2_shape, LeNet5, FLAT, HIDDEN, IMAGE_LEN};
use crate::rng::Rng;
use crate::train::CHUNK_IMAGES;

/// Milliseconds per call of each hot kernel at LeNet-5's shapes for
/// `CHUNK_IMAGES` images, as "name ms" lines: the fastest of `reps` rounds
/// of calls, since a shared machine only ever adds time. Each kernel's
/// round lasts about `round_ms`, timed as one: a clock that moves in
/// steps (a browser's may move in whole milliseconds) then errs by at
/// most a step a round, and the fastest round may be the one it erred
/// fast on, so a coarse clock needs long rounds. `now` is the caller's
/// clock in milliseconds (the browser's or the process's). A last line,
/// "gemms GFLOP/s", is the rate of the eight GEMM kernels together: their
/// multiply-adds (2 flops each) over their summed times, im2col and
/// col2im included. (A training step runs the convolutions' backward
/// passes as `conv1.backward_pooled` and `conv2.backward_pooled` instead
/// of their three GEMMs, which are still timed and counted here; the
/// `pool_bias_tanh` and `bias_tanh_backward` lines are what it does
/// around the convolutions between them.)
pub fn kernel_profile(reps: usize, round_ms: f64, now: impl Fn() -> f64) -> String {
    let b = CHUNK_IMAGES;
    let mut rng = Rng::new(2);
    let mut v = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(1.0)).collect() };
    let (c1, c2) = (conv1_shape(b), conv2_shape(b));
    let mut cols = v(c1.workspace_len().max(c2.workspace_len()));
    let (x1, w1, o1) = (v(c1.inp_len()), v(c1.weight_len()), v(c1.out_len()));
    let (x2, w2, o2) = (v(c2.inp_len()), v(c2.weight_len()), v(c2.out_len()));
    let (mut dw1, mut dw2, mut dx2, mut out1, mut out2) = (v(w1.len()), v(w2.len()), v(x2.len()), v(o1.len()), v(o2.len()));
    let (h_in, h_w, h_out) = (v(b * FLAT), v(FLAT * HIDDEN), v(b * HIDDEN));
    let (mut h_dw, mut h_dx, mut h_o) = (v(FLAT * HIDDEN), v(b * FLAT), v(b * HIDDEN));
    // Each kernel's fastest round, in the order first timed.
    let mut timed: Vec<Timed> = Vec::new();
    // `flops` of 0: not a GEMM. The first call of a kernel also sets how
    // many calls make its round.
    let mut time = |name: &'static str, flops: usize, f: &mut dyn FnMut()| {
        let at = timed.iter().position(|t| t.name == name).unwrap_or_else(|| {
            let start = now();
            f();
            let calls = (round_ms / (now() - start).max(0.05)).ceil().clamp(1.0, 10_000.0) as usize;
            timed.push(Timed { name, flops, calls, best: f64::INFINITY });
            timed.len() - 1
        });
        let t = &mut timed[at];
        let start = now();
        for _ in 0..t.calls {
            f();
        }
        t.best = t.best.min((now() - start) / t.calls as f64);
    };
    // Multiply-adds of each convolution's GEMMs: out channels x C*K*K x output pixels, per image.
    let conv_flops = |s: &crate::kernels::ConvShape| 2 * s.batch * s.out_channels * s.gemm_dims().0 * s.gemm_dims().1;
    let (f1, f2, fh) = (conv_flops(&c1), conv_flops(&c2), 2 * b * FLAT * HIDDEN);
    // Both backward passes as a training step runs them, from the pooled
    // gradient: a quarter of dout, with winners at random.
    let (grad1, grad2) = (v(o1.len() / 4), v(o2.len() / 4));
    let winners = |grad: &[f32]| -> Vec<u8> { grad.iter().map(|g| (g.to_bits() % 4) as u8).collect() };
    let (arg1, arg2) = (winners(&grad1), winners(&grad2));
    let (pooled1, pooled2) = (Pooled { grad: &grad1, argmax: &arg1 }, Pooled { grad: &grad2, argmax: &arg2 });
    // The pooled, biased and activated maps of both convolutions, and their gradients.
    let (p1_side, p2_side) = ((c1.out_height() / 2) * (c1.out_width() / 2), (c2.out_height() / 2) * (c2.out_width() / 2));
    let (mut p1, mut a1, mut dp1, grad_a1) = (v(o1.len() / 4), v(o1.len() / 4), v(o1.len() / 4), v(o1.len() / 4));
    let (mut p2, mut a2, mut dp2, grad_a2) = (v(o2.len() / 4), v(o2.len() / 4), v(o2.len() / 4), v(o2.len() / 4));
    let (bias1, bias2, mut dbias1, mut dbias2) = (v(c1.out_channels), v(c2.out_channels), v(c1.out_channels), v(c2.out_channels));
    let (mut arg1_fwd, mut arg2_fwd) = (vec![0u8; o1.len() / 4], vec![0u8; o2.len() / 4]);
    let mut model = LeNet5::new(3);
    let images = v(b * IMAGE_LEN);
    let labels: Vec<u8> = (0..b).map(|i| (i % 10) as u8).collect();
    // Round after round of every kernel, rather than every round of one
    // kernel then the next: a slow spell then costs each kernel a round
    // or two, not all of them.
    for _ in 0..reps {
        time("conv1.forward", f1, &mut || best::conv2d_forward(&mut out1, &x1, &w1, &mut cols, &c1));
        time("conv1.backward_filter", f1, &mut || best::conv2d_backward_filter(&mut dw1, &o1, &x1, &mut cols, &c1));
        time("conv2.forward", f2, &mut || best::conv2d_forward(&mut out2, &x2, &w2, &mut cols, &c2));
        time("conv2.backward_input", f2, &mut || best::conv2d_backward_input(&mut dx2, &o2, &w2, &mut cols, &c2));
        time("conv2.backward_filter", f2, &mut || best::conv2d_backward_filter(&mut dw2, &o2, &x2, &mut cols, &c2));
        time("conv1.backward_pooled", 0, &mut || {
            let (dweight, inp, work) = (&mut dw1[..], &x1[..], &mut cols[..]);
            best::conv2d_backward_pooled(PooledBackward { dweight, dinp: None, pooled: pooled1, inp, work, shape: &c1 })
        });
        time("conv2.backward_pooled", 0, &mut || {
            let (dweight, dinp, inp, work) = (&mut dw2[..], Some((&mut dx2[..], &w2[..])), &x2[..], &mut cols[..]);
            best::conv2d_backward_pooled(PooledBackward { dweight, dinp, pooled: pooled2, inp, work, shape: &c2 })
        });
        // What a step does between the GEMMs: pooling, bias and tanh,
        // forward and backward, at each convolution's shapes.
        time("conv1.pool_bias_tanh", 0, &mut || {
            maxpool2x2_forward(&mut p1, &mut arg1_fwd, &o1, b * c1.out_channels, c1.out_height(), c1.out_width());
            bias_tanh_forward(&mut a1, &p1, &bias1, p1_side);
        });
        time("conv1.bias_tanh_backward", 0, &mut || bias_tanh_backward(&mut dp1, &mut dbias1, &grad_a1, &a1, p1_side));
        time("conv2.pool_bias_tanh", 0, &mut || {
            maxpool2x2_forward(&mut p2, &mut arg2_fwd, &o2, b * c2.out_channels, c2.out_height(), c2.out_width());
            bias_tanh_forward(&mut a2, &p2, &bias2, p2_side);
        });
        time("conv2.bias_tanh_backward", 0, &mut || bias_tanh_backward(&mut dp2, &mut dbias2, &grad_a2, &a2, p2_side));
        time("hidden.forward", fh, &mut || best::matmul(&mut h_o, &h_in, &h_w, b, FLAT, HIDDEN));
        time("hidden.backward_weight", fh, &mut || best::matmul_at(&mut h_dw, &h_in, &h_out, FLAT, b, HIDDEN));
        time("hidden.backward_input", fh, &mut || best::matmul_bt(&mut h_dx, &h_out, &h_w, b, HIDDEN, FLAT));
        time("whole step (loss_and_grad)", 0, &mut || {
            model.loss_and_grad(&images, &labels);
        });
    }
    let mut lines = String::new();
    let (mut gemm_flops, mut gemm_ms) = (0.0, 0.0);
    for t in &timed {
        lines += &format!("{} {:.3}\n", t.name, t.best);
        if t.flops > 0 {
            gemm_flops += t.flops as f64;
            gemm_ms += t.best;
        }
    }
    lines += &format!("gemms {:.1}\n", gemm_flops / gemm_ms / 1e6);
    lines
}

/// A kernel of the profile: its multiply-adds times two (0 if not a GEMM),
/// the calls in each of its rounds, and the fastest call so far (ms).
struct Timed {
    name: &'static str,
    flops: usize,
    calls: usize,
    best: f64,
}
