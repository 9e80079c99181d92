"""Cost against size: the lines a sweep measured, where one backend overtakes another (crossovers),
and how each backend's time grows with the work (scaling exponents). Plain data in, plain data out;
`mlxbench.reports.sweeptables` renders it, `mlxbench.reports.sweepplots` draws it.

A benchmark belongs to a line when its extra_info carries `size` (the `sweep` profile writes it):
one line per workload, series (the variant without its size), axis and backend.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mlxbench.verdicts import distributions as dist

Key = tuple[str, str, str]  # workload, series, axis


@dataclass(frozen=True)
class Point:
    """One size of a line: median seconds per call, the interval its rounds span, peak memory."""

    value: int
    work: float
    median: float
    low: float
    high: float
    peak_bytes: int | None = None
    rounds: int = 0


@dataclass
class Line:
    workload: str
    series: str
    axis: str
    backend: str
    unit: str  # what `work` counts: flop, exp, adds
    points: list[Point] = field(default_factory=list)
    memory_kind: str = ""  # what peak_bytes are (mlxbench.backends.MemoryReading.kind), e.g. process_peak

    @property
    def key(self) -> Key:
        return (self.workload, self.series, self.axis)


@dataclass(frozen=True)
class Exponent:
    """The log-log slope of time against work: 1 is linear, below 1 fixed costs still dominate."""

    workload: str
    series: str
    axis: str
    backend: str
    slope: float | None
    low: float | None  # 95% interval of the slope (3 points or more)
    high: float | None
    points: int
    unit: str


@dataclass(frozen=True)
class Crossover:
    """Where backend `a` and backend `b` swap places along an axis, or why no such size was found.

    at, low, high: the size (interpolated on log-log) and the interval the rounds allow; `low_open`
    / `high_open`: the interval reaches the end of the measured range (the crossover could lie beyond).
    faster_before / faster_after: the faster backend below and above it (the same one, and at None,
    when the lines do not cross in range)."""

    workload: str
    series: str
    axis: str
    a: str
    b: str
    at: float | None
    low: float | None
    high: float | None
    low_open: bool
    high_open: bool
    faster_before: str | None
    faster_after: str | None
    seconds_at: float | None  # the interpolated time at the crossover (for marking plots)
    sizes: tuple[int, int] | None  # the range both lines were measured over
    note: str


def _interval(bench: dict[str, Any]) -> tuple[float, float, float, int]:
    """(median, low, high, rounds): the 2.5..97.5 percentiles of the per-round samples (their whole
    range for fewer than 40 rounds), else the stats' min and max."""
    st = bench["stats"]
    data = [float(v) for v in st.get("data") or [] if isinstance(v, (int, float)) and v > 0]
    if data:
        lo, hi = (min(data), max(data)) if len(data) < 40 else np.percentile(data, [2.5, 97.5])
        return float(np.median(data)), float(lo), float(hi), len(data)
    return float(st["median"]), float(st.get("min", st["median"])), float(st.get("max", st["median"])), 0


def lines(benchmarks: Iterable[dict[str, Any]]) -> list[Line]:
    """The sweep lines in a list of pytest-benchmark benchmark dicts; later duplicates of a point win."""
    found: dict[tuple[str, str, str, str], Line] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        size = info.get("size")
        if not isinstance(size, dict) or not isinstance(bench.get("stats"), dict):
            continue
        median, low, high, rounds = _interval(bench)
        if not (median > 0 and math.isfinite(median)):
            continue
        memory = info.get("peak_memory") or {}
        peak = memory.get("bytes")
        key = (info.get("workload", "?"), size["series"], size["axis"], info.get("backend", "?"))
        line = found.setdefault(key, Line(*key, unit=size.get("unit", "")))
        line.memory_kind = memory.get("kind") or line.memory_kind
        line.points = [p for p in line.points if p.value != size["value"]]
        line.points.append(Point(int(size["value"]), float(size["work"]), median, low, high, peak, rounds))
    for line in found.values():
        line.points.sort(key=lambda p: p.value)
    return sorted(found.values(), key=lambda ln: (*ln.key, ln.backend))


def lines_from_runs(runs: Sequence[Any]) -> list[Line]:
    """The sweep lines of saved runs (`mlxbench.runs.Run`), oldest first: a newer run's point replaces an older one."""
    return lines(b for run in runs for b in run.data.get("benchmarks") or [])


