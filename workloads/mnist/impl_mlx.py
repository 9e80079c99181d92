"""MNIST MLP in MLX, as the seeds: `nn.value_and_grad` + `optim.SGD`; compiled: `mx.compile` of the step."""

from __future__ import annotations

import itertools
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np


class MLP(nn.Module):
    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.layers = [nn.Linear(i, o) for i, o in itertools.pairwise(sizes)]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


def loss_fn(model, x, y):
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


class Trainer:
    def __init__(self, backend, plan, compiled: bool, force_step) -> None:
        self.x, self.y = backend.asarray(plan.train_x), backend.asarray(plan.train_y)
        self.batches = [backend.asarray(b) for b in plan.batches]
        self.model = MLP((784, *plan.spec.hidden, 10))
        self.optimizer = optim.SGD(learning_rate=plan.spec.lr)
        loss_and_grad = nn.value_and_grad(self.model, loss_fn)

        def step(x, y):
            loss, grads = loss_and_grad(self.model, x, y)
            self.optimizer.update(self.model, grads)
            return loss

        if compiled:
            state = [self.model.state, self.optimizer.state]
            step = partial(mx.compile, inputs=state, outputs=state)(step)
        self.step, self.force_step = step, force_step
        # Warm-up (compilation, first-call costs) on one batch, then restore the initial weights.
        self.load(plan.params)
        self.step(self.x[self.batches[0][0]], self.y[self.batches[0][0]])
        mx.eval(self.model.state, self.optimizer.state)
        self.load(plan.params)

    def load(self, params) -> None:
        for layer, (w, b) in zip(self.model.layers, params, strict=True):
            layer.weight, layer.bias = mx.array(w), mx.array(b)
        mx.eval(self.model.parameters())

    def train_epoch(self, epoch: int):
        for ids in self.batches[epoch]:
            self.step(self.x[ids], self.y[ids])
            self.force_step([self.model.state, self.optimizer.state])  # mx.eval at step cadence; seed: none
        return [(layer.weight, layer.bias) for layer in self.model.layers]

    def snapshot(self):
        return [(np.array(layer.weight), np.array(layer.bias)) for layer in self.model.layers]


def make_trainer(backend, plan, compiled: bool, force_step) -> Trainer:
    return Trainer(backend, plan, compiled, force_step)
