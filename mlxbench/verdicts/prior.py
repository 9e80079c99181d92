"""A spread shared by the benchmarks measured side by side: empirical Bayes moderation of their variances.

Each benchmark's own spread rests on few units (pairs of workers in an A/B, saved runs in a machine's
history: 2 degrees of freedom from 3 runs), and a t interval on 2 degrees of freedom at the Bonferroni
level of a run of 67 benchmarks is useless (t is about 40). The benchmarks of one run share the machine,
so their spreads share a scale: Smyth's moment estimator (limma's `squeezeVar`/`fitFDist`, Smyth 2004)
fits a prior (a variance and its weight `df` in degrees of freedom) to the benchmarks' variances, from how
much they differ beyond what their own degrees of freedom explain. Moderating a benchmark's variance adds
the prior's degrees of freedom; where the spreads differ a lot the weight is small and each benchmark keeps
its own. Callers never let a moderated spread fall below the benchmark's own (`Prior.moderate_up`).

A benchmark far noisier than the rest is not of the prior's kind, and keeping its own variance is not enough:
given the prior's degrees of freedom too, its t interval rests on more evidence than its few units hold
(simulated group-sequential A/As of 17 benchmarks of 3% and 3 of 20-30% gave any false verdict in 5.0-7.0% of
runs, all from the noisy three; docs/verdicts.md). So each benchmark gets its own weight, as the robust fit of
Phipson, Lee, Majewski, Alexander and Smyth (2016, "Robust hyperparameter estimation protects against
hypervariable genes and improves power to detect differential expression"; limma's `fitFDistRobustly`) gives
it: the prior's weight, shrunk towards an outlier's by the chance that the benchmark's variance is an outlier
(its tail probability under the fitted F distribution against its rank's empirical tail probability), kept
monotone in the tail probability (`Prior.weight`). The prior itself stays the moment fit: limma's winsorized
refit of it, measured on the same simulations, raised the false verdicts (docs/verdicts.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlxbench.verdicts import distributions as dist


def trigamma_inverse(x: float) -> float:
    """y with trigamma(y) = x (Newton's method, as limma's trigammaInverse)."""
    if x > 1e7:
        return 1 / math.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(50):
        tri = float(dist.polygamma(1, y))
        step = tri * (1 - tri / x) / float(dist.polygamma(2, y))
        y += step
        if -step / y < 1e-8:
            break
    return y


LOG_TAIL_FLOOR = -700.0  # log tail probabilities kept finite (exp(-700) is about 1e-304)


@dataclass
class Prior:
    """The spread the benchmarks of one run share: a variance and its weight in degrees of freedom, and the
    weight each fitted benchmark gets by how far its variance lies in the fitted F distribution's upper tail
    (`tail_logp`, ascending, their log tail probabilities; `tail_df`, their weights, never decreasing; an
    outlier's weight is `outlier_df`)."""

    df: float = 0.0
    variance: float = math.nan
    benchmarks: int = 0
    outlier_df: float | None = None
    tail_logp: tuple[float, ...] = ()
    tail_df: tuple[float, ...] = ()

    def weight(self, variance: float, df: float) -> float:
        """The prior's degrees of freedom for a benchmark of this variance on `df`: the prior's own, or less
        where its variance is an outlier of the fitted benchmarks' (read from the fitted ones at its tail
        probability, so a benchmark of the fit gets its own weight back and any other one a weight between)."""
        if not self.tail_logp or not (variance > 0 and df > 0):
            return self.df
        logp = max(float(dist.f_logsf(variance / self.variance, df, self.df)), LOG_TAIL_FLOOR)
        return float(np.interp(logp, self.tail_logp, self.tail_df))

    def moderate(self, variance: float, df: float) -> tuple[float, float]:
        """(moderated variance, its degrees of freedom) of a benchmark's own variance on `df`."""
        if self.df <= 0 or not math.isfinite(self.variance):
            return variance, df
        d0 = self.weight(variance, df)
        if d0 <= 0:
            return variance, df
        return (d0 * self.variance + df * variance) / (d0 + df), d0 + df

    def moderate_up(self, variance: float, df: float) -> tuple[float, float]:
        """`moderate`, never below the benchmark's own variance: the prior adds degrees of freedom, not a
        smaller spread, to a benchmark noisier than the rest."""
        shared, total = self.moderate(variance, df)
        return max(shared, variance), total

    @property
    def outliers(self) -> int:
        """How many fitted benchmarks are weighted more as outliers than as the prior's (none where no benchmark got
        less than the prior's weight): a run of two kinds of spread where any is."""
        middle = (self.df + (self.outlier_df or 0.0)) / 2
        return sum(w < self.df and w <= middle for w in self.tail_df)

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "df": self.df,
            "variance": self.variance,
            "benchmarks": self.benchmarks,
            "outlier_df": self.outlier_df,
            "outliers": self.outliers,
        }