def exponent(line: Line) -> Exponent:
    pts = [p for p in line.points if p.work > 0]
    slope = low = high = None
    if len({p.work for p in pts}) >= 2:
        fit = dist.linregress(np.log([p.work for p in pts]), np.log([p.median for p in pts]))
        slope = float(fit.slope)
        if len(pts) >= 3:
            half = dist.t_ppf(0.975, len(pts) - 2) * float(fit.stderr)
            low, high = slope - half, slope + half
    return Exponent(*line.key, line.backend, slope, low, high, len(pts), line.unit)


def exponents(all_lines: Sequence[Line]) -> list[Exponent]:
    return [exponent(line) for line in all_lines]


def _zero(x: np.ndarray, c: np.ndarray, i: int) -> float:
    """Where the segment i..i+1 of the piecewise-linear curve c(x) crosses zero."""
    if c[i] == c[i + 1]:
        return float(x[i + 1])
    return float(x[i] + (x[i + 1] - x[i]) * c[i] / (c[i] - c[i + 1]))


def crossovers(a: Line, b: Line) -> list[Crossover]:
    """Every size at which `a` and `b` swap places (medians, interpolated on log-log), with the interval
    their rounds allow; one entry saying why when there is none."""
    pa, pb = {p.value: p for p in a.points}, {p.value: p for p in b.points}
    common = sorted(set(pa) & set(pb))
    base = dict(workload=a.workload, series=a.series, axis=a.axis, a=a.backend, b=b.backend)
    if len(common) < 2:
        note = f"{len(common)} size{'s' if len(common) != 1 else ''} measured on both: no line to compare"
        none = dict(at=None, low=None, high=None, low_open=False, high_open=False, seconds_at=None)
        return [Crossover(**base, **none, faster_before=None, faster_after=None, sizes=None, note=note)]
    x = np.log(common)
    d = np.array([math.log(pa[v].median / pb[v].median) for v in common])  # > 0: a slower
    lo = np.array([math.log(pa[v].low / pb[v].high) for v in common])  # the least a can be slower by
    hi = np.array([math.log(pa[v].high / pb[v].low) for v in common])  # the most
    sizes = (common[0], common[-1])
    out = []
    for i in range(len(common) - 1):
        if (d[i] > 0) == (d[i + 1] > 0):
            continue
        s = 1.0 if d[i] > 0 else -1.0  # the side of the curve before the crossover
        early, late = (lo, hi) if s > 0 else (hi, lo)
        j = max((j for j in range(i + 1) if s * early[j] > 0), default=None)
        k = min((k for k in range(i + 1, len(common)) if s * late[k] <= 0), default=None)
        at = _zero(x, d, i)
        t_a = math.exp(np.interp(at, x, np.log([pa[v].median for v in common])))
        before, after = (b.backend, a.backend) if s > 0 else (a.backend, b.backend)
        out.append(
            Crossover(
                **base,
                at=math.exp(at),
                low=math.exp(_zero(x, early, j)) if j is not None else float(common[0]),
                high=math.exp(_zero(x, late, k - 1)) if k is not None else float(common[-1]),
                low_open=j is None,
                high_open=k is None,
                faster_before=before,
                faster_after=after,
                seconds_at=t_a,
                sizes=sizes,
                note=f"{after} overtakes {before}",
            )
        )
    if len(out) > 1:  # the order flips back and forth: the lines lie within each other's spread there
        why = f"; the lines cross {len(out)} times between {size_text(common[0])} and {size_text(common[-1])}"
        out = [replace(c, note=c.note + why) for c in out]
    if out:
        return out
    faster = b.backend if d[0] > 0 else a.backend
    ratios = np.exp(np.abs(d))
    note = f"no crossover in range: {faster} faster at every size ({ratios.min():.2g}x .. {ratios.max():.2g}x)"
    none = dict(at=None, low=None, high=None, low_open=False, high_open=False, seconds_at=None)
    return [Crossover(**base, **none, faster_before=faster, faster_after=faster, sizes=sizes, note=note)]


def size_text(value: float) -> str:
    return f"{value:,.0f}"


def all_crossovers(all_lines: Sequence[Line]) -> list[Crossover]:
    """Crossovers for every workload, series and axis, and every pair of backends measured on it."""
    by_key: dict[Key, list[Line]] = {}
    for line in all_lines:
        by_key.setdefault(line.key, []).append(line)
    out = []
    for group in by_key.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                out.extend(crossovers(a, b))
    return out
