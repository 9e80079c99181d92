"""MNIST MLP in JAX: a functional MLP, `jax.grad` of the loss, plain SGD; compiled: `jax.jit` of the step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def forward(params, x):
    for i, (w, b) in enumerate(params):
        x = jnp.matmul(x, w.T, precision="highest") + b
        if i < len(params) - 1:
            x = jax.nn.relu(x)
    return x


def loss_fn(params, x, y):
    logp = jax.nn.log_softmax(forward(params, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


class Trainer:
    def __init__(self, backend, plan, compiled: bool, force_step) -> None:
        self.x, self.y = backend.asarray(plan.train_x), backend.asarray(plan.train_y)
        self.batches = [backend.asarray(b) for b in plan.batches]
        lr, self.force_step = plan.spec.lr, force_step

        def step(params, x, y):
            grads = jax.grad(loss_fn)(params, x, y)
            return jax.tree.map(lambda p, g: p - lr * g, params, grads)

        self.step = jax.jit(step) if compiled else step
        self.initial = [(backend.asarray(w), backend.asarray(b)) for w, b in plan.params]
        # Warm-up (compilation, first-call costs) on one batch; the trainer then starts from the initial weights.
        ids = self.batches[0][0]
        jax.block_until_ready(self.step(self.initial, self.x[ids], self.y[ids]))
        self.params = self.initial

    def train_epoch(self, epoch: int):
        params = self.params
        for ids in self.batches[epoch]:
            params = self.step(params, self.x[ids], self.y[ids])
            self.force_step(params)  # block_until_ready at step cadence
        self.params = params
        return params

    def snapshot(self):
        return [(np.array(w), np.array(b)) for w, b in self.params]


def make_trainer(backend, plan, compiled: bool, force_step) -> Trainer:
    return Trainer(backend, plan, compiled, force_step)
