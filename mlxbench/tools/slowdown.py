"""A pytest plugin for calibrating the regression gate: make one workload deliberately slower.

    MLXBENCH_SLOWDOWN=linreg=0.25 pytest benchmarks -p mlxbench.tools.slowdown ...
    MLXBENCH_SLOWDOWN='*=0.1' pytest benchmarks -p mlxbench.tools.slowdown ...     # every workload

Every measured call of that workload then busy-waits an extra 25% of its own synced duration
(from the start of the call to the end of the backend's sync), inside the clock, so the slowdown
looks to the gate like slower code (not like a pause) on lazy and asynchronous backends too. Not loaded unless
named with -p; `python -m mlxbench.tools.calibrate` uses it.
"""

from __future__ import annotations

import os
import time

import pytest

from mlxbench.measure.runner import Bench
from mlxbench.units import fit


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


def parse(spec: str) -> dict[str, float]:
    """'linreg=0.1,placement=0.25' or '*=0.1' -> {workload or '*': factor}; ValueError says what is wrong."""
    targets = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = float("nan")
        if not sep or not name or not 0 < factor < 100:
            raise ValueError(
                f"MLXBENCH_SLOWDOWN={spec!r}: {part!r} is not WORKLOAD=FACTOR with a factor above 0 "
                "(0.1 adds 10% to every measured call), e.g. linreg=0.1 or '*=0.1'"
            )
        targets[name] = factor
    return targets


slowed_key = pytest.StashKey[set]()  # the workloads this session slowed


def pytest_configure(config: pytest.Config) -> None:
    try:
        parse(os.environ.get("MLXBENCH_SLOWDOWN", ""))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[slowed_key] = set()


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    """A slowdown that named a workload no benchmark ran would calibrate nothing: say so."""
    targets = parse(os.environ.get("MLXBENCH_SLOWDOWN", ""))
    missing = sorted(set(targets) - config.stash.get(slowed_key, set()) - {"*"})
    if missing:
        line = (
            f"mlxbench: MLXBENCH_SLOWDOWN slowed no benchmark of: {', '.join(missing)} (no measured benchmark of that "
            "workload ran; names are workload names such as linreg, mnist_mlp, placement, lazy_eval)"
        )
        for part in fit(line):
            terminalreporter.write_line(part, yellow=True)


@pytest.fixture(autouse=True)
def _mlxbench_slowdown(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    targets = parse(os.environ.get("MLXBENCH_SLOWDOWN", ""))
    if not targets:
        return
    slowed = request.config.stash.setdefault(slowed_key, set())
    measure = Bench.measure

    def measure_slower(self, prepared, *args, **kwargs):  # whatever else Bench.measure takes, passed on
        workload = self.benchmark.extra_info.get("workload")
        factor = targets.get(workload, targets.get("*"))
        if factor is None:
            return measure(self, prepared, *args, **kwargs)
        slowed.add(workload)
        slow = Slowed(factor)
        prepared.run = slow.run(prepared.run)
        monkeypatch.setattr(self.backend, "sync", slow.sync(self.backend.sync))  # this test (re-measure too)
        return measure(self, prepared, *args, **kwargs)

    monkeypatch.setattr(Bench, "measure", measure_slower)  # undone after each test
