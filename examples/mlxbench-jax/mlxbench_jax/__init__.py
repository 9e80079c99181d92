"""JAX for mlxbench, as a package outside the suite: two backends, registered by entry points.

JAX dispatches asynchronously: an op returns at once and `block_until_ready` waits for its
result. Arrays are committed to a device with `jax.device_put`; ops run where their inputs live.
Importing this module does not import JAX.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np

from mlxbench.backends import Backend, MemoryReading, Role, tree_map


class JaxBackend(Backend):
    framework = "jax"
    execution = "async"
    memory = "separate"
    compiler = "jax.jit"
    distributions = (
        "jax",
        "jaxlib",
        "jax-cuda12-plugin",
        "jax-cuda12-pjrt",
        "jax-cuda13-plugin",
        "jax-cuda13-pjrt",
    )

    def __init__(self, device: Role) -> None:
        self.device = device
        self.name = f"jax-{device}"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("jax") is None:
            return "jax is not installed (pip install jax; for NVIDIA GPUs pip install 'jax[cuda12]')"
        try:
            _ = self.module
        except Exception as exc:  # a broken install is a reason, never a crash
            return f"jax failed to import: {exc}"
        if self.device_for(self.device) is None:
            if self.device == "gpu":
                return "no JAX GPU: jax.devices('gpu') finds none (install jax[cuda12] on an NVIDIA machine)"
            return "JAX reports no CPU device"
        return None

    def device_for(self, role: Role) -> Any | None:
        jax = self.module
        try:
            devices = jax.devices("gpu" if role == "gpu" else "cpu")
        except RuntimeError:  # "Unknown backend gpu" when no GPU plugin or device exists
            return None
        return devices[0] if devices else None

    def asarray(self, a: np.ndarray) -> Any:
        x = self.module.device_put(a, self.device_for(self.device))
        x.block_until_ready()
        return x

    def to_numpy(self, x: Any) -> Any:
        return tree_map(lambda v: np.array(v, copy=True), x)

    def force(self, out: Any) -> None:
        self.module.block_until_ready(out)

    def synchronize(self, role: Role) -> None:
        self.module.effects_barrier()  # JAX has no device-wide wait; results are forced with `force`

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        with self.module.default_device(self.device_for(self.device)):
            yield

    def peak_memory(self) -> MemoryReading | None:
        stats = self.device_for(self.device).memory_stats() or {}
        if "bytes_in_use" not in stats:  # the CPU client keeps no statistics: the process's peak
            return super().peak_memory()
        return MemoryReading(int(stats["bytes_in_use"]), "current", "jax Device.memory_stats()['bytes_in_use']")

    def facts(self) -> dict[str, Any]:
        dev = self.device_for(self.device)
        return {
            **super().facts(),
            "device_name": getattr(dev, "device_kind", str(dev)),
            "platform": getattr(dev, "platform", None),
            "jaxlib": importlib.import_module("jaxlib").__version__,
        }


JAX_CPU = JaxBackend("cpu")
JAX_GPU = JaxBackend("gpu")
