"""Placement in MLX: ops go to a device's stream; arrays live in one unified memory (no copies)."""

import mlx.core as mx


def make_fun(backend, d2, a, b, n_exp: int, finite: bool):
    d1, d2 = backend.device_for(backend.device), backend.device_for(d2)

    def fun():
        x = mx.matmul(a, b, stream=d1)
        mx.eval(x)  # the seed evaluates x on d1 before the loop
        y = b
        for _ in range(n_exp):
            y = mx.exp(mx.negative(y, stream=d2) if finite else y, stream=d2)
            mx.eval(y)  # the seed evaluates every step
        return x, y

    return fun
