"""Placement in NumPy: there is only the CPU (cpu/cpu)."""

import numpy as np


def make_fun(backend, d2, a, b, n_exp: int, finite: bool):
    def fun():
        x = a @ b
        y = b
        with np.errstate(over="ignore"):
            for _ in range(n_exp):
                y = np.exp(-y if finite else y)
        return x, y

    return fun
