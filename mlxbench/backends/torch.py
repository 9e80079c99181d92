"""PyTorch: eager on the CPU, asynchronous on a GPU (CUDA, or MPS on a Mac); separate memories."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from mlxbench.backends.base import Backend, Capacity, MemoryReading, Role, tree_map


class TorchBackend(Backend):
    framework = "torch"
    compiler = "torch.compile"
    distributions = ("torch",)

    def __init__(self, device: Literal["cpu", "mps", "cuda"]) -> None:
        self.native = device  # torch's own device string
        self.device = "cpu" if device == "cpu" else "gpu"
        self.execution = "eager" if device == "cpu" else "async"
        self.name = f"torch-{device}"

    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        if reason:
            return reason
        torch = self.module
        if self.native == "cuda" and not torch.cuda.is_available():
            built = torch.backends.cuda.is_built()
            return "no CUDA device visible to PyTorch" + ("" if built else " (this PyTorch is a CPU build)")
        if self.native == "mps" and not torch.backends.mps.is_available():
            built = torch.backends.mps.is_built()
            return "no MPS device (Apple GPU)" + ("" if built else " (this PyTorch was built without MPS)")
        return None

    def device_for(self, role: Role) -> str | None:
        if role == "cpu":
            return "cpu"
        if self.native != "cpu":
            return self.native
        if "_accelerator" not in self.__dict__:  # asked once: placement synchronizes d2 after every step
            torch = self.module  # torch-cpu's GPU: whichever accelerator this PyTorch sees
            found = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else None
            self.__dict__["_accelerator"] = found
        return self.__dict__["_accelerator"]

    def asarray(self, a: np.ndarray) -> Any:
        x = self.module.from_numpy(np.ascontiguousarray(a)).to(self.native)
        self.force(x)
        return x

    def to_numpy(self, x: Any) -> Any:
        return tree_map(lambda v: v.detach().cpu().numpy().copy(), x)

    def force(self, out: Any) -> None:
        self._synchronize(self.native)

    def synchronize(self, role: Role) -> None:
        device = self.device_for(role)
        if device is not None:
            self._synchronize(device)

    def _synchronize(self, device: str) -> None:
        torch = self.module
        if device == "cuda":
            torch.cuda.synchronize()
        elif device == "mps":
            torch.mps.synchronize()

    # activate() stays a no-op: torch.set_default_device installs a function mode that taxes every
    # op, so implementations pass `device=backend.native` explicitly instead.

    @property
    def peak_memory_per_call(self) -> bool:
        return self.native != "cpu"  # CUDA's counter resets for free; MPS reads the driver after each call

    def reset_peak_memory(self) -> None:
        if self.native == "cuda":
            self.module.cuda.reset_peak_memory_stats()
        else:
            super().reset_peak_memory()

    def peak_memory(self) -> MemoryReading | None:
        torch = self.module
        if self.native == "cpu":
            return super().peak_memory()
        if self.native == "cuda":
            return MemoryReading(int(torch.cuda.max_memory_allocated()), "peak", "torch.cuda.max_memory_allocated")
        if self.native == "mps":  # MPS keeps no peak counter: what the driver holds after the call
            return MemoryReading(
                int(torch.mps.driver_allocated_memory()), "current", "torch.mps.driver_allocated_memory"
            )
        return None

    def memory_available(self) -> Capacity | None:
        torch = self.module
        if self.native == "cuda":
            free, _total = torch.cuda.mem_get_info()
            return Capacity(int(free), "torch.cuda.mem_get_info (free)")
        if self.native == "mps":  # the driver's recommended limit less what the driver already holds
            limit = torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
            return Capacity(int(limit), "torch.mps.recommended_max_memory - driver_allocated_memory")
        return super().memory_available()

    def limit_threads(self, threads: int) -> Callable[[], None] | None:
        torch = self.module
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        return lambda: torch.set_num_threads(before)

    def facts(self) -> dict[str, Any]:
        torch = self.module
        name = "cpu"
        if self.native == "cuda":
            name = torch.cuda.get_device_name()
        elif self.native == "mps":
            name = "Apple GPU (MPS)"
        return {**super().facts(), "device_name": name, "num_threads": torch.get_num_threads()}

    def blas(self) -> str | None:
        m = re.search(r"BLAS_INFO=(\w+)", self.module.__config__.show())
        return m.group(1) if m else None


BACKENDS = (TorchBackend("cpu"), TorchBackend("mps"), TorchBackend("cuda"))
