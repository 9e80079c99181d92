"""What an A/B's budget will likely see (mlxbench.verdicts.forecast): the smallest change seen falls with the
pairs as a t test's does, the pairs needed are the fewest that see the threshold, and the lines say both."""

from __future__ import annotations

import math

import pytest

from mlxbench.verdicts import forecast, levels
from mlxbench.verdicts.evidence import Estimate
from mlxbench.verdicts.paired import Findings
from mlxbench.verdicts.verdict import minimum_detectable_effect


def estimate(spread: float, pairs: int, prior_df: float = 0.0) -> Estimate:
    se = spread / math.sqrt(pairs)
    return Estimate(0.0, se, pairs - 1 + prior_df, 0.01, 0.01, (pairs, pairs), spread, "pairs")


def test_what_a_benchmark_sees_now_is_what_its_verdict_says_and_it_falls_with_more_pairs():
    est = estimate(0.2, 3)
    level = 0.025 / 8
    assert forecast.sees_after(est, 3, level) == pytest.approx(minimum_detectable_effect(est.se, est.df, level))
    seen = [forecast.sees_after(est, n, level) for n in (3, 5, 10, 40, 400)]
    assert seen == sorted(seen, reverse=True) and seen[-1] < 0.05
    with_prior = estimate(0.2, 3, prior_df=20)  # a prior's degrees of freedom stay as pairs are added
    assert forecast.sees_after(with_prior, 5, level) < forecast.sees_after(est, 5, level)


def test_the_pairs_needed_are_the_fewest_that_see_the_threshold():
    est = estimate(0.15, 3)
    level = 0.025 / 24
    n = forecast.pairs_for(est, 0.10, level)
    assert n is not None and forecast.sees_after(est, n, level) <= 0.10 < forecast.sees_after(est, n - 1, level)
    assert forecast.pairs_for(estimate(50.0, 3), 0.01, level) is None  # out of reach
    made = forecast.forecast("b", est, 0.10, level, pairs_at_end=12, pair_seconds=30.0)
    assert made.minutes_needed == pytest.approx(n * 0.5) and made.sees_at_end < made.sees_now


def test_the_plan_covers_the_undecided_benchmarks_and_a_leveled_one_by_its_weaker_test():
    found = Findings(
        estimates={"quiet": estimate(0.02, 3), "loud": estimate(0.4, 3), "done": estimate(0.02, 3), "few": "need 3"},
        levels={"loud": levels.Levels(math.log(0.018), 2.2, 0.3)},
        mixes={"loud": estimate(1.2, 3)},
    )
    planned = forecast.plan(found, {"done"}, {"quiet": 0.05}, 0.05, 3, pairs=3, pair_seconds=20.0, left_seconds=200)
    by_name = {f.benchmark: f for f in planned}
    assert set(by_name) == {"quiet", "loud"} and by_name["quiet"].threshold == 0.05
    assert by_name["loud"].sees_now == pytest.approx(forecast.sees_after(found.mixes["loud"], 3, 0.025 / 4))
    assert all(f.pairs_at_end == 13 for f in planned)
    lines = forecast.lines(planned, 3, 20.0, 5)
    assert lines[0].startswith("mlxbench ab: what the 5-minute budget will likely see, from the spreads of 3 pairs")
    assert "10 more pairs fit at 20 s a pair" in lines[0]
    assert lines[2].endswith(" loud") and lines[3].endswith(" quiet")  # the ones that will see least first
    assert forecast.lines([], 3, 20.0, 5) == []
    quick = forecast.forecast("q", estimate(0.02, 3), 0.1, 0.025 / 4, 13, 5.0)  # a few pairs of 5 s
    assert quick.minutes_needed < 1 and "<1 min" in forecast.lines([quick], 3, 5.0, 5)[2]


def test_a_mixed_runs_forecast_counts_the_prior_lent_from_mixed_run_pairs_on():
    """After 3 pairs of a run of two kinds of spread a benchmark borrows no prior yet (mlxbench.verdicts.paired
    .MIXED_RUN_PAIRS); what it will see at the end, with the pairs that fit, counts the prior it borrows then."""
    import numpy as np
    from test_paired_stats import run, timings

    from mlxbench.verdicts import paired

    rng = np.random.default_rng(21)
    mixed = {
        **run(rng, 17, 3, state_sd=0.03),
        **{f"n{i}": v for i, v in enumerate(run(rng, 3, 3, 0.0, 0.3, 0.1).values())},
    }
    found = paired.estimate_all(timings(mixed))
    assert found.later and all(w > 0 for w in found.later.values())
    name = next(n for n in found.later if n.startswith("b"))
    est, level = found.estimates[name], 0.025 / 20
    assert est.df == 2  # none lent yet
    assert forecast.sees_after(est, 3, level, found.later[name]) == forecast.sees_after(est, 3, level)
    assert forecast.sees_after(est, 8, level, found.later[name]) < forecast.sees_after(est, 8, level)
    (planned,) = [f for f in forecast.plan(found, set(), {}, 0.05, 20, 3, 10.0, 50.0) if f.benchmark == name]
    assert planned.sees_at_end == forecast.sees_after(est, 8, paired.final_alpha(0.05, True) / 20, found.later[name])
