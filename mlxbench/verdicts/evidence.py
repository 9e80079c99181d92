"""Verdicts of A/B runs, and the smallest change each benchmark can see.

On a shared machine the rounds of one process are not independent draws of the machine: a fresh
process lands in another state (memory layout, core, frequency) and shifts every round by the same
amount. So the unit of evidence is a process (the processes design: each process median is one
sample, Welch t on their logarithms) or a pair of workers (the paired design, mlxbench.ab.paired).

Each design reduces a benchmark to an `Estimate` (log ratio B / A, standard error, degrees of
freedom); `judge` applies the one rule of mlxbench.verdicts.verdict to all of them at level alpha / m
(Bonferroni over the m benchmarks), so a verdict and its printed interval agree. A regression needs
B significantly slower with a slowdown past the threshold not ruled out: a slowdown the size of the
threshold is caught whenever the test has the power for it (its minimum detectable effect, stated
with every verdict, is at most the threshold); a rule on the point estimate alone (asv's factor)
would catch it only about half of the time. A benchmark that cannot see the threshold is
`inconclusive (can only see changes >= X%)`, never `unchanged`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mlxbench.timings import Timings
from mlxbench.verdicts.verdict import (
    ALPHA,
    DEFAULT_THRESHOLD,
    POWER,
    Result,
    interval_verdict,
    minimum_detectable_effect,
    usable,
)
from mlxbench.verdicts.words import interval, sees

MIN_PROCESSES = 3


@dataclass
class Estimate:
    """One benchmark's evidence, reduced to what every verdict needs: the log ratio B / A, its
    standard error and degrees of freedom (a t statistic), and what it was computed from."""

    d: float  # estimated log(B / A)
    se: float
    df: float
    a_median: float  # seconds
    b_median: float
    units: tuple[int, int]  # independent units per arm (processes, pairs of workers, saved runs)
    spread: float  # sd of one unit's log value (process-to-process, or pair-to-pair spread)
    method: str  # what the units are, in words


def welch(log_a: np.ndarray, log_b: np.ndarray) -> tuple[float, float, float]:
    """(difference of means, its standard error, Welch-Satterthwaite degrees of freedom)."""
    va, vb = log_a.var(ddof=1) / log_a.size, log_b.var(ddof=1) / log_b.size
    se = math.sqrt(va + vb)
    d = float(log_b.mean() - log_a.mean())
    if se == 0:
        return d, 0.0, float(log_a.size + log_b.size - 2)
    df = (va + vb) ** 2 / (va**2 / (log_a.size - 1) + vb**2 / (log_b.size - 1))
    return d, se, float(df)


def processes_needed(spread: float, effect: float, m: int, alpha: float = ALPHA, power: float = POWER) -> int:
    """K per arm for which a benchmark with process-to-process spread `spread` (sd of log medians)
    can see `effect` with `power`, at level alpha / m (Bonferroni over m benchmarks), K >= MIN_PROCESSES."""
    if spread <= 0:
        return MIN_PROCESSES
    for k in range(MIN_PROCESSES, 1000):
        se = spread * math.sqrt(2 / k)
        if minimum_detectable_effect(se, 2 * k - 2, alpha / max(m, 1), power) <= effect:
            return k
    return 1000


def welch_estimate(timings: Timings) -> Estimate | str:
    """Process-level evidence: K process medians per arm (each unit's median), Welch t on their logarithms; or
    why not."""
    # a zero, negative or NaN median cannot be a time: left out, so it counts as a missing process
    a, b = (usable(timings.medians(arm), positive=True)[0] for arm in ("A", "B"))
    la, lb = np.log(a), np.log(b)
    if la.size < MIN_PROCESSES or lb.size < MIN_PROCESSES:
        return f"need >= {MIN_PROCESSES} processes per arm (A {la.size}, B {lb.size})"
    d, se, df = welch(la, lb)
    spread = math.sqrt((la.var(ddof=1) + lb.var(ddof=1)) / 2)
    a_med, b_med = float(np.median(np.exp(la))), float(np.median(np.exp(lb)))
    return Estimate(d, se, df, a_med, b_med, (int(la.size), int(lb.size)), spread, "process medians, Welch t on logs")


def judge_ab(
    samples: Mapping[str, Timings],
    thresholds: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
) -> list[Result]:
    """Verdicts for every benchmark from its processes' medians, A's against B's, Bonferroni across all of them."""
    return judge({name: welch_estimate(timings) for name, timings in samples.items()}, thresholds, alpha)


def judge(
    estimates: Mapping[str, Estimate | str],
    thresholds: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
    family: int | None = None,
) -> list[Result]:
    """The one verdict rule. Each benchmark's interval of B / A is taken at level alpha / m (m: the
    benchmarks with evidence, or `family` when the caller knows the run holds more), so a verdict
    and its printed interval never disagree, and unchanged code reports any change (either way) in
    at most alpha of runs. An estimate given as a string is the reason there is none."""
    thresholds = thresholds or {}
    tested = {n: e for n, e in estimates.items() if isinstance(e, Estimate)}
    m = max(family or 0, len(tested), 1)
    out = []
    for name, est in estimates.items():
        threshold = thresholds.get(name, DEFAULT_THRESHOLD)
        if not isinstance(est, Estimate):
            nan = math.nan
            out.append(
                Result(
                    name, "inconclusive", nan, nan, nan, nan, threshold, nan, nan, [est], method="none", mde=math.inf
                )
            )
            continue
        verdict, f, why = interval_verdict(est.d, est.se, est.df, alpha / m, threshold)
        res = Result.judged(
            name,
            verdict,
            f,
            threshold,
            est.a_median,
            est.b_median,
            method=f"{est.method}, Bonferroni across {m} benchmark{'s' * (m != 1)}",
            p_adjusted=min(1.0, f["p_value"] * m),
            units=est.units,
            spread=est.spread,
        )
        res.reasons.append(
            f"{interval(f['ratio'], f['ci_low'], f['ci_high'])} from {est.units[0]} vs {est.units[1]} "
            f"({est.method}), p={f['p_value']:.2g} (x{m} = {res.p_adjusted:.2g}), sees changes {sees(f['mde'])}: {why}"
        )
        out.append(res)
    return out
