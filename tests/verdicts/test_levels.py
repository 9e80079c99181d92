"""Rounds in levels (mlxbench.verdicts.levels): found where they last, compared at like levels and on their
mix, and the family-wise false-alarm bound kept in simulations with levels and spikes modelled on the
recorded H100 pairs (../shared/data/ab-corpus/h100-placement-aa: MLX placement to the GPU at about 11 ms or
25 ms, a worker slow for a whole pair in about a third of the workers or for episodes of a few rounds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlxbench.ab import paired
from mlxbench.ab.coordinator import PairResult
from mlxbench.timings import Unit
from mlxbench.verdicts import levels
from mlxbench.verdicts.verdict import Result

FAST, SLOW = 0.011, 0.025  # seconds: the two levels of the recorded mlx-gpu placement to-GPU rounds


def worker(rng: np.random.Generator, rounds: int, leveled: bool, scale: float = 1.0, whole: float = 0.3) -> list[float]:
    """One worker's rounds: a lasting state (sd 8% in logs), round noise (3%), spikes (2% of rounds, x1.5-4);
    with levels, slow for the whole pair with probability `whole`, else in episodes (fast to slow 5% a
    round, slow stays slow 80%)."""
    state = rng.normal(0, 0.08)
    stuck = leveled and rng.random() < whole
    slow = stuck
    out = []
    for _ in range(rounds):
        if leveled and not stuck:
            slow = rng.random() < (0.8 if slow else 0.05)
        base = SLOW if slow else FAST
        spike = rng.uniform(1.5, 4) if rng.random() < 0.02 else 1.0
        out.append(base * scale * spike * math.exp(state + rng.normal(0, 0.03)))
    return out


def simulate(rng, pairs: int, slow_b: float = 1.0, whole_b: float = 0.3, rounds: int = 7) -> list[PairResult]:
    """An A/B of 8 benchmarks, 4 with levels and 4 without, B's times scaled by `slow_b` on the leveled ones."""
    out = []
    for _ in range(pairs):
        times = {}
        for k in range(8):
            leveled = k < 4
            times[f"b{k}"] = {
                "A": worker(rng, rounds, leveled),
                "B": worker(rng, rounds, leveled, slow_b if leveled else 1.0, whole_b if leveled else 0.3),
            }
        out.append(PairResult.of(times))
    return out


def verdicts(results: list[PairResult]) -> list[Result]:
    return paired.judge_pairs(results, {f"b{k}": 0.1 for k in range(8)}, 0.05)[0]


@pytest.mark.parametrize("pairs", [5, 15])
def test_unchanged_code_reports_a_change_in_at_most_alpha_of_ab_runs(pairs):
    rng = np.random.default_rng(pairs)
    runs = 300
    moved = sum(
        any(r.verdict in ("regressed", "improved") for r in verdicts(simulate(rng, pairs))) for _ in range(runs)
    )
    assert moved / runs <= 0.05, f"{moved} of {runs} unchanged A/Bs with a verdict"


def test_a_change_at_both_levels_is_caught_more_often_than_by_the_pairs_mean_ratios(monkeypatch):
    """B 30% slower at both levels, 15 pairs: the like-level test catches what the pairs' mean log ratios,
    moved by every episode at the other level, mostly miss (the same simulated pairs judged both ways)."""
    rng = np.random.default_rng(7)
    runs = [simulate(rng, 15, slow_b=1.3) for _ in range(60)]
    caught = sum(r.verdict == "regressed" for run in runs for r in verdicts(run) if int(r.name[1]) < 4)
    monkeypatch.setattr(levels, "find", lambda pairs: None)
    before = sum(r.verdict == "regressed" for run in runs for r in verdicts(run) if int(r.name[1]) < 4)
    assert caught >= 2 * before and caught >= 0.5 * 240, (caught, before)


