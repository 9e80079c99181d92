"""Saved-runs verdicts from few runs: spreads moderated across the run's benchmarks (never below their own),
intervals and what they see printed within a bounded width, and the false-alarm bound kept."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import make_run
from mlxbench.reports.table import Table
from mlxbench.runs import Run
from mlxbench.timings import Timings
from mlxbench.verdicts.gate import RegressionGate, judge_run, unseen
from mlxbench.verdicts.history import Calibration, compare_to_history, fit
from mlxbench.verdicts.prior import Prior
from mlxbench.verdicts.words import change, interval, sees

INFO = {"workload": "linreg", "variant": "eager", "backend": "numpy"}


def runs(spreads: np.ndarray, count: int, seed: int, slower: dict[int, float] | None = None) -> list[Run]:
    """`count` runs of len(spreads) benchmarks: each run's median of benchmark j is off by a draw of its
    run-to-run spread; its 8 rounds vary by 1% around it. `slower`: factors of the last run's benchmarks."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        factors = (slower or {}) if i == count - 1 else {}
        benchmarks = {}
        for j, s in enumerate(spreads):
            median = math.exp(rng.normal(0, s)) * factors.get(j, 1.0)
            benchmarks[f"t::b{j}[numpy]"] = (list(median * rng.lognormal(0, 0.01, 8)), INFO)
        out.append(Run(Path(f"/saved/{i + 1:04d}_x.json"), make_run(benchmarks)))
    return out


def verdicts(history: list[Run], current: Run, moderate: bool = True):
    gate = RegressionGate.from_runs(history[-1], history[:-1], None)
    if not moderate:
        gate.prior, gate.calibrated = Prior(), Calibration()
    return judge_run(gate, current)


def test_ratios_intervals_and_what_they_see_are_printed_within_a_bounded_width():
    assert interval(0.558, 1e-30, 8.7e18) == "x0.558 [<0.01, >100]"
    assert interval(1.046, 0.65, 1.683) == "x1.046 [0.650, 1.683]"
    assert interval(250.0, math.nan, math.nan) == "x>100"
    assert sees(5.4e20) == ">1000%" and sees(math.inf) == ">1000%" and sees(0.12) == ">=12%" and sees(None) == ""
    assert change(0.1234, 1) == "12.3%" and change(11.0) == ">1000%"


def test_three_saved_runs_judge_with_finite_intervals_and_moderated_spreads():
    """The fourth run of a machine whose 67 benchmarks vary 9% from run to run: every interval is finite and
    every table line short; the shared spread adds degrees of freedom, so each sees far less than on its own."""
    spreads = np.full(67, 0.09)
    saved = runs(spreads, 4, seed=1)
    moderated = verdicts(saved[:3], saved[3])
    alone = verdicts(saved[:3], saved[3], moderate=False)
    assert all(math.isfinite(r.ci_high) and r.ci_low > 0 for r in moderated)
    assert "moderated to" in moderated[0].reasons[0] and "67 benchmarks' histories share" in moderated[0].reasons[0]
    mde = float(np.median([r.mde for r in moderated]))
    assert mde < float(np.median([r.mde for r in alone])) / 4
    assert not [r for r in moderated if r.verdict in ("regressed", "improved")]
    for line in Table.of(moderated).terminal():
        assert len(line) <= 120 and not any(len(word) > 12 for word in line.split() if word[0] in "x[>0123456789")


def test_a_benchmark_noisier_than_the_rest_keeps_its_own_spread():
    spreads = np.array([0.02] * 30 + [0.5])
    saved = runs(spreads, 4, seed=2)
    gate = RegressionGate.from_runs(saved[2], saved[:2], None)
    history = gate.recent("t::b30[numpy]")
    own = float(np.std(np.log(history.medians("A")), ddof=1))
    (noisy,) = [r for r in judge_run(gate, saved[3]) if r.name == "t::b30[numpy]"]
    assert gate.prior.df > 0 and math.sqrt(gate.prior.variance) < own
    assert noisy.spread >= own * (1 - 1e-9)


