"""Linear regression SGD in JAX: `jax.grad` of the loss; compiled: `jax.jit` of the step."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def make_train(backend, spec, data, compiled: bool, force_step):
    X, y, w0 = (backend.asarray(a) for a in (data.X_train, data.y_train, data.w0))
    lr, steps = spec.lr, spec.steps

    def loss_fn(w):
        # float32 products as the other frameworks compute them (a GPU's default would be TF32)
        return 0.5 * jnp.mean(jnp.square(jnp.matmul(X, w, precision="highest") - y))

    grad_fn = jax.grad(loss_fn)

    def step(w):
        return w - lr * grad_fn(w)

    if compiled:
        step = jax.jit(step)
        step(w0).block_until_ready()  # compile now, untimed

    def train():
        w = w0
        for _ in range(steps):
            w = step(w)
            force_step(w)  # block_until_ready at step cadence
        return w

    return train
