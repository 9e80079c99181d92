"""Regression verdicts that don't cry wolf.

A benchmark is `regressed` only when both hold: the slowdown is statistically evident (Mann-Whitney
U on the per-round samples, and a bootstrap confidence interval of the median ratio that excludes
1) and it is larger than a threshold. `improved` mirrors it. `unchanged` means the whole interval
lies inside the threshold band: we are confident any change is small. Everything else is
`inconclusive`: too few rounds, or an interval too wide to say. (asv and pyperf do the same:
significance plus a minimum factor.)

Run-to-run shifts on a shared machine are larger than the spread inside one run, so once three or
more saved runs of a benchmark exist, `compare_to_history` judges the current run's median against
the spread of those runs' medians instead of trusting one run's rounds to be independent.
Accuracy is gated too: a metric worse than the baseline's by more than its tolerance is a
regression even when time improved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

Verdict = Literal["regressed", "improved", "unchanged", "inconclusive"]
VERDICT_ORDER = ("regressed", "improved", "inconclusive", "unchanged")  # how every listing sorts them

DEFAULT_THRESHOLD = 0.10  # a 10% change in median is what users ask about
ALPHA = 0.05  # Mann-Whitney significance level (5 rounds a side can reach p = 0.008)
CONFIDENCE = 0.99  # bootstrap interval of the median ratio
HISTORY_ALPHA = 0.02  # run-level test: two-sided, so ~1% of unchanged runs land past either tail
POWER = 0.95  # of the minimum detectable effect each verdict states
MIN_ROUNDS = 5  # with fewer, Mann-Whitney cannot reach significance: 3 vs 3 gives p >= 0.1


@dataclass
class Result:
    name: str
    verdict: Verdict
    ratio: float  # current median / baseline median (> 1: slower)
    ci_low: float
    ci_high: float
    p_value: float
    threshold: float  # the effect size this comparison needed
    baseline_median: float
    current_median: float
    reasons: list[str] = field(default_factory=list)
    accuracy: list[str] = field(default_factory=list)  # accuracy regressions, if any
    method: str = "rounds"  # "rounds": of one process (never gates); "history": saved runs, one per process
    mde: float = math.nan  # smallest change (fraction) this evidence sees with 95% power
    indication: str | None = None  # what rounds-only evidence pointed to, when it may not decide

    @property
    def regressed(self) -> bool:
        return self.verdict == "regressed"

    def as_dict(self) -> dict:
        return asdict(self)


def verdict_order(v: Result) -> tuple[int, int, str]:
    """Regressed, improved, inconclusive (those whose rounds point to a regression first), unchanged."""
    pointed = {"regressed": 0, "improved": 1}.get(v.indication or "", 2)
    return VERDICT_ORDER.index(v.verdict), pointed, v.name


def usable(samples: Sequence[float], *, positive: bool = False) -> tuple[np.ndarray, int]:
    """The finite, non-negative (or positive) samples, and how many others were dropped."""
    values = np.asarray(samples, dtype=float).ravel()
    keep = np.isfinite(values) & ((values > 0) if positive else (values >= 0))
    return values[keep], int(values.size - keep.sum())


def dropped_note(base_dropped: int, cur_dropped: int) -> list[str]:
    if not base_dropped and not cur_dropped:
        return []
    return [f"ignored unusable samples (NaN, infinite or negative): baseline {base_dropped}, current {cur_dropped}"]


def median_ratio_ci(base: np.ndarray, cur: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    def statistic(b, c, axis=-1):
        return np.median(c, axis=axis) / np.median(b, axis=axis)

    res = stats.bootstrap(
        (base, cur),
        statistic,
        n_resamples=2000,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def threshold_problem(threshold: float | None) -> str | None:
    """Why a user-given threshold is unusable, or None."""
    if threshold is not None and not 0 < threshold <= 1:
        return (
            f"threshold {threshold} is out of range; give a fraction between 0 and 1, such as 0.1 for 10% "
            f"({threshold} would mean {threshold:.0%})"
        )
    return None


def classify(evident_up: bool, evident_down: bool, ratio: float, lo: float, hi: float, threshold: float) -> Verdict:
    """Evidence plus size: regressed/improved need both; unchanged needs the interval inside the band."""
    up, down = 1.0 + threshold, 1.0 / (1.0 + threshold)
    if evident_up and ratio > up:
        return "regressed"
    if evident_down and ratio < down:
        return "improved"
    if down <= lo and hi <= up:
        return "unchanged"
    return "inconclusive"


def compare_samples(
    name: str,
    base: Sequence[float],
    cur: Sequence[float],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = ALPHA,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Result:
    (b, b_dropped), (c, c_dropped) = usable(base), usable(cur)
    bm, cm = float(np.median(b)) if b.size else math.nan, float(np.median(c)) if c.size else math.nan
    ratio = cm / bm if b.size and c.size and bm > 0 else math.nan
    if b.size < MIN_ROUNDS or c.size < MIN_ROUNDS or not bm > 0:
        why = f"need >= {MIN_ROUNDS} rounds on both sides (baseline {b.size}, current {c.size})"
        if b.size >= MIN_ROUNDS and c.size >= MIN_ROUNDS:
            why = "the baseline median is 0: no ratio to judge"
        return Result(
            name,
            "inconclusive",
            ratio,
            math.nan,
            math.nan,
            math.nan,
            threshold,
            bm,
            cm,
            [why, *dropped_note(b_dropped, c_dropped)],
        )
    lo, hi = median_ratio_ci(b, c, confidence, seed)
    p = float(stats.mannwhitneyu(b, c, alternative="two-sided").pvalue)
    significant = p < alpha
    verdict = classify(significant and lo > 1.0, significant and hi < 1.0, ratio, lo, hi, threshold)
    reasons = [
        f"median x{ratio:.3f} [{lo:.3f}, {hi:.3f}] ({confidence:.0%} CI), Mann-Whitney p={p:.2g}, "
        f"threshold {threshold:.0%}",
        *dropped_note(b_dropped, c_dropped),
    ]
    return Result(name, verdict, ratio, lo, hi, p, threshold, bm, cm, reasons)


def compare_to_history(
    name: str,
    history: Sequence[Sequence[float]],
    cur: Sequence[float],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = HISTORY_ALPHA,
) -> Result:
    """Judge the current run against the run-to-run spread that saved runs show.

    On a shared machine a whole run shifts (other tenants, frequency, memory placement) by more
    than the rounds inside one run vary, so samples from one run are not independent draws of the
    machine's behaviour. With K >= 3 saved runs, each run's median is one draw: the current run's
    log median is tested against the K historical log medians with a Student t prediction interval
    (K - 1 degrees of freedom); its spread is floored by the current median's own sampling error.
    A regression needs p < alpha *and* a median ratio above 1 + threshold.
    """
    medians = [float(np.median(r)) for r in (usable(h, positive=True)[0] for h in history) if r.size]
    logs = np.log(medians)
    c, _ = usable(cur, positive=True)
    k = logs.size
    if k < 3 or c.size < MIN_ROUNDS:
        return compare_samples(name, history[-1] if history else [], cur, threshold=threshold)
    mean = float(logs.mean())
    spread = float(logs.std(ddof=1))
    own = float(np.std(np.log(c), ddof=1) / np.sqrt(c.size)) * 1.2533  # standard error of a median
    s = max(spread, own, 1e-6) * math.sqrt(1 + 1 / k)
    d = float(np.log(np.median(c))) - mean
    p = float(2 * stats.t.sf(abs(d) / s, df=k - 1))
    q = float(stats.t.ppf(1 - alpha / 2, df=k - 1))
    ratio, lo, hi = math.exp(d), math.exp(d - q * s), math.exp(d + q * s)
    verdict = classify(p < alpha, p < alpha, ratio, lo, hi, threshold)
    mde = minimum_detectable_effect(s, k - 1, alpha)
    reasons = [
        f"median x{ratio:.3f} of the mean of {k} saved runs [{lo:.3f}, {hi:.3f}] ({1 - alpha:.0%} prediction "
        f"interval, run-to-run spread {spread:.1%}), t-test p={p:.2g}, threshold {threshold:.0%}, "
        f"sees changes >= {mde:.0%}"
    ]
    if verdict in ("unchanged", "inconclusive") and mde > threshold:
        verdict = "inconclusive"
        reasons.append(f"can only see changes >= {mde:.0%} with {k} saved runs (threshold {threshold:.0%})")
    res = Result(name, verdict, ratio, lo, hi, p, threshold, math.exp(mean), float(np.median(c)), reasons)
    res.method, res.mde = "history", mde
    return res


def minimum_detectable_effect(se: float, df: float, alpha: float, power: float = POWER) -> float:
    """Smallest slowdown (fraction) a two-sided level-`alpha` t test on log times sees with probability
    `power`, for a standard error `se` of the log difference with `df` degrees of freedom."""
    if se == 0:
        return 0.0
    return math.exp((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se) - 1


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
