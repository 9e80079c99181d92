"""Verdicts from process-level evidence, and the smallest change each benchmark can see.

On a shared machine the rounds of one process are not independent draws of the machine: a fresh
process lands in another state (memory layout, core, frequency) and shifts every round by the same
amount. So the unit of evidence here is one process: its median over its rounds is one sample.

`judge_ab` compares K process medians of arm A with K of arm B, per benchmark:

- the effect is the ratio of geometric means (B / A) of the process medians, with a Welch t
  interval on their logarithms;
- the false-alarm rate is controlled across all benchmarks of the run with Holm's step-down method
  (family-wise error rate <= alpha): the more benchmarks, the stricter each test;
- a regression needs both that evidence and a size that matters: significantly slower, with the
  slowdown not shown to be smaller than the threshold (its simultaneous interval reaches past
  1 + threshold). So a slowdown the size of the threshold is caught whenever the test has the
  power for it (its minimum detectable effect is at most the threshold); a rule on the point
  estimate alone (ratio > 1 + threshold, asv's factor) would catch such a slowdown only about half
  of the time, since its estimate lands below the threshold as often as above. A significant
  change whose whole interval lies inside the threshold band is `unchanged` (real, but small);
- every verdict carries its minimum detectable effect: the change this test would catch with 95%
  power at the per-test level Holm starts from (alpha / m), from the observed spread and K. A
  benchmark that cannot see the threshold is `inconclusive (can only see changes >= X%)`, never
  `unchanged`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from mlxbench.verdict import DEFAULT_THRESHOLD, POWER, Verdict, minimum_detectable_effect, usable

ALPHA = 0.05  # family-wise: the chance that a run of unchanged code reports any regression at all
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


@dataclass
class ProcessVerdict:
    name: str
    verdict: Verdict
    ratio: float  # B / A (> 1: B slower)
    ci_low: float
    ci_high: float
    p_value: float  # t test, two-sided, on the log ratio
    p_adjusted: float  # Bonferroni over the run's benchmarks (significant <=> the interval excludes 1)
    mde: float  # smallest change (fraction) seen with 95% power at the per-test level alpha / m
    threshold: float
    a_median: float  # median over A's process medians (seconds)
    b_median: float
    processes: tuple[int, int]  # units per arm (processes, or pairs of workers)
    spread: float  # sd of one unit's log value
    reasons: list[str] = field(default_factory=list)
    method: str = "process medians, Welch t on logs, Bonferroni across benchmarks"

    @property
    def regressed(self) -> bool:
        return self.verdict == "regressed"

    def as_dict(self) -> dict:
        return asdict(self)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    out = np.full(p.shape, math.nan)
    m = valid.size
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


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
    can see `effect` with `power`, at level alpha / m (the Holm start), K >= MIN_PROCESSES."""
    if spread <= 0:
        return MIN_PROCESSES
    for k in range(MIN_PROCESSES, 1000):
        se = spread * math.sqrt(2 / k)
        if minimum_detectable_effect(se, 2 * k - 2, alpha / max(m, 1), power) <= effect:
            return k
    return 1000


def welch_estimate(a: Sequence[float], b: Sequence[float]) -> Estimate | str:
    """Process-level evidence: K process medians per arm, Welch t on their logarithms; or why not."""
    # a zero, negative or NaN median cannot be a time: left out, so it counts as a missing process
    la, lb = np.log(usable(a, positive=True)[0]), np.log(usable(b, positive=True)[0])
    if la.size < MIN_PROCESSES or lb.size < MIN_PROCESSES:
        return f"need >= {MIN_PROCESSES} processes per arm (A {la.size}, B {lb.size})"
    d, se, df = welch(la, lb)
    spread = math.sqrt((la.var(ddof=1) + lb.var(ddof=1)) / 2)
    a_med, b_med = float(np.median(np.exp(la))), float(np.median(np.exp(lb)))
    return Estimate(d, se, df, a_med, b_med, (int(la.size), int(lb.size)), spread, "process medians, Welch t on logs")


def judge_ab(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    thresholds: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
) -> list[ProcessVerdict]:
    """Verdicts for every benchmark from its (A, B) process medians, Bonferroni across all of them."""
    return judge({name: welch_estimate(a, b) for name, (a, b) in samples.items()}, thresholds, alpha)


def judge(
    estimates: Mapping[str, Estimate | str],
    thresholds: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
    family: int | None = None,
) -> list[ProcessVerdict]:
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
            out.append(
                ProcessVerdict(
                    name, "inconclusive", math.nan, math.nan, math.nan, math.nan, math.nan, math.inf, threshold,
                    math.nan, math.nan, (0, 0), math.nan, [est],
                )
            )  # fmt: skip
            continue
        d, se, df = est.d, est.se, est.df
        p = 1.0 if se == 0 and d == 0 else (0.0 if se == 0 else float(2 * stats.t.sf(abs(d) / se, df)))
        q = float(stats.t.ppf(1 - alpha / (2 * m), df)) if se else 0.0
        mde = minimum_detectable_effect(se, df, alpha / m)
        ratio, lo, hi = math.exp(d), math.exp(d - q * se), math.exp(d + q * se)
        res = ProcessVerdict(
            name, "inconclusive", ratio, lo, hi, p, min(1.0, p * m), mde, threshold, est.a_median, est.b_median,
            est.units, est.spread, method=f"{est.method}, Bonferroni across {m} benchmarks",
        )  # fmt: skip
        res.verdict, why = classify(lo, hi, mde, threshold)
        res.reasons.append(
            f"x{ratio:.3f} [{lo:.3f}, {hi:.3f}] from {est.units[0]} vs {est.units[1]} ({est.method}), p={p:.2g} "
            f"(x{m} = {res.p_adjusted:.2g}), sees changes >= {mde:.1%}: {why}"
        )
        out.append(res)
    return out


def classify(lo: float, hi: float, mde: float, threshold: float) -> tuple[Verdict, str]:
    """The verdict and why, from the interval [lo, hi] of B / A at the family-wise level alone.

    regressed: B is slower (lo > 1) and a slowdown past the threshold is not ruled out (hi > 1 + t);
    improved mirrors it; unchanged: the whole interval lies inside the threshold band; else inconclusive."""
    up, down = 1 + threshold, 1 / (1 + threshold)
    if lo > 1 and hi > up:
        size = "slower by more than" if lo > up else "slower; a slowdown of at least"
        tail = "" if lo > up else " cannot be ruled out"
        return "regressed", f"{size} the {threshold:.0%} threshold{tail}"
    if hi < 1 and lo < down:
        size = "faster by more than" if hi < down else "faster; a speed-up of at least"
        tail = "" if hi < down else " cannot be ruled out"
        return "improved", f"{size} the {threshold:.0%} threshold{tail}"
    if down <= lo and hi <= up:
        if lo > 1 or hi < 1:
            return "unchanged", f"a real change of {(lo * hi) ** 0.5 - 1:+.1%}, inside the {threshold:.0%} threshold"
        return "unchanged", f"no change of {threshold:.0%} or more (the interval lies inside the threshold band)"
    if mde > threshold:
        return "inconclusive", f"can only see changes >= {mde:.0%}, more than the {threshold:.0%} threshold"
    return "inconclusive", f"the interval reaches past the {threshold:.0%} threshold without a significant change"
