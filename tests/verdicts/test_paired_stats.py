"""The paired design's statistics (mlxbench.verdicts.paired): the moderated spread, a worker in a lasting
state, the cost model's allocation, and the false-alarm bound with benchmarks leaving at interim looks."""

from __future__ import annotations

import itertools
import math

import numpy as np

from mlxbench.timings import Timings
from mlxbench.verdicts import allocation as alloc
from mlxbench.verdicts import evidence
from mlxbench.verdicts import paired as stats


def pair(rng, rounds: int, shift: float, state_sd: float, round_sd: float) -> tuple[list, list]:
    """One pair of workers (A's rounds, B's): a lasting state per worker, round noise per round, B slower by `shift`."""
    a = np.exp(rng.normal(0, state_sd / math.sqrt(2)) + rng.normal(0, round_sd, rounds))
    b = np.exp(math.log1p(shift) + rng.normal(0, state_sd / math.sqrt(2)) + rng.normal(0, round_sd, rounds))
    return list(a), list(b)


def run(rng, benchmarks: int, pairs: int, shift=0.0, state_sd=0.02, round_sd=0.03, rounds=7) -> dict:
    return {f"b{i}": [pair(rng, rounds, shift, state_sd, round_sd) for _ in range(pairs)] for i in range(benchmarks)}


def timings(by: dict[str, list[tuple[list, list]]]) -> dict[str, Timings]:
    """Each benchmark's pairs as the evidence the statistics read."""
    return {name: Timings.pairs(name, pairs) for name, pairs in by.items()}


def test_spreads_shared_by_similar_benchmarks_are_pooled_and_different_ones_are_not():
    """20 benchmarks of one spread: a large prior weight, so 4 pairs see far smaller changes than their own
    3 degrees of freedom allow; spreads that differ 30-fold get almost no weight."""
    rng = np.random.default_rng(10)
    same = stats.estimate_all(timings(run(rng, 20, 4)))
    assert same.prior.df > 20 and same.prior.benchmarks == 20
    plain = {n: evidence.Estimate(e.d, e.se, 3.0, 1, 1, (4, 4), e.spread, "plain") for n, e in same.estimates.items()}
    pooled = evidence.judge(same.estimates)
    alone = evidence.judge(plain)
    assert np.median([r.mde for r in pooled]) < 0.5 * np.median([r.mde for r in alone])
    mixed = {
        **run(rng, 10, 4, state_sd=0.01),
        **{f"w{i}": v for i, v in enumerate(run(rng, 10, 4, 0.0, 0.3, 0.03).values())},
    }
    assert stats.estimate_all(timings(mixed)).prior.df < 3


def test_moderated_spreads_keep_the_false_alarm_rate_and_see_a_slowdown():
    """Unchanged code, 20 benchmarks, 5 pairs: any false verdict in at most ~alpha of runs; a 10% slowdown
    of 5 of them is called regressed wherever the stated minimum detectable effect is at most 10%."""
    rng = np.random.default_rng(11)
    alarms = caught = seen = 0
    for _ in range(150):
        by = run(rng, 20, 5)
        alarms += any(
            r.verdict in ("regressed", "improved") for r in evidence.judge(stats.estimate_all(timings(by)).estimates)
        )
    assert alarms <= 150 * 0.05 * 1.8
    for _ in range(60):
        by = run(rng, 15, 5)
        by.update({f"s{i}": [pair(rng, 7, 0.10, 0.02, 0.03) for _ in range(5)] for i in range(5)})
        for r in evidence.judge(stats.estimate_all(timings(by)).estimates):
            if r.name.startswith("s") and r.mde <= 0.10:
                seen += 1
                caught += r.regressed
            assert not (r.name.startswith("b") and r.regressed and r.ci_low > 1.10)
    assert seen > 100 and caught / seen >= 0.95


def test_a_worker_in_a_lasting_state_is_named_and_does_not_flip_the_verdict():
    """8 pairs of unchanged code; in one, B's worker ran every round x2.4. It is named (arm, pair, how much)
    and left out: the verdict stays unchanged; averaged in, it would have moved the estimate by ~x1.12."""
    rng = np.random.default_rng(12)
    pairs = [pair(rng, 9, 0.0, 0.02, 0.02) for _ in range(8)]
    pairs[2] = (pairs[2][0], [x * 2.4 for x in pairs[2][1]])
    found = stats.estimate_all(timings({"t": pairs, **run(rng, 10, 8)}))
    (u,) = found.unstable
    assert (u.benchmark, u.pair, u.arm) == ("t", 3, "B") and 2.0 < u.ratio < 2.9
    assert "unstable: t: arm B's worker of pair 3 ran x2." in u.line()
    (v,) = [r for r in evidence.judge(found.estimates) if r.name == "t"]
    assert v.verdict == "unchanged" and 0.95 < v.ratio < 1.05 and v.units == (7, 7)
    means = [float(u.log_ratios().mean()) for u in Timings.pairs("t", pairs).units]
    assert math.exp(np.mean(means)) > 1.09  # what averaging it in would have said
    assert stats.estimate_all(timings(run(rng, 10, 8))).unstable == []  # nothing named among ordinary pairs


