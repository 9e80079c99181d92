"""Placement in JAX: separate memories, so `b` is put on d2 with `jax.device_put` (inside the clock)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def make_fun(backend, d2, a, b, n_exp: int, finite: bool):
    device = backend.device_for(d2)

    def fun():
        x = jnp.matmul(a, b, precision="highest")  # on d1, where a and b live
        backend.force(x)  # the seed evaluates x on d1 before the loop
        y = jax.device_put(b, device)
        for _ in range(n_exp):
            y = jnp.exp(-y if finite else y)
            backend.force(y)  # each step evaluated, as the seed's mx.eval
        return x, y

    return fun