def saved(by: dict[str, list[list[float]]]) -> dict[str, Timings]:
    """Each benchmark's saved runs (their rounds) as the evidence the gate reads."""
    return {name: Timings.runs(name, rounds) for name, rounds in by.items()}


def test_no_prior_from_fewer_than_three_benchmarks_and_history_that_cannot_vary():
    assert fit(saved({"a": [[1.0], [1.1], [0.9]], "b": [[1.0], [1.2], [1.1]]}))[0].df == 0
    assert fit(saved({"a": [[1.0]], "b": [[2.0]], "c": [[3.0]]}))[0].df == 0  # one run each: no spread at all


def test_a_spread_too_wide_for_any_float_is_judged_not_raised():
    r = compare_to_history(Timings.runs("x", [[1e-9], [1.0], [1e9]], [1.0] * 8), family=67)
    assert r.verdict == "inconclusive" and r.mde == math.inf and sees(r.mde) == ">1000%"


def test_false_alarms_stay_within_alpha_and_a_real_slowdown_is_caught():
    """Unchanged runs of 20 benchmarks whose run-to-run spreads differ tenfold (2% to 20%), judged on 3 saved runs
    with moderated spreads: the share of runs with any verdict is consistent with alpha = 5% (not significantly
    above it at the 1% level); a 30% slowdown of a 2% benchmark is caught."""
    rng = np.random.default_rng(7)
    trials, hits = 150, 0
    for t in range(trials):
        spreads = np.exp(rng.uniform(math.log(0.02), math.log(0.2), 20))
        saved = runs(spreads, 4, seed=1000 + t)
        hits += any(r.verdict in ("regressed", "improved") for r in verdicts(saved[:3], saved[3]))
    from scipy import stats

    assert stats.binomtest(hits, trials, 0.05, alternative="greater").pvalue > 0.01, hits
    saved = runs(np.full(20, 0.02), 4, seed=3, slower={0: 1.3})
    (slowed,) = [r for r in verdicts(saved[:3], saved[3]) if r.name == "t::b0[numpy]"]
    assert slowed.verdict == "regressed" and slowed.mde < 0.3


@pytest.mark.parametrize("profile, command", [("ci", "mlxbench ab -- benchmarks --profile ci"), (None, "benchmarks")])
def test_a_history_that_cannot_see_the_threshold_says_so_once_with_the_command_that_can(profile, command):
    saved = runs(np.full(10, 0.3), 4, seed=4)
    results = verdicts(saved[:3], saved[3])
    line = unseen(results, profile)
    assert line is not None and line.endswith(f"{command}`")
    assert "cannot see a 10% change on 10 of 10 benchmarks" in line and "(up to 3)" in line
    steady = runs(np.full(10, 0.001), 4, seed=5)
    assert unseen(verdicts(steady[:3], steady[3])) is None


def test_a_history_whose_processes_land_in_states_widens_every_interval_to_what_it_has_shown():
    """As on a 2-core Xeon VM: a saved run of one benchmark landed x1.8 off its others (unchanged code). The next
    run of another benchmark in that state is no regression; the reason says why its interval is wide."""
    spreads = np.full(40, 0.02)
    saved = runs(spreads, 6, seed=8, slower={5: 1.8})  # run 6 of benchmark 5 in the slow state ...
    history, current = saved, runs(spreads, 1, seed=9, slower={0: 1.8})[0]  # ... then benchmark 0's run in it
    gate = RegressionGate.from_runs(history[-1], history[:-1], None)
    assert gate.calibrated.farthest > 20
    (r,) = [r for r in judge_run(gate, current) if r.name == "t::b0[numpy]"]
    assert r.verdict == "inconclusive" and r.mde > 0.8
    assert "a saved run lies as far from the others of its benchmark, unchanged" in r.reasons[0]
    steady = RegressionGate.from_runs(saved[4], saved[:4], None)  # the runs before the state: no widening
    (again,) = [r for r in judge_run(steady, current) if r.name == "t::b0[numpy]"]
    assert steady.calibrated.farthest < 5 and again.verdict == "regressed"
    assert "widened" not in again.reasons[0]
