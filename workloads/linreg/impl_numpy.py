"""Linear regression SGD in NumPy: the analytic gradient X^T (Xw - y) / n."""

from __future__ import annotations


def make_train(backend, spec, data, compiled: bool, force_step):
    X, y, w0 = (backend.asarray(a) for a in (data.X_train, data.y_train, data.w0))
    lr, n, steps = spec.lr, len(y), spec.steps

    def train():
        w = w0
        for _ in range(steps):
            w = w - lr * (X.T @ (X @ w - y)) / n
            force_step(w)  # NumPy is eager: nothing to force, kept for the contract
        return w

    return train
