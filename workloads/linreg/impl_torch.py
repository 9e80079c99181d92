"""Linear regression SGD in PyTorch through autograd.

eager: `loss.backward()` and an in-place update, as the seeds wrote it.
compiled: `torch.compile` of the whole step, differentiated with `torch.func.grad`.
"""

from __future__ import annotations

import torch

from mlxbench.workload import Unsupported


def make_train(backend, spec, data, compiled: bool, force_step):
    X, y, w0 = (backend.asarray(a) for a in (data.X_train, data.y_train, data.w0))
    lr, steps = spec.lr, spec.steps

    def loss_fn(w):
        return 0.5 * torch.mean((X @ w - y) ** 2)

    if compiled:
        step = torch.compile(lambda w: w - lr * torch.func.grad(loss_fn)(w))
        try:  # compile now, untimed; a platform where torch.compile cannot work is a skip
            backend.sync(step(w0))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise Unsupported(f"torch.compile fails on {backend.device}: {type(exc).__name__}: {first}") from exc

        def train():
            w = w0
            for _ in range(steps):
                w = step(w)
                force_step(w)
            return w

        return train

    def train():
        w = w0.clone().requires_grad_(True)
        for _ in range(steps):
            loss = loss_fn(w)
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
            w.grad = None
            force_step(w)  # a device synchronize at step cadence (a no-op on the CPU)
        return w.detach()

    return train
