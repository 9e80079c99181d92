"""Linear regression SGD in MLX: `mx.grad` of the loss; `mx.eval` per step, or once at the end (the seed)."""

from __future__ import annotations

import mlx.core as mx


def make_train(backend, spec, data, compiled: bool, force_step):
    X, y, w0 = (backend.asarray(a) for a in (data.X_train, data.y_train, data.w0))
    lr, steps = spec.lr, spec.steps

    def loss_fn(w):
        return 0.5 * mx.mean(mx.square(X @ w - y))

    grad_fn = mx.grad(loss_fn)

    def step(w):
        return w - lr * grad_fn(w)

    if compiled:
        step = mx.compile(step)

    def train():
        w = w0
        for _ in range(steps):
            w = step(w)
            force_step(w)  # mx.eval(w) at step cadence; at end cadence the harness evaluates the result
        return w

    return train