def squeeze(variances: Sequence[float], dfs: Sequence[float]) -> Prior:
    """The prior of the benchmarks' variances, fitted robustly (module docstring) from Smyth's moment estimator
    (limma's fitFDist); its weight is at most the benchmarks' own degrees of freedom together (a prior is never
    worth more evidence than the run holds)."""
    s2, d = np.asarray(variances, dtype=float), np.asarray(dfs, dtype=float)
    keep = np.isfinite(s2) & (s2 > 0) & (d > 0)
    s2, d = s2[keep], d[keep]
    if s2.size < 3:
        return Prior(benchmarks=int(s2.size))
    d0, s0 = moment_fit(s2, d, float(d.sum()))
    return outliers(s2, d, s0, d0)


def moment_fit(s2: np.ndarray, d: np.ndarray, cap: float) -> tuple[float, float]:
    """(weight, variance) of the prior by Smyth's moment estimator of log variances."""
    e = np.log(s2) - dist.digamma(d / 2) + np.log(d / 2)
    excess = float(e.var(ddof=1) - dist.polygamma(1, d / 2).mean())
    d0 = min(2 * trigamma_inverse(excess), cap) if excess > 0 else cap
    return d0, math.exp(float(e.mean()) + float(dist.digamma(d0 / 2)) - math.log(d0 / 2))


def outliers(s2: np.ndarray, d: np.ndarray, s0: float, d0: float) -> Prior:
    """The prior with each benchmark's weight: the prior's where its variance is no outlier, else shrunk towards
    an outlier's weight by the chance that it is one (limma's fitFDistRobustly, Phipson et al. 2016)."""
    n = s2.size
    ratio = s2 / s0
    logp = np.maximum(np.asarray(dist.f_logsf(ratio, d, d0), dtype=float), LOG_TAIL_FLOOR)
    empirical = np.log(n - dist.rankdata(ratio) + 0.5) - math.log(n)
    not_outlier = np.minimum(logp - empirical, 0.0)
    order = np.argsort(logp, kind="stable")
    if not (not_outlier < 0).any():
        return Prior(d0, s0, n, d0, tuple(map(float, logp[order])), (d0,) * n)
    # the weight that puts the most extreme variance at its distribution's median, refined once; never more than the
    # prior's own (where even the most extreme lies above its median, as with few and tightly clustered benchmarks)
    top = int(np.argmin(logp))
    outlier_df = math.log(0.5) / float(logp[top]) * d0
    refined = float(dist.f_logsf(ratio[top], d[top], outlier_df))
    if math.isfinite(refined) and refined < 0:
        outlier_df *= math.log(0.5) / max(refined, LOG_TAIL_FLOOR)
    outlier_df = min(outlier_df, d0) if math.isfinite(outlier_df) else d0
    p = np.exp(not_outlier)
    shrunk = p * d0 + (1 - p) * outlier_df
    ordered = shrunk[order]
    means = np.cumsum(ordered) / np.arange(1, n + 1)
    lowest = int(np.argmin(means))
    ordered[: lowest + 1] = means[lowest]
    weights = np.maximum.accumulate(ordered)
    return Prior(d0, s0, n, outlier_df, tuple(map(float, logp[order])), tuple(map(float, weights)))
