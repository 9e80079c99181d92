"""A pytest plugin for calibrating the regression gate: make one workload deliberately slower.

    MLXBENCH_SLOWDOWN=linreg=0.25 pytest benchmarks -p mlxbench.slowdown ...

Every measured call of that workload then busy-waits an extra 25% of its own duration, inside the
clock, so the slowdown looks to the gate like slower code (not like a pause). Not loaded unless
named with -p; `python -m mlxbench.calibrate` uses it.
"""

from __future__ import annotations

import os
import time

import pytest

from mlxbench.runner import Bench


def slowed(run, factor: float):
    def run_slower():
        t0 = time.perf_counter()
        out = run()
        end = time.perf_counter() + factor * (time.perf_counter() - t0)
        while time.perf_counter() < end:
            pass
        return out

    return run_slower


@pytest.fixture(autouse=True)
def _mlxbench_slowdown(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = os.environ.get("MLXBENCH_SLOWDOWN", "")
    if not spec:
        return
    workload, _, factor = spec.partition("=")
    measure = Bench.measure

    def measure_slower(self, prepared):
        if self.benchmark.extra_info.get("workload") == workload:
            prepared.run = slowed(prepared.run, float(factor))
        return measure(self, prepared)

    monkeypatch.setattr(Bench, "measure", measure_slower)  # undone after each test