def test_the_allocation_follows_the_variance_parts_and_the_costs():
    """Round noise dominating: more rounds (up to the cap); lasting state dominating: the fewest; epochs keep
    the profile's; every count odd; the next pair kept inside what is left of the budget."""
    rng = np.random.default_rng(13)
    by = {
        "noisy-rounds": [pair(rng, 7, 0.0, 0.0, 0.2) for _ in range(3)],
        "lasting-state": [pair(rng, 7, 0.0, 0.4, 0.01) for _ in range(3)],
        "epochs": [pair(rng, 5, 0.0, 0.02, 0.02) for _ in range(3)],
    }
    costs = {n: 0.02 for n in by}
    fixed = {n: 2.0 for n in by}
    planned = {n: 7 for n in by} | {"epochs": 5}
    plan = alloc.allocate(timings(by), costs, fixed, planned, {"epochs"}, 600.0, 10.0)
    assert plan["noisy-rounds"].rounds > 50 and "round noise dominates" in plan["noisy-rounds"].why
    assert plan["lasting-state"].rounds == alloc.MIN_ROUNDS and "lasting state dominates" in plan["lasting-state"].why
    assert plan["epochs"].rounds == 5 and "epochs" in plan["epochs"].why
    assert all(a.rounds % 2 == 1 for a in plan.values())
    parts = alloc.components(Timings.pairs("noisy-rounds", by["noisy-rounds"]).units)
    best = math.sqrt(2.0 / 0.02 * parts.round / max(parts.state, alloc.STATE_FLOOR**2))
    assert abs(plan["noisy-rounds"].rounds - min(best, alloc.MAX_ROUND_S / 0.01)) <= 2  # Kalibera and Jones
    tight = alloc.allocate(timings(by), costs, fixed, planned, {"epochs"}, 12.0, 10.0)  # 2 s left for timed rounds
    assert tight["noisy-rounds"].rounds < plan["noisy-rounds"].rounds and "time budget" in tight["noisy-rounds"].why
    assert sum(a.rounds * costs[n] for n, a in tight.items() if n != "epochs") <= 2.0 + 3 * 0.02
    assert alloc.allocate(timings({"x": by["epochs"][:1]}), costs, fixed, {"x": 7}, set(), 600, 10)["x"].rounds == 7


def test_benchmarks_leaving_at_interim_looks_keep_the_false_alarm_bound():
    """Group-sequential looks at the spaced pair counts (3, 5, 8, 12, 18) at their levels, decided benchmarks
    leaving, the rest judged at the final level after pair 20: over many unchanged runs of 10 benchmarks, any
    false verdict in <= ~alpha."""
    rng = np.random.default_rng(14)
    alarms = 0
    runs = 200
    for _ in range(runs):
        by = {f"b{i}": [] for i in range(10)}
        decided: dict[str, str] = {}
        for k in range(1, 21):
            for name in by:
                if name not in decided:
                    by[name].append(pair(rng, 5, 0.0, 0.05, 0.05))
            look = stats.look_number(k)
            if look is None and k < 20:
                continue
            level = stats.final_alpha(0.05, True) if k == 20 else stats.interim_alpha(0.05, look)
            est = {n: e for n, e in stats.estimate_all(timings(by)).estimates.items() if n not in decided}
            for r in evidence.judge(est, alpha=level, family=10):
                if r.verdict != "inconclusive" or k == 20:
                    decided[r.name] = r.verdict
        alarms += any(v in ("regressed", "improved") for v in decided.values())
    assert alarms <= runs * 0.05 * 1.6
    every_look = sum(stats.interim_alpha(0.05, j) for j in range(1, 100_000))  # looks however long the budget
    assert every_look + stats.final_alpha(0.05, True) <= 0.05 + 1e-12


def test_looks_last_the_whole_budget_and_a_decidable_benchmark_leaves_early():
    """Looks come at geometrically growing pair counts, so a run of 1,000 pairs still has one every half again
    the pairs; a clear 30% slowdown of a quiet benchmark is decided at the first look, not at the end."""
    looks = [n for n in range(1, 1001) if stats.look_number(n)]
    assert looks[:6] == [3, 5, 8, 12, 18, 27] and len(looks) == 14 and looks[-1] > 600
    assert all(b <= math.ceil(a * stats.LOOK_GROWTH) for a, b in itertools.pairwise(looks))
    rng = np.random.default_rng(5)
    by = {"slow": [pair(rng, 5, 0.3, 0.01, 0.01) for _ in range(3)]}
    by |= {f"b{i}": [pair(rng, 5, 0.0, 0.01, 0.01) for _ in range(3)] for i in range(5)}
    (slow,) = [
        r
        for r in evidence.judge(stats.estimate_all(timings(by)).estimates, alpha=stats.interim_alpha(0.05, 1))
        if r.name == "slow"
    ]
    assert slow.verdict == "regressed"


