"""Judging one benchmark where it ran, apart from timing it (mlxbench.measure.runner): the workload's accuracy
gates on its metrics, and with --regression-gate the regression gate on its rounds, re-measured before a
regression fails the test.

What a failure by either says begins with ACCURACY_FAILED or REGRESSION_FAILED (GATE_FAILURES):
mlxbench.ab.revisions tells these apart from a revision that breaks when it runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest

from mlxbench.measure.timing import time_rounds

if TYPE_CHECKING:
    from mlxbench.workload import Gate, Measured, Prepared

ACCURACY_FAILED = "accuracy gate failed"  # how a benchmark's failure by its gates begins
REGRESSION_FAILED = "regression in"
GATE_FAILURES = (ACCURACY_FAILED, REGRESSION_FAILED)


def check_accuracy(info: dict[str, Any], metrics: dict[str, float], gates: Iterable[Gate], label: str) -> None:
    """Record the metrics and each gate's outcome in `info` (the benchmark's extra_info); a gate that fails
    fails the test, naming every failed gate."""
    __tracebackhide__ = True
    info["metrics"] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
    failures, results = [], []
    for g in gates:
        value = metrics.get(g.metric, math.nan)
        ok = g.passes(value)
        entry = {"metric": g.metric, "limit": g.limit, "kind": g.kind, "value": value, "passed": ok, "why": g.why}
        if g.tolerance is not None:
            entry["tolerance"] = g.tolerance
        results.append(entry)
        if not ok:
            failures.append(g.describe(value))
    info["gates"] = results
    if failures:
        pytest.fail(f"{ACCURACY_FAILED} for {label}:\n  " + "\n  ".join(failures), pytrace=False)


def check_regression(
    gate: Any,  # mlxbench.verdicts.gate.RegressionGate (a part above this one), or None
    benchmark: Any,
    prepared: Prepared,
    measured: Measured,
    threshold: float | None,
    label: str,
    sync: Callable[[Any], None],
) -> None:
    """With --regression-gate (`gate`): judge the rounds against the baseline, re-measuring before a regression
    counts (not for rounds that build on each other); the verdict goes to `benchmark`'s extra_info, and a
    confirmed regression fails the test."""
    __tracebackhide__ = True
    if gate is None or not measured.round_times:
        return
    remeasure = None if prepared.cumulative else (lambda: time_rounds(prepared, sync))
    info = benchmark.extra_info
    note = "not re-measured: its rounds build on each other"
    res = gate.judge(benchmark.fullname, list(measured.round_times), info, threshold, remeasure, note)
    if res is None:
        return
    info["verdict"] = res.as_dict()
    if res.regressed:
        detail = "\n  ".join(res.reasons + [f"accuracy: {a}" for a in res.accuracy])
        pytest.fail(f"{REGRESSION_FAILED} {label} against {gate.baseline.label}:\n  {detail}", pytrace=False)
