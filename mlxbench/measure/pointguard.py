"""Sweep points that cannot be afforded are skipped before they allocate: too big for the memory the
device has, or predicted (from the smaller sizes already measured this session) to take longer than
the per-point budget. One `PointGuard` per session, held by the RunContext.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from mlxbench.backends.base import Backend
from mlxbench.workload import Size

BUDGET_ENV = "MLXBENCH_POINT_BUDGET"
DEFAULT_BUDGET_S = 60.0  # a whole point (calibration, warm-up and measured calls); see README "Size sweeps"
HEADROOM = 0.8  # a point may use at most this share of what the device says it has free

CALIBRATION_CALLS = 3  # untimed calls `Bench.calibrate` makes (counted in a sweep point's predicted time)


class BadBudget(ValueError):
    """MLXBENCH_POINT_BUDGET is not a positive number of seconds."""


def budget_from_env() -> float:
    raw = os.environ.get(BUDGET_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_BUDGET_S
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise BadBudget(f"{BUDGET_ENV}={raw!r}: give the seconds a sweep point may take, a positive number")
    return value


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def fit_loglog(work: list[float], seconds: list[float]) -> tuple[float, float] | None:
    """(slope, intercept) of log(seconds) against log(work) by least squares; None for < 2 distinct works."""
    pts = [(math.log(w), math.log(s)) for w, s in zip(work, seconds, strict=True) if w > 0 and s > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return slope, my - slope * mx


@dataclass
class PointGuard:
    """Per-session record of measured sweep points, and the two checks made before a point allocates."""

    budget_s: float = field(default_factory=budget_from_env)
    # (workload, series, axis, backend) -> [(work, seconds per call)] measured this session
    measured: dict[tuple[str, str, str, str], list[tuple[float, float]]] = field(default_factory=dict)

    def record(self, workload: str, size: Size, backend: str, seconds_per_call: float) -> None:
        key = (workload, size.series, size.axis, backend)
        self.measured.setdefault(key, []).append((size.work, seconds_per_call))

    def predict(self, workload: str, size: Size, backend: str) -> tuple[float, str] | None:
        """Seconds per call at `size`, and how it was predicted; None before anything smaller was measured.

        The log-log line through the two largest smaller sizes measured so far (the local slope), but never
        flatter than 1: at small sizes fixed costs (dispatch, autograd, Python) flatten the line, and a
        point past them grows at least in proportion to its work (a flatter line let linreg's 10,000-feature
        point on torch-cpu run far past the budget here). From a single smaller size: proportional to work."""
        points = self.measured.get((workload, size.series, size.axis, backend), [])
        smaller = sorted((w, s) for w, s in points if w < size.work)
        if not smaller:
            return None
        last_w, last_s = smaller[-1]
        fit = fit_loglog([w for w, _ in smaller[-2:]], [s for _, s in smaller[-2:]])
        if fit is None:
            return last_s * size.work / last_w, "proportional to work from one smaller size"
        slope = max(fit[0], 1.0)
        how = f"log-log slope {fit[0]:.2f} through the two largest smaller sizes"
        how += "" if fit[0] > 0.995 else ", taken as 1 (at least proportional to work)"
        return last_s * (size.work / last_w) ** slope, how

    def too_slow(self, workload: str, size: Size, backend: str, calls: int) -> str | None:
        """Why the point is skipped for time, or None: `calls` calls at the predicted time exceed the budget."""
        guess = self.predict(workload, size, backend)
        if guess is None:
            return None
        per_call, how = guess
        total = per_call * calls
        if total <= self.budget_s:
            return None
        return (
            f"{size.axis}={size.value:,} predicted to take {total:,.0f} s ({calls} calls of {per_call:.3g} s; {how}), "
            f"over the per-point budget of {self.budget_s:g} s ({BUDGET_ENV})"
        )


def does_not_fit(backend: Backend, size: Size) -> str | None:
    """Why the point cannot fit in memory, or None (also None where nobody can tell the memory).
    A host backend's device is the host; a GPU backend's point needs its host part there too."""
    from mlxbench.backends.base import host_available

    if backend.device == "cpu":
        checks = [("host", size.host_bytes + size.device_bytes, backend.memory_available())]
    else:
        checks = [
            ("host", size.host_bytes, host_available()),
            ("device", size.device_bytes, backend.memory_available()),
        ]
    for where, need, have in checks:
        if have is not None and need > HEADROOM * have.bytes:
            return (
                f"{size.axis}={size.value:,} needs about {gib(need)} on the {where} of {backend.name}, which has "
                f"{gib(have.bytes)} available ({have.source}; a point may use {HEADROOM:.0%} of it)"
            )
    return None