def test_workers_landing_in_two_states_are_named_and_no_verdict_comes_of_the_draw():
    """A real A/A of the H200 (placement, 4 pairs): mlx-gpu seed-to-gpu's workers landed at 10-11 ms or
    20-28 ms, A slow in 3 pairs of 4 and B in the fourth. Leaving out the odd pair, or narrowing its spread
    with the prior, made that an `improved` x0.45; named as two states and judged on its own spread, no
    benchmark of the A/A gets a verdict other than unchanged or inconclusive."""
    from pathlib import Path

    from mlxbench.measure import pairfile
    from mlxbench.measure.pairfile import PairResult

    folder = Path(__file__).resolve().parents[1] / "data" / "h200-placement-aa"
    by = pairfile.timings([PairResult.read(p) for p in sorted(folder.glob("pair-*/pair.json"))])
    found = stats.estimate_all(by)
    (u,) = [u for u in found.unstable if "mlx-gpu-ci-seed-to-gpu" in u.benchmark]
    assert u.kind == "states" and u.slow["A"] >= 2 and u.slow["B"] >= 1 and 1.8 < u.ratio < 3.0
    assert "two states" in u.line() and "nothing left out" in u.line()
    for r in evidence.judge(found.estimates, {n: 0.10 for n in by}):
        assert r.verdict in ("unchanged", "inconclusive"), (r.name, r.verdict, r.ratio)


def test_a_real_difference_is_not_named_a_lasting_state():
    """B 1.6x slower in every pair: one arm slower throughout is a change, not workers drawing two states; it
    keeps the shared prior and is called regressed."""
    rng = np.random.default_rng(15)
    by = {"slow": [pair(rng, 7, 0.6, 0.02, 0.02) for _ in range(4)], **run(rng, 10, 4)}
    found = stats.estimate_all(timings(by))
    assert found.unstable == []
    (v,) = [r for r in evidence.judge(found.estimates) if r.name == "slow"]
    assert v.regressed and "moderated" in v.method


def test_a_run_of_two_kinds_of_spread_lends_no_prior_before_mixed_run_pairs():
    """17 quiet benchmarks and 3 noisy ones: after 3 pairs a noisy benchmark whose pairs happen to agree looks quiet,
    so no benchmark borrows the prior (each judged on its own 2 degrees of freedom); from MIXED_RUN_PAIRS pairs on
    the quiet ones borrow it again. A run of like spreads lends it from the first look."""
    rng = np.random.default_rng(21)
    mixed = {
        **run(rng, 17, 8, state_sd=0.03),
        **{f"n{i}": v for i, v in enumerate(run(rng, 3, 8, 0.0, 0.3, 0.1).values())},
    }
    early = stats.estimate_all(timings({n: p[:3] for n, p in mixed.items()}))
    assert early.prior.outliers > 0
    assert all(e.df == 2 for e in early.estimates.values()), {n: e.df for n, e in early.estimates.items()}
    later = stats.estimate_all(timings({n: p[: stats.MIXED_RUN_PAIRS] for n, p in mixed.items()}))
    quiet = [e for n, e in later.estimates.items() if n.startswith("b")]
    assert all(e.df > stats.MIXED_RUN_PAIRS - 1 for e in quiet)
    alike = stats.estimate_all(timings(run(rng, 20, 3, state_sd=0.03)))
    assert alike.prior.outliers == 0 and all(e.df > 2 for e in alike.estimates.values())


def test_unlike_spreads_keep_the_false_alarm_bound_over_the_looks():
    """12 quiet benchmarks and 3 whose lasting state is 20%, judged at the engine's looks (mlxbench.tools.simulate):
    any false verdict in at most alpha of 300 A/As (6.3% with the prior lent at the first look, where a noisy
    benchmark whose 3 pairs agree looks quiet); a 30% slowdown of a quiet one is still caught."""
    from mlxbench.tools import simulate

    kinds = [simulate.Kind(12, 0.03, 0.03), simulate.Kind(3, 0.2, 0.1)]
    figures = simulate.simulate(kinds, runs=300, seed=11)
    assert figures["false_alarm_rate"] <= 0.05, figures
    slowed = simulate.simulate(kinds, runs=20, seed=12, slowed=2, slowdown=0.3)
    assert slowed["slowed_caught_rate"] >= 0.95, slowed
