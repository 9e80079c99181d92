"""A spread shared by the benchmarks measured side by side: empirical Bayes moderation of their variances.

Each benchmark's own spread rests on few units (pairs of workers in an A/B, saved runs in a machine's
history: 2 degrees of freedom from 3 runs), and a t interval on 2 degrees of freedom at the Bonferroni
level of a run of 67 benchmarks is useless (t is about 40). The benchmarks of one run share the machine,
so their spreads share a scale: Smyth's moment estimator (limma's `squeezeVar`/`fitFDist`, Smyth 2004)
fits a prior (a variance and its weight `df` in degrees of freedom) to the benchmarks' variances, from how
much they differ beyond what their own degrees of freedom explain. Moderating a benchmark's variance adds
the prior's degrees of freedom; where the spreads differ a lot the weight is small and each benchmark keeps
its own. Callers never let a moderated spread fall below the benchmark's own (`Prior.moderate_up`).
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


@dataclass
class Prior:
    """The spread the benchmarks of one run share: a variance and its weight in degrees of freedom."""

    df: float = 0.0
    variance: float = math.nan
    benchmarks: int = 0

    def moderate(self, variance: float, df: float) -> tuple[float, float]:
        """(moderated variance, its degrees of freedom) of a benchmark's own variance on `df`."""
        if self.df <= 0 or not math.isfinite(self.variance):
            return variance, df
        return (self.df * self.variance + df * variance) / (self.df + df), self.df + df

    def moderate_up(self, variance: float, df: float) -> tuple[float, float]:
        """`moderate`, never below the benchmark's own variance: the prior adds degrees of freedom, not a
        smaller spread, to a benchmark noisier than the rest."""
        shared, total = self.moderate(variance, df)
        return max(shared, variance), total

    def as_dict(self) -> dict[str, float]:
        return {"df": self.df, "variance": self.variance, "benchmarks": self.benchmarks}


def squeeze(variances: Sequence[float], dfs: Sequence[float]) -> Prior:
    """The prior of the benchmarks' variances, by Smyth's moment estimator (limma's fitFDist); its
    weight is at most the benchmarks' own degrees of freedom together (a prior is never worth more
    evidence than the run holds)."""
    s2, d = np.asarray(variances, dtype=float), np.asarray(dfs, dtype=float)
    keep = np.isfinite(s2) & (s2 > 0) & (d > 0)
    s2, d = s2[keep], d[keep]
    if s2.size < 3:
        return Prior(benchmarks=int(s2.size))
    e = np.log(s2) - dist.digamma(d / 2) + np.log(d / 2)
    excess = float(e.var(ddof=1) - dist.polygamma(1, d / 2).mean())
    cap = float(d.sum())
    d0 = min(2 * trigamma_inverse(excess), cap) if excess > 0 else cap
    s0 = math.exp(float(e.mean()) + float(dist.digamma(d0 / 2)) - math.log(d0 / 2))
    return Prior(d0, s0, int(s2.size))
