"""MNIST MLP in NumPy: forward, softmax cross-entropy and backprop written by hand (float32)."""

from __future__ import annotations

import numpy as np


class Trainer:
    def __init__(self, backend, plan, compiled: bool, force_step) -> None:
        self.x, self.y = plan.train_x, plan.train_y
        self.params = [(w.copy(), b.copy()) for w, b in plan.params]
        self.force_step = force_step
        self.batches, self.lr = plan.batches, np.float32(plan.spec.lr)

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        acts = [x]
        for i, (w, b) in enumerate(self.params):
            z = acts[-1] @ w.T + b
            acts.append(np.maximum(z, 0) if i < len(self.params) - 1 else z)
        logits = acts[-1]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        grad = p / np.float32(len(y))  # d(mean cross-entropy)/d(logits)
        for i in range(len(self.params) - 1, -1, -1):
            w, b = self.params[i]
            gw, gb = grad.T @ acts[i], grad.sum(axis=0)
            if i > 0:
                grad = (grad @ w) * (acts[i] > 0)
            w -= self.lr * gw
            b -= self.lr * gb

    def train_epoch(self, epoch: int):
        for ids in self.batches[epoch]:
            self.step(self.x[ids], self.y[ids])
            self.force_step(self.params)  # eager: nothing to force, kept for the contract
        return self.params

    def snapshot(self):
        return [(w.copy(), b.copy()) for w, b in self.params]


def make_trainer(backend, plan, compiled: bool, force_step) -> Trainer:
    return Trainer(backend, plan, compiled, force_step)
