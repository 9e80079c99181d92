"""Verdict logic on synthetic samples: significance plus effect size, history, accuracy."""

from __future__ import annotations

import numpy as np

from mlxbench.timings import Timings
from mlxbench.verdicts.history import compare_to_history
from mlxbench.verdicts.verdict import accuracy_regressions, interval_verdict


def noisy(rng, center: float, n: int = 10, sigma: float = 0.03) -> np.ndarray:
    return center * rng.lognormal(0.0, sigma, n)


def test_the_interval_rule_and_its_interval_agree():
    """regressed/improved only when the interval at the per-test level excludes 1; unchanged only when
    it lies inside the threshold band; a small real change is unchanged."""
    for d, se in [(0.3, 0.05), (-0.3, 0.05), (0.02, 0.005), (0.0, 0.01), (0.05, 0.2), (0.12, 0.05)]:
        v, f, _ = interval_verdict(d, se, 7, 0.05 / 20, 0.10)
        if v == "regressed":
            assert f["ci_low"] > 1 and f["ci_high"] > 1.10
        elif v == "improved":
            assert f["ci_high"] < 1 and f["ci_low"] < 1 / 1.10
        elif v == "unchanged":
            assert 1 / 1.10 <= f["ci_low"] and f["ci_high"] <= 1.10
        else:
            assert f["ci_low"] <= 1 <= f["ci_high"] or f["ci_low"] < 1 / 1.10 or f["ci_high"] > 1.10
    assert interval_verdict(0.3, 0.05, 7, 0.0025, 0.1)[0] == "regressed"
    assert interval_verdict(0.02, 0.005, 7, 0.0025, 0.1)[0] == "unchanged"  # real, inside the band
    assert interval_verdict(0.05, 0.2, 7, 0.0025, 0.1)[0] == "inconclusive"


def history_runs(rng, run_sd: float, k: int = 6, rounds: int = 5) -> list[np.ndarray]:
    return [noisy(rng, float(np.exp(rng.normal(0, run_sd))), rounds, 0.02) for _ in range(k)]


def test_history_mode_flags_a_real_slowdown_on_a_quiet_machine():
    rng = np.random.default_rng(5)
    flagged = sum(
        compare_to_history(
            Timings.runs("x", history_runs(rng, 0.03), noisy(rng, 1.3 * np.exp(rng.normal(0, 0.03)), 5))
        ).regressed
        for _ in range(100)
    )
    assert flagged >= 90


def test_history_mode_does_not_cry_wolf_when_whole_runs_shift():
    rng = np.random.default_rng(6)
    verdicts = []
    for _ in range(300):  # unchanged code; each run shifted as a whole by ~10%, rounds agreeing within 2%
        cur = noisy(rng, float(np.exp(rng.normal(0, 0.10))), 5)
        verdicts.append(compare_to_history(Timings.runs("x", history_runs(rng, 0.10), cur)).verdict)
    assert verdicts.count("regressed") + verdicts.count("improved") <= 15  # alpha 0.05 over a family of one


def test_history_mode_controls_the_family():
    """70 unchanged benchmarks judged as one run: no change reported in about 95% of runs (Bonferroni)."""
    rng = np.random.default_rng(8)
    runs_with_any = 0
    for _ in range(100):
        verdicts = [
            compare_to_history(
                Timings.runs("x", history_runs(rng, 0.05), noisy(rng, float(np.exp(rng.normal(0, 0.05))), 5)),
                family=70,
            )
            for _ in range(70)
        ]
        runs_with_any += any(v.verdict in ("regressed", "improved") for v in verdicts)
    assert runs_with_any <= 10


def test_history_mode_needs_three_runs():
    rng = np.random.default_rng(7)
    res = compare_to_history(Timings.runs("x", history_runs(rng, 0.03, k=2), noisy(rng, 1.0, 5)))
    assert res.verdict == "inconclusive" and "need >= 3 saved runs" in res.reasons[0]


GATES = [
    {"metric": "test_accuracy", "limit": 0.95, "kind": "min", "value": 0.0, "passed": True, "why": ""},
    {"metric": "test_mse", "limit": 2e-4, "kind": "max", "value": 0.0, "passed": True, "why": ""},
]


def test_accuracy_drop_beyond_tolerance_is_a_regression():
    base = {"metrics": {"test_accuracy": 0.965, "test_mse": 1.0e-4}, "gates": GATES}
    same = {"metrics": {"test_accuracy": 0.9645, "test_mse": 1.01e-4}, "gates": GATES}
    worse = {"metrics": {"test_accuracy": 0.955, "test_mse": 1.9e-4}, "gates": GATES}
    assert accuracy_regressions(base, same) == []
    problems = accuracy_regressions(base, worse)
    assert [p.split()[0] for p in problems] == ["test_accuracy", "test_mse"]
    better = {"metrics": {"test_accuracy": 0.99, "test_mse": 1e-6}, "gates": GATES}
    assert accuracy_regressions(base, better) == []
