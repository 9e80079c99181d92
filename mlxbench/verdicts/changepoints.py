"""Change points in a machine's saved runs: where a benchmark's median moved, and what changed then.

Each benchmark's log medians over the saved runs (one process each, oldest first) are segmented by least
squares with a penalty per segment: the optimum `ruptures`' PELT (model "l2", jump 1) searches for, computed
exactly by optimal partitioning on cumulative sums (`segment`: one vectorized step per run, about 50 ms for
500 runs, where ruptures took over a second per benchmark at 300; on 2,000 random series at this module's
penalty both cut the same places, and where ruptures' pruning with a minimum segment length misses the
optimum at tiny penalties, this finds it). The penalty scales with the
series' own run-to-run noise (a robust estimate from successive differences, floored at 1%), and a change
is kept only when the segments' medians differ by at least MIN_STEP: on synthetic series with 5% lognormal
noise and 6-30 runs, 1% of pure-noise series show a change and 9 of 10 twenty-percent steps are found
within a run.

The search is bounded: it reads the latest SEARCH_RUNS runs given, never more (its cost grows with the
square of the runs searched); `searched` says how many a report's search read, and the report says so
when that is fewer than it shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlxbench.runs import Run

MIN_RUNS = 6  # fewer saved runs cannot tell a step from noise
MIN_SEGMENT = 2  # runs on each side of a change
PENALTY = 5.0  # x noise variance x log(n): calibrated on synthetic series (see the module docstring)
NOISE_FLOOR = 0.01  # 1%: a near-constant series does not make every wiggle a change
MIN_STEP = 0.10  # smallest change in median (fraction) reported
SEARCH_RUNS = 500  # the latest runs searched for change points: about 0.5 s for 74 benchmarks on a 2-core VM


@dataclass
class Change:
    name: str  # benchmark fullname
    title: str  # "linreg/mlx-gpu eager-step"
    workload: str
    index: int  # the first run after the change (index into the runs given)
    run: str  # its label
    when: str  # its datetime, as the run says
    ratio: float  # median after / median before (geometric means of the segments)
    versions: list[str]  # framework versions that changed between the two runs, "mlx 0.32.3 -> 0.32.4"
    commits: tuple[str, str]  # commit ids of the runs on either side

    def sentence(self) -> str:
        how = f"{self.ratio - 1:.0%} slower" if self.ratio > 1 else f"{1 / self.ratio - 1:.0%} faster"
        if self.versions:
            why = "when " + ", ".join(v.replace(" ", " went ", 1) for v in self.versions)
        else:
            why = f"with no framework version change (commit {self.commits[0][:8]} -> {self.commits[1][:8]})"
        return f"{self.title} got {how} at run {self.run} {why}"


def series_noise(log_medians: Sequence[float]) -> float:
    """The run-to-run noise of a series of log medians (sd of one run), robust to its steps: from the median
    absolute deviation of successive differences, floored at NOISE_FLOOR."""
    d = np.diff(np.asarray(log_medians, dtype=float))
    if d.size == 0:
        return NOISE_FLOOR
    return max(float(np.median(np.abs(d - np.median(d)))) * 1.4826 / math.sqrt(2), NOISE_FLOOR)


def segment(x: np.ndarray, penalty: float, min_size: int = MIN_SEGMENT) -> list[int]:
    """The ends of the segments (the last one len(x)) that minimize the sum of squared deviations from each
    segment's mean plus `penalty` per segment, every segment at least `min_size` long: the exact optimum that
    `ruptures.Pelt(model="l2", min_size=min_size, jump=1).fit(x).predict(pen=penalty)` searches for (ties go
    to the earliest start, as there). O(n^2) arithmetic in n vectorized steps."""
    n = x.size
    centred = x - x.mean()  # cumulative sums of small numbers: no cancellation in the segment costs
    s1 = np.concatenate(([0.0], np.cumsum(centred)))
    s2 = np.concatenate(([0.0], np.cumsum(centred * centred)))
    best = np.full(n + 1, np.inf)  # best[b]: the least cost of x[:b] cut into segments of min_size or more
    best[0] = 0.0
    start = np.zeros(n + 1, dtype=int)  # where the last segment of that best cut starts
    for b in range(min_size, n + 1):
        t = np.arange(b - min_size + 1)
        cost = (s2[b] - s2[t]) - (s1[b] - s1[t]) ** 2 / (b - t)
        total = best[t] + cost + penalty
        k = int(np.argmin(total))
        best[b], start[b] = total[k], k
    ends, b = [], n
    while b > 0:
        ends.append(b)
        b = int(start[b])
    return ends[::-1]


def detect(log_medians: Sequence[float]) -> list[int]:
    """Indices where a new segment starts (a change between i-1 and i)."""
    x = np.asarray(log_medians, dtype=float)
    n = x.size
    if n < MIN_RUNS:
        return []
    noise = series_noise(x)
    edges = [0, *segment(x, PENALTY * noise**2 * math.log(n))]
    found = []
    for i in range(1, len(edges) - 1):
        k = edges[i]
        before, after = x[edges[i - 1] : k].mean(), x[k : edges[i + 1]].mean()
        # the runs on either side belong to their own level: a lone outlier at the end is not a new level
        settled = abs(x[k] - after) < abs(x[k] - before) and abs(x[k - 1] - before) < abs(x[k - 1] - after)
        if settled and abs(after - before) >= math.log1p(MIN_STEP):
            found.append(k)
    return found


def searched(runs: Sequence[Run]) -> int:
    """How many of `runs` (the latest) the change-point search reads."""
    return min(len(runs), SEARCH_RUNS)


def _versions(run: Run) -> dict[str, str]:
    return {str(k): str(v) for k, v in (run.facts.get("versions") or {}).items()}


def title(b: dict) -> str:
    info = b.get("extra_info") or {}
    if "workload" not in info:
        return str(b.get("fullname"))
    return f"{info['workload']}/{info.get('backend', '?')} {info.get('variant', '')}".rstrip()


def find_changes(runs: Sequence[Run]) -> list[Change]:
    """Change points of every benchmark of the last run over the latest SEARCH_RUNS of `runs` (oldest
    first); each change's index is into `runs`."""
    skipped = len(runs) - searched(runs)
    if len(runs) - skipped < MIN_RUNS:
        return []
    changes = []
    for name, bench in runs[-1].benchmarks.items():
        points = []  # (run index, log median)
        for i, run in enumerate(runs[skipped:], start=skipped):
            median = ((run.benchmarks.get(name) or {}).get("stats") or {}).get("median")
            if isinstance(median, (int, float)) and math.isfinite(median) and median > 0:
                points.append((i, math.log(median)))
        logs = [p[1] for p in points]
        cuts = detect(logs)
        bounds = [0, *cuts, len(logs)]
        for j, k in enumerate(cuts):
            before, after = runs[points[k - 1][0]], runs[points[k][0]]
            ratio = math.exp(float(np.mean(logs[k : bounds[j + 2]])) - float(np.mean(logs[bounds[j] : k])))
            old, new = _versions(before), _versions(after)
            changes.append(
                Change(
                    name=name,
                    title=title(bench),
                    workload=str((bench.get("extra_info") or {}).get("workload", "?")),
                    index=points[k][0],
                    run=after.label[:4] if after.label[:4].isdigit() else after.label,
                    when=str(after.data.get("datetime", "?")),
                    ratio=ratio,
                    versions=[
                        f"{d} {old.get(d)} -> {new.get(d)}" for d in sorted({*old, *new}) if old.get(d) != new.get(d)
                    ],
                    commits=(_commit(before), _commit(after)),
                )
            )
    return changes


def _commit(run: Run) -> str:
    return str((run.data.get("commit_info") or {}).get("id", "?"))
