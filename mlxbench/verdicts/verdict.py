"""The one verdict rule, and the verdict type every path reports.

Every path (the in-pytest `--regression-gate`, the `--benchmark-compare` summary, `mlxbench compare`,
`mlxbench report`, `mlxbench ab`) reduces its evidence to one estimate per benchmark: the log ratio
current / baseline (or B / A), its standard error and degrees of freedom. `interval_verdict` turns it
into an interval at the per-test level alpha / m (m: the benchmarks of the run, Bonferroni), so a
verdict and its printed interval never disagree, and a run of unchanged code reports any change,
either way, in at most alpha of runs:

- `regressed`: slower (the interval lies above 1) and a slowdown past the threshold is not ruled out;
- `improved` mirrors it;
- `unchanged`: the whole interval lies inside the threshold band;
- `inconclusive`: anything else (with the smallest change the evidence could see, at 95% power).

Evidence is processes, never the rounds of one process: saved runs (one process each; from
MIN_HISTORY of them on) or an A/B run (mlxbench.verdicts.evidence, mlxbench.ab.paired). Rounds of one process
share its state and cannot tell a slower program from a process that landed badly, so they give no
verdict. Accuracy is gated too: a metric worse than the baseline's by more than its tolerance is a
regression even when time improved (it needs no timing evidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np

from mlxbench.verdicts import distributions as dist
from mlxbench.verdicts.words import VERDICT_ORDER, Verdict, sees

DEFAULT_THRESHOLD = 0.10  # a 10% change in median is what users ask about
ALPHA = 0.05  # family-wise: the chance that a run of unchanged code reports any change at all
POWER = 0.95  # of the minimum detectable effect each verdict states
MIN_HISTORY = 3  # saved runs of a profile before a verdict rests on them (2 degrees of freedom)


@dataclass
class Result:
    name: str
    verdict: Verdict
    ratio: float  # current median / baseline median, or B / A (> 1: slower)
    ci_low: float
    ci_high: float
    p_value: float
    threshold: float  # the effect size this comparison needed
    baseline_median: float  # seconds (arm A's in an A/B)
    current_median: float  # seconds (arm B's in an A/B)
    reasons: list[str] = field(default_factory=list)
    accuracy: list[str] = field(default_factory=list)  # accuracy regressions, if any
    method: str = "history"  # "history": saved runs, one process each; "accuracy": a metric alone
    mde: float = math.nan  # smallest change (fraction) this evidence sees with 95% power
    p_adjusted: float = math.nan  # p times the benchmarks of the run (Bonferroni): significant below alpha
    units: tuple[int, int] = (0, 0)  # independent units on each side: saved runs, processes, pairs of workers
    spread: float = math.nan  # sd of one unit's log value (run-to-run, process-to-process, pair-to-pair)

    @classmethod
    def judged(
        cls,
        name: str,
        verdict: Verdict,
        figures: Mapping[str, float],
        threshold: float,
        before: float,
        after: float,
        **facts: Any,
    ) -> Result:
        """A verdict with the figures `interval_verdict` gave (ratio, interval, p, smallest change seen)."""
        return cls(
            name,
            verdict,
            figures["ratio"],
            figures["ci_low"],
            figures["ci_high"],
            figures["p_value"],
            threshold,
            before,
            after,
            mde=figures["mde"],
            **facts,
        )

    @property
    def regressed(self) -> bool:
        return self.verdict == "regressed"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Result:
        """A verdict as `as_dict` wrote it (verdicts.json, a run's extra_info), read back: a number saved as null
        (NaN) reads as NaN, a field written before it existed as its default."""
        known = {f.name: f for f in fields(cls)}
        given = {k: v for k, v in doc.items() if k in known}
        for name, f in known.items():
            if f.type == "float" and (name in given or f.default is MISSING):
                value = given.get(name)
                given[name] = (
                    float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
                )
        if "units" in given:
            given["units"] = tuple(int(u) for u in given["units"] or (0, 0))
        for name in ("reasons", "accuracy"):
            if name in given:
                given[name] = [str(x) for x in given[name] or []]
        return cls(**given)


def verdict_order(v: Any) -> tuple[int, str]:
    """Regressed, improved, inconclusive, unchanged; by name within each."""
    return VERDICT_ORDER.index(v.verdict), v.name


def usable(samples: Sequence[float], *, positive: bool = False) -> tuple[np.ndarray, int]:
    """The finite, non-negative (or positive) samples, and how many others were dropped."""
    values = np.asarray(samples, dtype=float).ravel()
    keep = np.isfinite(values) & ((values > 0) if positive else (values >= 0))
    return values[keep], int(values.size - keep.sum())


def threshold_problem(threshold: float | None) -> str | None:
    """Why a user-given threshold is unusable, or None."""
    if threshold is not None and not 0 < threshold <= 1:
        return (
            f"threshold {threshold} is out of range; give a fraction between 0 and 1, such as 0.1 for 10% "
            f"({threshold} would mean {threshold:.0%})"
        )
    return None


def interval_verdict(
    d: float, se: float, df: float, level: float, threshold: float, floor: float = 0.0
) -> tuple[Verdict, dict, str]:
    """The verdict of an estimate `d` of log(new / old) with standard error `se` on `df` degrees of
    freedom, its interval taken at the per-test `level` (alpha / m); the figures; and why in words.
    `floor`: a critical value the interval's half-width (in standard errors) is never below (the saved runs'
    own calibration, mlxbench.verdicts.history); the interval and the smallest change seen follow it."""
    p = 1.0 if se == 0 and d == 0 else (0.0 if se == 0 else 2 * dist.t_sf(abs(d) / se, df))
    q = max(dist.t_ppf(1 - level / 2, df), floor) if se else 0.0
    mde = minimum_detectable_effect(se, df, level, floor=floor)
    ratio, lo, hi = exp(d), exp(d - q * se), exp(d + q * se)
    figures = {"ratio": ratio, "ci_low": lo, "ci_high": hi, "p_value": p, "mde": mde}
    up, down = 1 + threshold, 1 / (1 + threshold)
    if lo > 1 and hi > up:
        size = "slower by more than" if lo > up else "slower; a slowdown of at least"
        tail = "" if lo > up else " cannot be ruled out"
        return "regressed", figures, f"{size} the {threshold:.0%} threshold{tail}"
    if hi < 1 and lo < down:
        size = "faster by more than" if hi < down else "faster; a speed-up of at least"
        tail = "" if hi < down else " cannot be ruled out"
        return "improved", figures, f"{size} the {threshold:.0%} threshold{tail}"
    if down <= lo and hi <= up:
        if lo > 1 or hi < 1:
            return "unchanged", figures, f"a real change of {ratio - 1:+.1%}, inside the {threshold:.0%} threshold"
        return "unchanged", figures, f"no change of {threshold:.0%} or more (the interval lies inside the band)"
    if mde > threshold:
        return "inconclusive", figures, f"can only see changes {sees(mde)}, more than the {threshold:.0%} threshold"
    return "inconclusive", figures, f"the interval reaches past the {threshold:.0%} threshold either way"


def exp(x: float) -> float:
    """e**x, infinite past what a float holds (an interval on 2 degrees of freedom at alpha / 67 can reach it)."""
    return math.exp(x) if x < 700 else math.inf


def minimum_detectable_effect(se: float, df: float, alpha: float, power: float = POWER, floor: float = 0.0) -> float:
    """Smallest slowdown (fraction) a two-sided level-`alpha` t test on log times sees with probability
    `power`, for a standard error `se` of the log difference with `df` degrees of freedom (its critical value
    at least `floor`)."""
    if se == 0:
        return 0.0
    return exp((max(dist.t_ppf(1 - alpha / 2, df), floor) + dist.t_ppf(power, df)) * se) - 1


def accuracy_regressions(base_info: Mapping, cur_info: Mapping) -> list[str]:
    """Metrics that got worse than the baseline's by more than their tolerance.

    A gate of kind "max" (lower is better) or "min" (higher is better) says which way is worse; the
    tolerance is the gate's own `tolerance` if given, else 10% of the baseline's distance to the
    limit plus 0.1% of the baseline value: a 1-point accuracy drop at 0.965 (limit 0.95) counts,
    float noise in the last digits does not.
    """
    problems = []
    base_metrics = base_info.get("metrics") or {}
    cur_metrics = cur_info.get("metrics") or {}
    for gate in cur_info.get("gates") or []:
        m, kind = gate.get("metric"), gate.get("kind")
        old, new, limit = _finite(base_metrics.get(m)), _finite(cur_metrics.get(m)), _finite(gate.get("limit"))
        if old is None or limit is None or kind not in ("max", "min") or m not in cur_metrics:
            continue  # nothing to compare with
        if new is None:  # NaN (saved as null): the metric no longer means anything
            problems.append(f"{m} went from {old:.6g} to {cur_metrics[m]} (not a finite number)")
            continue
        tol = _finite(gate.get("tolerance"))
        if tol is None:
            tol = 0.1 * abs(limit - old) + 1e-3 * abs(old)
        worse = new - old if kind == "max" else old - new
        if worse > tol:
            problems.append(f"{m} went from {old:.6g} to {new:.6g} (tolerance {tol:.3g})")
    return problems


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def median_ci(samples: Sequence[float], median: float) -> tuple[float, float]:
    """A distribution-free 95% interval of the median (order statistics at the binomial quantiles); with
    fewer than 6 rounds, their min and max. Time and memory grow with the samples (one partial sort),
    so a run of millions of rounds is reported as fast as any.

    NaN, infinite and negative samples are left out; with none left, the interval is the median itself."""
    data = np.asarray(samples, dtype=float).ravel()
    data = data[np.isfinite(data) & (data >= 0)]
    if data.size < 6:
        return (float(data.min()), float(data.max())) if data.size else (median, median)
    n = data.size
    lo = max(int(dist.binom_ppf(0.025, n, 0.5)) - 1, 0)  # 0-based ranks of the interval's ends
    hi = min(n - 1 - lo, n - 1)
    part = np.partition(data, (lo, hi))
    return float(part[lo]), float(part[hi])
