"""The shared spread's prior (mlxbench.verdicts.prior): a benchmark whose spread is an outlier of the rest gets
less of the prior's weight; benchmarks of like spreads keep (nearly) all of it."""

from __future__ import annotations

import itertools
import json

import numpy as np

from mlxbench.verdicts import distributions as dist
from mlxbench.verdicts.prior import LOG_TAIL_FLOOR, Prior, squeeze


def variances(rng, sds: list[float], df: int) -> np.ndarray:
    """Sample variances on `df` degrees of freedom of benchmarks whose true spreads are `sds`."""
    return np.asarray(sds) ** 2 * rng.chisquare(df, len(sds)) / df


def test_a_spread_far_above_the_rest_gets_an_outliers_weight_and_the_rest_keep_the_priors():
    """19 benchmarks of 3% and one of 30% on 7 degrees of freedom: the noisy one gets at most ~a third of the
    prior's weight (the prior would otherwise lend it evidence about quiet benchmarks), the 19 at least 90%."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        v = variances(rng, [0.03] * 19 + [0.3], 7)
        prior = squeeze(v, [7.0] * 20)
        weights = [prior.weight(x, 7.0) for x in v]
        assert weights[-1] < 0.4 * prior.df and prior.outliers >= 1, weights
        assert min(weights[:19]) >= 0.9 * prior.df, weights
        variance, df = prior.moderate_up(v[-1], 7.0)
        assert variance >= v[-1] and df < 7 + 0.4 * prior.df  # its own spread, and few degrees of freedom added


def test_like_spreads_keep_most_of_the_weight_and_weights_fall_as_a_spread_rises():
    rng = np.random.default_rng(2)
    kept = []
    for _ in range(100):
        v = variances(rng, [0.05] * 20, 7)
        prior = squeeze(v, [7.0] * 20)
        kept.append(np.mean([prior.weight(x, 7.0) >= 0.9 * prior.df for x in v]))
        probe = np.geomspace(v.min(), 100 * v.max(), 40)
        weights = [prior.weight(x, 7.0) for x in probe]
        assert all(a >= b - 1e-9 for a, b in itertools.pairwise(weights))  # never more weight for a larger spread
        assert weights[-1] < prior.df  # a spread 100 times the largest is an outlier
    assert np.mean(kept) > 0.85, np.mean(kept)  # like spreads: nearly all keep the prior's weight
    assert json.loads(json.dumps(prior.as_dict()))["benchmarks"] == 20


def test_a_fitted_benchmark_gets_back_its_own_weight_and_no_prior_moderates_nothing():
    rng = np.random.default_rng(3)
    v = variances(rng, [0.03] * 12 + [0.4] * 2, 3)
    prior = squeeze(v, [3.0] * 14)
    by_tail = dict(zip(prior.tail_logp, prior.tail_df, strict=True))
    for x in v:
        logp = max(float(dist.f_logsf(x / prior.variance, 3.0, prior.df)), LOG_TAIL_FLOOR)
        assert prior.weight(x, 3.0) == by_tail[logp]
    assert Prior().moderate(0.01, 3.0) == (0.01, 3.0)
    assert squeeze([0.01, 0.02], [3.0, 3.0]).df == 0  # fewer than three benchmarks: no prior


def test_weights_stay_finite_and_never_above_the_priors_whatever_the_spreads():
    """Identical or tightly clustered variances name no outlier; unequal degrees of freedom and spreads apart by
    orders of magnitude (saved runs of unequal length) never give a weight above the prior's, nor inf or NaN."""
    assert squeeze([0.01] * 5, [2.0] * 5).outliers == 0
    tight = squeeze([0.01, 0.01001, 0.01002, 0.01003], [2.0] * 4)
    assert max(tight.tail_df) <= tight.df and tight.outliers == 0
    rng = np.random.default_rng(4)
    for _ in range(500):
        n = int(rng.integers(3, 25))
        v, d = np.exp(rng.normal(0, 2, n)), rng.integers(1, 12, n).astype(float)
        prior = squeeze(v, d)
        weights = [prior.weight(x, y) for x, y in zip(v, d, strict=True)]
        assert all(0 <= w <= prior.df + 1e-9 for w in weights), (v, d, weights)
