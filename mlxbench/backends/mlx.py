"""MLX: lazy; one memory shared by its CPU and GPU (Metal on a Mac, CUDA with MLX's CUDA build)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

from mlxbench.backends.base import (
    Backend,
    Capacity,
    MemoryReading,
    Role,
    host_available,
    loaded_blas_libraries,
    tree_map,
)


class MlxBackend(Backend):
    framework = "mlx"
    execution = "lazy"
    memory = "unified"
    compiler = "mx.compile"
    distributions = ("mlx", "mlx-metal", "mlx-cpu", "mlx-cuda", "mlx-cuda-12", "mlx-cuda-13")

    def __init__(self, device: Literal["cpu", "gpu"]) -> None:
        self.device = device
        self.name = f"mlx-{device}"

    @property
    def module(self) -> Any:
        return importlib.import_module("mlx.core")

    def device_for(self, role: Role) -> Any | None:
        mx = self.module
        dev = mx.gpu if role == "gpu" else mx.cpu
        return dev if mx.is_available(dev) else None

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("mlx") is None:
            return 'mlx is not installed (pip install mlx; on Linux "mlx[cpu]" or "mlx[cuda]")'
        try:
            _ = self.module
        except ImportError as exc:  # a broken install (an empty mlx/ folder) is a reason too, never a crash
            return f"mlx failed to import: {exc}"
        if self.device_for(self.device) is None:
            if self.device == "gpu":
                return "no MLX GPU: MLX has neither Metal nor CUDA here (on Linux install mlx[cuda])"
            return "MLX reports no CPU device in this build"
        return None

    def asarray(self, a: np.ndarray) -> Any:
        x = self.module.array(a)
        self.module.eval(x)
        return x

    def to_numpy(self, x: Any) -> Any:
        return tree_map(lambda v: np.array(v, copy=True), x)

    def force(self, out: Any) -> None:
        self.module.eval(out)

    def sync(self, out: Any) -> None:
        mx = self.module
        mx.eval(out)
        mx.synchronize()  # work queued on other streams (placement workloads) completes too

    def synchronize(self, role: Role) -> None:
        self.module.synchronize()

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        mx = self.module
        previous = mx.default_device()
        mx.set_default_device(self.device_for(self.device))
        try:
            yield
        finally:
            mx.set_default_device(previous)

    peak_memory_per_call = True  # mx.reset_peak_memory only resets MLX's counter, on every device

    def reset_peak_memory(self) -> None:
        self.module.reset_peak_memory()

    def peak_memory(self) -> MemoryReading | None:
        return MemoryReading(int(self.module.get_peak_memory()), "peak", "mx.get_peak_memory")

    def memory_available(self) -> Capacity | None:
        """On a GPU, MLX's own figure (`mx.device_info()`: Metal's recommended working set, else the
        memory size) less what MLX holds now; on the CPU, the host's available memory."""
        if self.device == "cpu":
            return super().memory_available()
        mx = self.module
        with self.activate():
            info = mx.device_info()
        for key in ("max_recommended_working_set_size", "memory_size", "total_memory"):
            if isinstance(info.get(key), int) and info[key] > 0:
                return Capacity(int(info[key]) - int(mx.get_active_memory()), f"mx.device_info()[{key!r}] - active")
        return host_available() if self.memory == "unified" else None

    def facts(self) -> dict[str, Any]:
        mx = self.module
        with self.activate():
            info = mx.device_info() if hasattr(mx, "device_info") else {}
        api = "cpu"
        if self.device == "gpu":
            api = "metal" if mx.metal.is_available() else "cuda"
        return {**super().facts(), "device_name": info.get("device_name"), "gpu_api": api}

    def blas(self) -> str | None:
        if sys.platform == "darwin":
            return "Accelerate"
        names = [n for n in loaded_blas_libraries() if n.startswith(("libblas", "liblapack", "libopenblas"))]
        return ", ".join(names) or None


BACKENDS = (MlxBackend("cpu"), MlxBackend("gpu"))
