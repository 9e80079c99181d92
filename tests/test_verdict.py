"""Verdict logic on synthetic samples: significance plus effect size, history, accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from mlxbench.verdict import accuracy_regressions, compare_samples, compare_to_history


def noisy(rng, center: float, n: int = 10, sigma: float = 0.03) -> np.ndarray:
    return center * rng.lognormal(0.0, sigma, n)


def test_unchanged_code_is_never_called_a_regression():
    rng = np.random.default_rng(0)
    verdicts = [compare_samples("x", noisy(rng, 1.0), noisy(rng, 1.0)).verdict for _ in range(200)]
    assert verdicts.count("regressed") == 0 and verdicts.count("improved") == 0
    assert verdicts.count("unchanged") > 150


def test_a_25_percent_slowdown_is_flagged():
    rng = np.random.default_rng(1)
    verdicts = [compare_samples("x", noisy(rng, 1.0), noisy(rng, 1.25)).verdict for _ in range(100)]
    assert verdicts.count("regressed") >= 95


def test_a_small_significant_change_is_not_a_regression():
    rng = np.random.default_rng(2)
    res = compare_samples("x", noisy(rng, 1.0, 30, 0.005), noisy(rng, 1.05, 30, 0.005), threshold=0.10)
    assert res.p_value < 0.01 and res.verdict == "unchanged"


def test_improvement_mirrors_regression():
    rng = np.random.default_rng(3)
    res = compare_samples("x", noisy(rng, 1.0), noisy(rng, 0.7))
    assert res.verdict == "improved" and res.ratio == pytest.approx(0.7, rel=0.05)


def test_few_rounds_or_wide_noise_are_inconclusive():
    assert compare_samples("x", [1, 1, 1], [2, 2, 2]).verdict == "inconclusive"
    rng = np.random.default_rng(4)
    res = compare_samples("x", noisy(rng, 1.0, 6, 0.4), noisy(rng, 1.15, 6, 0.4))
    assert res.verdict == "inconclusive"


def history_runs(rng, run_sd: float, k: int = 6, rounds: int = 5) -> list[np.ndarray]:
    return [noisy(rng, float(np.exp(rng.normal(0, run_sd))), rounds, 0.02) for _ in range(k)]


def test_history_mode_flags_a_real_slowdown_on_a_quiet_machine():
    rng = np.random.default_rng(5)
    flagged = sum(
        compare_to_history("x", history_runs(rng, 0.03), noisy(rng, 1.3 * np.exp(rng.normal(0, 0.03)), 5)).regressed
        for _ in range(100)
    )
    assert flagged >= 90


def test_history_mode_does_not_cry_wolf_when_whole_runs_shift():
    rng = np.random.default_rng(6)
    verdicts = []
    for _ in range(300):  # unchanged code; each run shifted as a whole by ~10%, rounds agreeing within 2%
        cur = noisy(rng, float(np.exp(rng.normal(0, 0.10))), 5)
        verdicts.append(compare_to_history("x", history_runs(rng, 0.10), cur).verdict)
        # the rounds-only test is fooled by the same data far more often
    assert verdicts.count("regressed") <= 6
    fooled = sum(
        compare_samples("x", history_runs(rng, 0.10)[-1], noisy(rng, float(np.exp(rng.normal(0, 0.10))), 5)).regressed
        for _ in range(300)
    )
    assert fooled > 20


def test_history_mode_needs_three_runs():
    rng = np.random.default_rng(7)
    res = compare_to_history("x", history_runs(rng, 0.03, k=2), noisy(rng, 1.0, 5))
    assert "Mann-Whitney" in res.reasons[0]


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
