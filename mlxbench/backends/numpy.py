"""NumPy: eager, on the host CPU; the reference every other backend is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlxbench.backends.base import Backend, tree_map


class NumpyBackend(Backend):
    name = "numpy"
    framework = "numpy"
    device = "cpu"
    execution = "eager"
    memory = "unified"  # only the host exists
    distributions = ("numpy",)

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.array(a, copy=True)

    def to_numpy(self, x: Any) -> Any:
        return tree_map(np.asarray, x)

    def facts(self) -> dict[str, Any]:
        return {**super().facts(), "device_name": "cpu"}

    def blas(self) -> str | None:
        try:
            deps = np.show_config(mode="dicts")["Build Dependencies"]
            return " ".join(str(deps["blas"].get(k)) for k in ("name", "version"))
        except Exception:  # the layout of show_config is NumPy's own; a change must not break a run
            return None


BACKENDS = (NumpyBackend(),)
