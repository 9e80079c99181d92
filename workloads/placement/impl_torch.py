"""Placement in PyTorch: separate memories, so `b` is copied to d2 explicitly (inside the clock)."""

import torch

MEMORY = "separate (explicit .to() copies)"


def devices(backend) -> dict:
    out = {"cpu": "cpu"}
    if torch.cuda.is_available():
        out["gpu"] = "cuda"
    elif torch.backends.mps.is_available():
        out["gpu"] = "mps"
    return out


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def make_fun(backend, d2: str, a, b, n_exp: int, finite: bool):
    def fun():
        x = a @ b
        y = b.to(d2)
        for _ in range(n_exp):
            y = torch.exp(-y if finite else y)
            _sync(d2)  # each step evaluated, as the seed's mx.eval
        return x, y

    return fun
