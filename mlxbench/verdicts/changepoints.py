"""Change points in a machine's saved runs: where a benchmark's median moved, and what changed then.

Each benchmark's log medians over the saved runs (one process each, oldest first) are segmented by
`ruptures` (PELT, least-squares cost). The penalty scales with the series' own run-to-run noise
(a robust estimate from successive differences, floored at 1%), and a change is kept only when the
segments' medians differ by at least MIN_STEP: on synthetic series with 5% lognormal noise and 6-30
runs, 1% of pure-noise series show a change and 9 of 10 twenty-percent steps are found within a run.
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


def detect(log_medians: Sequence[float]) -> list[int]:
    """Indices where a new segment starts (a change between i-1 and i)."""
    import ruptures as rpt

    x = np.asarray(log_medians, dtype=float)
    n = x.size
    if n < MIN_RUNS:
        return []
    noise = series_noise(x)
    edges = (
        rpt.Pelt(model="l2", min_size=MIN_SEGMENT, jump=1)
        .fit(x.reshape(-1, 1))
        .predict(pen=PENALTY * noise**2 * math.log(n))
    )
    edges = [0, *edges]
    found = []
    for i in range(1, len(edges) - 1):
        k = edges[i]
        before, after = x[edges[i - 1] : k].mean(), x[k : edges[i + 1]].mean()
        # the runs on either side belong to their own level: a lone outlier at the end is not a new level
        settled = abs(x[k] - after) < abs(x[k] - before) and abs(x[k - 1] - before) < abs(x[k - 1] - after)
        if settled and abs(after - before) >= math.log1p(MIN_STEP):
            found.append(k)
    return found


def _versions(run: Run) -> dict[str, str]:
    return {str(k): str(v) for k, v in (run.facts.get("versions") or {}).items()}


def title(b: dict) -> str:
    info = b.get("extra_info") or {}
    if "workload" not in info:
        return str(b.get("fullname"))
    return f"{info['workload']}/{info.get('backend', '?')} {info.get('variant', '')}".rstrip()


def find_changes(runs: Sequence[Run]) -> list[Change]:
    """Change points of every benchmark of the last run over `runs` (oldest first)."""
    if len(runs) < MIN_RUNS:
        return []
    changes = []
    for name, bench in runs[-1].benchmarks.items():
        points = []  # (run index, log median)
        for i, run in enumerate(runs):
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
