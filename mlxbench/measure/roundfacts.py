"""What a worker was running on when it timed a round, read right after the round: the CPU its timed thread
was on, how long the worker had been up, and the GPU's clocks and temperature.

On a GPU a benchmark's rounds can come in levels (about 11 ms and 25 ms for one benchmark in one worker of
a paired A/B); these facts, one set per timed round, are what can tell the levels apart: a thread moved to
another CPU, a round early in a worker's life, a GPU clocked down or hot. Nothing here runs inside a timed
round (the worker reads them after mlxbench.measure.timing.time_round returns, before it reports the round,
mlxbench.measure.baton), and nothing is set: NVML is only asked.

    cpu      the CPU the reading thread was on (Linux: libc's sched_getcpu); None where it cannot be read
    uptime   seconds since the worker's RoundFacts were made (its Baton's creation, at pytest_configure)
    sm_mhz, mem_mhz, gpu_c
             the first visible GPU's SM and memory clocks (MHz) and temperature (C), through NVML
             (libnvidia-ml.so.1); absent where NVML does not load (no NVIDIA driver, macOS) or does not answer
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

NVML_LIBRARY = "libnvidia-ml.so.1"
NVML_SUCCESS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_TEMPERATURE_GPU = 0
Loader = Callable[[str | None], Any]  # how a shared library is loaded: ctypes.CDLL unless given


def cpu_reader(load: Loader | None = None) -> Callable[[], int] | None:
    """libc's sched_getcpu, ready to call (Linux), or None where there is none (macOS, a libc without it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        getcpu = (load or ctypes.CDLL)(None).sched_getcpu  # the process's own symbols: libc's, glibc or musl
    except (OSError, AttributeError):
        return None
    getcpu.restype = ctypes.c_int
    getcpu.argtypes = []
    return getcpu


def visible_gpu(env: Mapping[str, str]) -> int | str | None:
    """NVML's name for the first GPU this process may use: its index (NVML's order, by PCI bus, which is CUDA's
    for GPUs of one kind or under CUDA_DEVICE_ORDER=PCI_BUS_ID), its UUID ("GPU-..."), or None where
    CUDA_VISIBLE_DEVICES hides every GPU or names a MIG instance (its clocks are its parent's to read)."""
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return 0
    first = value.split(",")[0].strip()
    if first.startswith("GPU-"):
        return first
    try:
        index = int(first)
    except ValueError:
        return None
    return index if index >= 0 else None


class Nvml:
    """One GPU's clocks and temperature through NVML, opened once per worker and shut down with it."""

    def __init__(self, lib: Any, handle: ctypes.c_void_p) -> None:
        self.lib = lib
        self.handle = handle
        self.value = ctypes.c_uint()
        self.reads = (
            ("sm_mhz", lib.nvmlDeviceGetClockInfo, NVML_CLOCK_SM),
            ("mem_mhz", lib.nvmlDeviceGetClockInfo, NVML_CLOCK_MEM),
            ("gpu_c", lib.nvmlDeviceGetTemperature, NVML_TEMPERATURE_GPU),
        )

    @classmethod
    def open(cls, load: Loader | None = None, env: Mapping[str, str] | None = None) -> Nvml | None:
        """NVML on the first visible GPU (visible_gpu), or None where the library does not load, does not
        start, or does not find that GPU."""
        which = visible_gpu(os.environ if env is None else env)
        if which is None:
            return None
        try:
            lib = (load or ctypes.CDLL)(NVML_LIBRARY)
            for query in (lib.nvmlDeviceGetClockInfo, lib.nvmlDeviceGetTemperature):
                query.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
            if lib.nvmlInit_v2() != NVML_SUCCESS:
                return None
        except (OSError, AttributeError):
            return None
        handle = ctypes.c_void_p()
        try:
            if isinstance(which, str):
                found = lib.nvmlDeviceGetHandleByUUID(which.encode(), ctypes.byref(handle))
            else:
                found = lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(which), ctypes.byref(handle))
        except AttributeError:
            found = None
        if found != NVML_SUCCESS:
            lib.nvmlShutdown()
            return None
        return cls(lib, handle)

    def read(self) -> dict[str, int]:
        """The clocks (MHz) and temperature (C) NVML gives now; a value it does not give is left out."""
        out = {}
        for key, query, kind in self.reads:
            if query(self.handle, kind, ctypes.byref(self.value)) == NVML_SUCCESS:
                out[key] = self.value.value
        return out

    def close(self) -> None:
        self.lib.nvmlShutdown()


class RoundFacts:
    """One worker's reader of its rounds' facts (the module's docstring says what each is); its uptime
    counts from its creation, on the monotonic perf_counter."""

    def __init__(
        self,
        cpu: Callable[[], int] | None = None,
        gpu: Nvml | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.cpu = cpu
        self.gpu = gpu
        self.clock = clock
        self.started = clock()

    @classmethod
    def open(cls) -> RoundFacts:
        """The facts this machine can give: sched_getcpu where libc has it, NVML where it loads."""
        return cls(cpu_reader(), Nvml.open())

    def read(self) -> dict[str, Any]:
        cpu = self.cpu() if self.cpu is not None else -1
        facts: dict[str, Any] = {"cpu": cpu if cpu >= 0 else None, "uptime": round(self.clock() - self.started, 6)}
        if self.gpu is not None:
            facts.update(self.gpu.read())
        return facts

    def close(self) -> None:
        if self.gpu is not None:
            self.gpu.close()
            self.gpu = None
