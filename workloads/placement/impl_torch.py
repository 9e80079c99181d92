"""Placement in PyTorch: separate memories, so `b` is copied to d2 explicitly (inside the clock)."""

import torch


def make_fun(backend, d2, a, b, n_exp: int, finite: bool):
    device = backend.device_for(d2)

    def fun():
        x = a @ b
        backend.force(x)  # the seed evaluates x on d1 before the loop
        y = b.to(device)
        for _ in range(n_exp):
            y = torch.exp(-y if finite else y)
            backend.synchronize(d2)  # each step evaluated, as the seed's mx.eval
        return x, y

    return fun
