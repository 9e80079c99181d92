"""A pytest plugin for calibrating the regression gate: make one workload deliberately slower.

    MLXBENCH_SLOWDOWN=linreg=0.25 pytest benchmarks -p mlxbench.slowdown ...
    MLXBENCH_SLOWDOWN='*=0.1' pytest benchmarks -p mlxbench.slowdown ...     # every workload

Every measured call of that workload then busy-waits an extra 25% of its own synced duration
(from the start of the call to the end of the backend's sync), inside the clock, so the slowdown
looks to the gate like slower code (not like a pause) on lazy and asynchronous backends too. Not loaded unless
named with -p; `python -m mlxbench.calibrate` uses it.
"""

from __future__ import annotations

import os
import time

import pytest

from mlxbench.runner import Bench


class Slowed:
    """Busy-waits, after the measured call has been forced (the backend's sync), `factor` times the
    synced duration of the call: a lazy or asynchronous backend, whose `run()` returns before its
    work is done, gets the requested slowdown of what the clock measures, not of the dispatch."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.start: float | None = None

    def run(self, run):
        def started():
            self.start = time.perf_counter()
            return run()

        return started

    def sync(self, sync):
        def synced(out):
            sync(out)
            if self.start is not None:
                end = time.perf_counter() + self.factor * (time.perf_counter() - self.start)
                while time.perf_counter() < end:
                    pass
                self.start = None

        return synced


@pytest.fixture(autouse=True)
def _mlxbench_slowdown(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = os.environ.get("MLXBENCH_SLOWDOWN", "")
    if not spec:
        return
    targets = dict(part.partition("=")[::2] for part in spec.split(","))  # "linreg=0.1,placement=0.1" or "*=0.1"
    measure = Bench.measure

    def measure_slower(self, prepared):
        workload = self.benchmark.extra_info.get("workload")
        factor = targets.get(workload, targets.get("*"))
        if factor is None:
            return measure(self, prepared)
        slow = Slowed(float(factor))
        prepared.run = slow.run(prepared.run)
        monkeypatch.setattr(self.backend, "sync", slow.sync(self.backend.sync))  # this test (re-measure too)
        return measure(self, prepared)

    monkeypatch.setattr(Bench, "measure", measure_slower)  # undone after each test
