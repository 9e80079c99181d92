"""Backends: one framework on one device.

A backend moves NumPy arrays onto its device, forces completion of queued work (eval /
synchronize), brings results back as NumPy, and says why it is unavailable. It imports its
framework lazily: constructing a backend never imports MLX or PyTorch.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

Framework = Literal["mlx", "numpy", "torch"]


def tree_map(fn: Any, tree: Any) -> Any:
    """Apply `fn` to every leaf of a nest of tuples, lists and dicts."""
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, v) for v in tree)
    return fn(tree)


def tree_leaves(tree: Any) -> list[Any]:
    leaves: list[Any] = []
    tree_map(leaves.append, tree)
    return leaves


class Backend:
    """Base class. Subclasses set `name`, `framework`, `device` and implement the hooks."""

    name: str
    framework: str
    device: str

    def unavailable_reason(self) -> str | None:
        """None when usable here, else a sentence saying why not (becomes the skip reason)."""
        if importlib.util.find_spec(self.framework) is None:
            return f"{self.framework} is not installed (pip install {self.framework})"
        return None

    @property
    def module(self) -> Any:
        """The framework's array module (mlx.core, torch, numpy), imported on first use."""
        return importlib.import_module(self.framework)

    def asarray(self, a: np.ndarray) -> Any:
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        raise NotImplementedError

    def sync(self, out: Any) -> None:
        """Block until `out` (a nest of arrays) is computed on the device."""

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Make this backend's device the default for the duration; restore it afterwards."""
        yield

    def facts(self) -> dict[str, Any]:
        """Versions and device facts that explain this backend's numbers."""
        return {"framework": self.framework, "version": getattr(self.module, "__version__", None)}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class NumpyBackend(Backend):
    name = "numpy"
    framework = "numpy"
    device = "cpu"

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.array(a, copy=True)

    def to_numpy(self, x: Any) -> Any:
        return tree_map(np.asarray, x)

    def facts(self) -> dict[str, Any]:
        return {**super().facts(), "device_name": "cpu"}


class MlxBackend(Backend):
    framework = "mlx"

    def __init__(self, device: Literal["cpu", "gpu"]) -> None:
        self.device = device
        self.name = f"mlx-{device}"

    @property
    def module(self) -> Any:
        return importlib.import_module("mlx.core")

    @property
    def mx_device(self) -> Any:
        mx = self.module
        return mx.gpu if self.device == "gpu" else mx.cpu

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("mlx") is None:
            return 'mlx is not installed (pip install mlx; on Linux "mlx[cpu]" or "mlx[cuda]")'
        try:
            mx = self.module
        except ImportError as exc:  # a broken install is a reason too, never a crash
            return f"mlx failed to import: {exc}"
        if not mx.is_available(self.mx_device):
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

    def sync(self, out: Any) -> None:
        mx = self.module
        mx.eval(out)
        mx.synchronize()  # work queued on other streams (placement workloads) completes too

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        mx = self.module
        previous = mx.default_device()
        mx.set_default_device(self.mx_device)
        try:
            yield
        finally:
            mx.set_default_device(previous)

    def facts(self) -> dict[str, Any]:
        mx = self.module
        with self.activate():
            info = mx.device_info() if hasattr(mx, "device_info") else {}
        backend = "cpu"
        if self.device == "gpu":
            backend = "metal" if mx.metal.is_available() else "cuda"
        return {**super().facts(), "device_name": info.get("device_name"), "gpu_api": backend}


class TorchBackend(Backend):
    framework = "torch"

    def __init__(self, device: Literal["cpu", "mps", "cuda"]) -> None:
        self.device = device
        self.name = f"torch-{device}"

    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        if reason:
            return reason
        torch = self.module
        if self.device == "cuda" and not torch.cuda.is_available():
            built = torch.backends.cuda.is_built()
            return "no CUDA device visible to PyTorch" + ("" if built else " (this PyTorch is a CPU build)")
        if self.device == "mps" and not torch.backends.mps.is_available():
            built = torch.backends.mps.is_built()
            return "no MPS device (Apple GPU)" + ("" if built else " (this PyTorch was built without MPS)")
        return None

    def asarray(self, a: np.ndarray) -> Any:
        x = self.module.from_numpy(np.ascontiguousarray(a)).to(self.device)
        self.sync(x)
        return x

    def to_numpy(self, x: Any) -> Any:
        return tree_map(lambda v: v.detach().cpu().numpy().copy(), x)

    def sync(self, out: Any) -> None:
        torch = self.module
        if self.device == "cuda":
            torch.cuda.synchronize()
        elif self.device == "mps":
            torch.mps.synchronize()

    # activate() stays a no-op: torch.set_default_device installs a function mode that taxes every
    # op, so implementations pass `device=backend.device` explicitly instead.

    def facts(self) -> dict[str, Any]:
        torch = self.module
        name = "cpu"
        if self.device == "cuda":
            name = torch.cuda.get_device_name()
        elif self.device == "mps":
            name = "Apple GPU (MPS)"
        return {**super().facts(), "device_name": name, "num_threads": torch.get_num_threads()}


BUILTIN_BACKENDS: tuple[Backend, ...] = (
    MlxBackend("cpu"),
    MlxBackend("gpu"),
    NumpyBackend(),
    TorchBackend("cpu"),
    TorchBackend("mps"),
    TorchBackend("cuda"),
)
