"""The backend contract: one framework on one device, and everything the harness needs to know of it.

A backend owns its framework's knowledge, so that workloads and the harness never restate it:
how to move NumPy arrays onto its device and bring results back, how to force completion
(`force` for one value, `sync` at the end of a measured call), whether the framework is lazy,
asynchronous or eager, which native device plays a role ("the GPU of this framework"), which
installed distributions make two runs incomparable when their versions differ, and why it is
unavailable here. It imports its framework lazily: constructing a backend imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

Role = Literal["cpu", "gpu"]
"""A device's part in a workload: the host processor, or this framework's accelerator."""

Execution = Literal["lazy", "async", "eager"]
"""lazy: ops build a graph that a force computes (MLX). async: ops are queued on the device and a
synchronize waits for them (PyTorch on a GPU, JAX). eager: every op has finished when it returns."""

Memory = Literal["unified", "separate"]
"""unified: one memory for every device (MLX on Apple silicon and its CPU); separate: arrays are
copied between devices explicitly (PyTorch, JAX)."""


@dataclass(frozen=True)
class MemoryReading:
    """Memory a measured call used, as the framework or the OS can tell it.

    bytes: the figure; kind: what it is: `peak` (the framework allocator's peak since the reset
    before the call), `current` (what is held after the call, where no peak is kept), or
    `process_peak` (the process's peak resident size during the call above its size at the start:
    everything the call touched, allocator caches included); source: the API that gave it.
    """

    bytes: int
    kind: Literal["peak", "current", "process_peak"]
    source: str


@dataclass(frozen=True)
class Capacity:
    """How much memory a device can still give, as the framework or the OS tells it (before allocating)."""

    bytes: int
    source: str


def host_available() -> Capacity | None:
    """The host's available memory: /proc/meminfo MemAvailable (Linux), else os.sysconf's free pages."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return Capacity(int(line.split()[1]) * 1024, "/proc/meminfo MemAvailable")
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, page = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # macOS has no SC_AVPHYS_PAGES; Windows no sysconf
        try:
            pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
        return Capacity(pages * page, "os.sysconf SC_PHYS_PAGES (total: the OS tells no free figure)")
    return Capacity(pages * page, "os.sysconf SC_AVPHYS_PAGES")


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class HostPeak:
    """The process's peak resident size over a window (Linux: reset through /proc/self/clear_refs).

    Before the window opens, the C allocator hands its free pages back to the OS (glibc `malloc_trim`):
    otherwise a call reusing the pages an earlier call freed (calibration, warm-up) raises no resident
    size, and anything below glibc's mmap threshold (32 MiB at most) read as 0 bytes."""

    SOURCE = "/proc/self/status VmHWM, reset through /proc/self/clear_refs after malloc_trim"

    def __init__(self) -> None:
        self.start: int | None = None
        self._trim: Any = None  # glibc's malloc_trim, found on first reset; False where there is none

    def trim(self) -> None:
        if self._trim is None:
            try:
                self._trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
            except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
                self._trim = False
        if self._trim:
            self._trim(0)

    def reset(self) -> None:
        self.trim()
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:  # not Linux, or not allowed: no reading
            self.start = None
            return
        self.start = _status_kib("VmRSS")

    def read(self) -> MemoryReading | None:
        peak = _status_kib("VmHWM")
        if self.start is None or peak is None:
            return None
        return MemoryReading(max(peak - self.start, 0) * 1024, "process_peak", self.SOURCE)


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
    """Base class. Subclasses set the class attributes below and implement the hooks.

    name:          what users pass to `--backend` (e.g. `mlx-gpu`)
    framework:     the implementations it runs (`workloads/<w>/impl_<framework>.py`, or a
                   `<workload>.<framework>` entry point)
    device:        the role of its own device
    execution:     see `Execution`
    memory:        see `Memory`
    compiler:      the framework's compiler a `compiled` variant uses, or None (that variant is a skip)
    distributions: installed distributions whose versions make runs incomparable
    """

    name: str
    framework: str
    device: Role
    execution: Execution = "eager"
    memory: Memory = "separate"
    compiler: str | None = None
    distributions: tuple[str, ...] = ()

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
        """A copy of `a` on this backend's device, complete (transfers happen before the clock)."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        """A nest of device arrays as a nest of NumPy arrays."""
        raise NotImplementedError

    def force(self, out: Any) -> None:
        """Make `out` (a nest of arrays) computed: `mx.eval`, a device synchronize; eager: nothing."""

    def sync(self, out: Any) -> None:
        """End of a measured call: `out` computed and all work this call queued finished."""
        self.force(out)

    def device_for(self, role: Role) -> Any | None:
        """This framework's native device for `role`, or None when this machine has none."""
        return "cpu" if role == "cpu" else None

    def synchronize(self, role: Role) -> None:
        """Wait for all work queued on the device of `role` (a no-op on eager devices)."""

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Make this backend's device the default for the duration; restore it afterwards."""
        yield

    @property
    def peak_memory_per_call(self) -> bool:
        """Whether a peak-memory window may open before every timed call. A framework's allocator
        counter resets for free; the host's resident peak (the default on CPU devices) resets by handing
        freed pages back to the OS, which the next timed call would pay for in page faults: there one
        window spans all rounds of a benchmark."""
        return self.device != "cpu"

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory window (before a measured call). Default, for host devices: the
        process's peak resident size; a framework with its own allocator statistics overrides it."""
        if self.device == "cpu":
            self._host_peak().reset()

    def peak_memory(self) -> MemoryReading | None:
        """Memory since `reset_peak_memory`, or None where neither the framework nor the OS can tell."""
        return self._host_peak().read() if self.device == "cpu" else None

    def memory_available(self) -> Capacity | None:
        """Memory this backend's device can still allocate, asked before a sweep point allocates; None
        where nobody can tell. Default: the host's available memory for host devices."""
        return host_available() if self.device == "cpu" else None

    def _host_peak(self) -> HostPeak:
        if "_host" not in self.__dict__:
            self.__dict__["_host"] = HostPeak()
        return self.__dict__["_host"]

    def limit_threads(self, threads: int) -> Callable[[], None] | None:
        """Limit the framework's own CPU thread pools to `threads`; return how to undo it, or None when
        the framework has no such control (the environment variables of `mlxbench.measure.threads` still apply)."""
        return None

    def facts(self) -> dict[str, Any]:
        """Versions and device facts that explain this backend's numbers (saved with each benchmark)."""
        return {
            "framework": self.framework,
            "version": getattr(self.module, "__version__", None),
            "execution": self.execution,
            "memory": self.memory,
            "compiler": self.compiler,
        }

    def blas(self) -> str | None:
        """The BLAS library this framework multiplies matrices with, once it is imported."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def loaded_blas_libraries() -> list[str]:
    """Shared BLAS/LAPACK libraries mapped into this process (Linux), e.g. MLX's reference libblas."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    found = {Path(p).name for p in re.findall(r"(/\S+\.so[.\d]*)", maps)}
    pattern = re.compile(r"blas|lapack|mkl|accelerate|blis", re.I)
    return sorted(n for n in found if pattern.search(n))