def test_a_slow_level_come_more_often_is_a_regression_of_the_level_mix():
    """B's workers slow for the whole pair 3 times in 4 (A's 1 in 10), times unchanged at each level: the level
    mix calls it regressed; nothing is called improved. (Where B's workers leave fewer than 3 pairs with rounds
    at the fast level in both arms, the benchmark is judged on its pairs' mean ratios as before.)"""
    rng = np.random.default_rng(11)
    found = []
    for _ in range(20):
        results = []
        for _ in range(15):
            times = {
                f"b{k}": {"A": worker(rng, 7, True, whole=0.1), "B": worker(rng, 7, True, whole=0.75)} for k in range(4)
            }
            results.append(PairResult.of(times))
        found += paired.judge_pairs(results, {f"b{k}": 0.1 for k in range(4)}, 0.05)[0]
    assert not any(r.verdict == "improved" for r in found)
    regressed = [r for r in found if r.verdict == "regressed"]
    mixed = [r for r in regressed if r.reasons[0].startswith("levels: ")]
    assert len(regressed) >= 0.5 * len(found) and mixed
    assert all(r.reasons[1].startswith("level mix: ") for r in mixed)


def test_an_arm_slower_throughout_with_a_drift_both_share_is_a_change_not_levels():
    """B x1.65 in every round, both arms on one drift of 20% a round: A's slow rounds and B's fast ones cross
    the split, but no worker's slow rounds stick together beyond its arm's share: not levels."""
    rng = np.random.default_rng(4)
    pairs = []
    for _ in range(6):
        drift = rng.normal(0, 0.2, 9)
        pairs.append(Unit(len(pairs) + 1, tuple(FAST * np.exp(drift)), tuple(1.65 * FAST * np.exp(drift))))
    assert levels.find(pairs) is None


def test_levels_are_found_where_they_last_and_spikes_are_not_a_level():
    rng = np.random.default_rng(3)
    lasting = [Unit(i, tuple(worker(rng, 9, True)), tuple(worker(rng, 9, True))) for i in range(1, 11)]
    found = levels.find(lasting)
    assert found is not None and 1.8 < found.ratio < 2.6 and math.log(FAST) < found.cut < math.log(SLOW)
    spiky = [Unit(n, tuple(FAST * (3.5 if i % 7 == 3 else 1.0) for i in range(14)), (FAST,) * 14) for n in range(10)]
    assert levels.persistence(spiky, math.log(2 * FAST)) < 0 and levels.find(spiky) is None  # never two in a row
    assert levels.persistence(lasting, found.cut) > levels.LEVEL_PERSISTENCE
    assert levels.find(lasting[:1]) is None  # too few rounds to tell
    even = [Unit(n, tuple(FAST * (1 + 0.01 * i) for i in range(9)), (FAST,) * 9) for n in range(10)]
    assert levels.find(even) is None  # one level: its groups are not LEVEL_RATIO apart


def test_like_levels_compare_fast_rounds_and_the_mix_counts_slow_ones():
    found = levels.Levels(math.log(0.018), SLOW / FAST, 0.3)
    pair = Unit(1, (FAST, FAST, SLOW, SLOW), (FAST, 1.1 * FAST, 1.1 * FAST, 1.1 * FAST))  # first rounds left out
    assert levels.like_level([pair], found) == pytest.approx([math.log(1.1)])
    assert levels.level_mix([pair], found) == pytest.approx([-math.log1p(2 / 3 * (SLOW / FAST - 1))])
    assert levels.like_level([Unit(2, (SLOW,) * 4, (FAST,) * 4)], found).size == 0  # no like level in this pair
    assert found.shares([pair]) == {"A": pytest.approx(2 / 3), "B": 0.0}
    kept = found.as_dict([pair])  # as verdicts.json keeps it
    assert kept["cut_s"] == pytest.approx(0.018) and kept["shares"] == found.shares([pair])


def result(verdict: str, mde: float) -> Result:
    return Result("b", verdict, 1.0, 0.9, 1.1, 0.5, 0.1, 1.0, 1.0, reasons=[verdict], mde=mde)


@pytest.mark.parametrize(
    ("like", "mix", "verdict", "first"),
    [
        ("regressed", "unchanged", "regressed", "at like levels"),
        ("unchanged", "regressed", "regressed", "level mix"),
        ("improved", "regressed", "regressed", "level mix"),
        ("improved", "inconclusive", "improved", "at like levels"),
        ("unchanged", "unchanged", "unchanged", "at like levels"),
        ("unchanged", "inconclusive", "inconclusive", "level mix"),
    ],
)
def test_the_verdict_of_two_tests(like, mix, verdict, first):
    combined = levels.combine(result(like, 0.05), result(mix, 0.6))
    assert combined.verdict == verdict and combined.reasons[0].startswith(first)
    assert len(combined.reasons) == 2
    if verdict == "unchanged":
        assert combined.mde == 0.6  # unchanged claims both tests: it sees what the weaker one sees
