"""The regression gate says what it judged: how many of the run's benchmarks, why not the others,
and a message as loud as a failure when it judged none."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from conftest import make_run
from mlxbench.reports import verdictlines
from mlxbench.reports.verdictlines import summary_lines
from mlxbench.runs import Run
from mlxbench.timings import Timings
from mlxbench.verdicts.gate import RegressionGate, judge_run
from mlxbench.verdicts.history import compare_to_history

INFO = {"workload": "linreg", "variant": "eager", "backend": "numpy"}


def samples(center: float, seed: int, n: int = 8) -> list[float]:
    return list(center * np.random.default_rng(seed).lognormal(0, 0.02, n))


def run(name: str, benchmarks: dict) -> Run:
    return Run(Path(f"/saved/{name}.json"), make_run(benchmarks))


def test_an_empty_baseline_judges_nothing_and_says_so_loudly():
    gate = RegressionGate.from_runs(run("0003_empty", {}), [], None)
    for name in ("t::a[numpy]", "t::b[numpy]"):
        assert gate.judge(name, samples(1.0, 0), INFO, None, None) is None
    assert gate.judged == 0
    problem = gate.problem()
    assert problem is not None
    assert "judged none of the 2 benchmarks" in problem and "not in the baseline 0003_empty" in problem
    assert "which holds no benchmarks" in problem and "--benchmark-autosave" in problem
    lines = verdictlines.gate_summary(gate)
    assert lines[0].startswith("mlxbench: ERROR: the regression gate judged none")
    assert "0 regressed, 0 improved, 0 inconclusive, 0 unchanged (judged 0 of 2 benchmarks" in lines[1]


def history(names: list[str], count: int = 3) -> tuple[Run, list[Run]]:
    """`count` saved runs of the same benchmarks: the last is the baseline, the others its history."""
    runs = [
        run(f"000{i + 1}_base", {n: (samples(1.0, 10 * i + j), INFO) for j, n in enumerate(names)})
        for i in range(count)
    ]
    return runs[-1], runs[:-1]


def test_a_partial_gate_says_how_many_it_judged_and_why_not_the_rest():
    base, earlier = history(["t::a[numpy]", "t::nan[numpy]"])
    gate = RegressionGate.from_runs(base, earlier, None)
    gate.judge("t::a[numpy]", samples(1.0, 1), INFO, None, None)
    gate.judge("t::new[numpy]", samples(1.0, 2), INFO, None, None)
    gate.judge("t::nan[numpy]", [math.nan] * 8, INFO, None, None)
    assert gate.judged == 1 and gate.problem() is None
    coverage = gate.coverage(held=5)
    assert coverage.startswith("judged 1 of 5 benchmarks; not judged:")
    assert "1 not in the baseline 0003_base" in coverage
    assert "1 had no usable per-round times in this run" in coverage
    assert "2 never reached the gate" in coverage
    text = "\n".join(verdictlines.gate_summary(gate, held=5))
    assert "  not judged (1 benchmark): not in the baseline 0003_base\n    t::new[numpy]" in text
    assert (
        "  not judged (1 benchmark): had no usable per-round times in this run" in text
        and "\n    t::nan[numpy]" in text
    )
    assert "ERROR" not in text


def test_a_run_that_reached_no_gate_is_reported():
    gate = RegressionGate.from_runs(run("0003_base", {"t::a[numpy]": (samples(1.0, 0), INFO)}), [], None)
    problem = gate.problem(held=3)
    assert problem is not None and "3 never reached the gate" in problem and "--benchmark-disable" in problem
    assert "this run holds no benchmark" in (gate.problem(held=0) or "")


def test_the_old_summary_call_still_flags_an_empty_gate():
    lines = summary_lines([], "/saved/0003.json")  # what a caller that passes no counts gets
    assert lines[0].startswith("mlxbench: ERROR: the regression gate judged no benchmark")
    assert lines[1].endswith("0 unchanged (judged 0 benchmarks)")  # it claims no total it was not told


def test_offline_judging_counts_benchmarks_only_in_the_current_run():
    base, earlier = history(["t::a[numpy]"])
    cur = run("0004", {"t::a[numpy]": (samples(1.0, 1), INFO), "t::b[numpy]": (samples(1.0, 2), INFO)})
    gate = RegressionGate.from_runs(base, earlier, None)
    judge_run(gate, cur)
    assert (
        gate.coverage(held=len(cur.benchmarks))
        == "judged 1 of 2 benchmarks; not judged: 1 not in the baseline 0003_base"
    )


def test_rounds_of_one_process_give_no_verdict_but_a_reason():
    """With fewer than 3 saved runs, a benchmark 30% slower in every round is not judged (its rounds
    share one process's state), and the reason names what would judge it; a worse accuracy still is."""
    base = run("0001", {"t::a[numpy]": (samples(1.0, 0), INFO)})
    gate = RegressionGate.from_runs(base, [], None)
    assert gate.judge("t::a[numpy]", samples(1.3, 1), INFO, None, None) is None
    assert gate.results == [] and "rounds of one process only" in gate.not_judged["t::a[numpy]"]
    assert "mlxbench ab" in gate.not_judged["t::a[numpy]"]
    gated = {**INFO, "metrics": {"acc": 0.96}, "gates": [{"metric": "acc", "kind": "min", "limit": 0.95}]}
    base = run("0001", {"t::a[numpy]": (samples(1.0, 0), gated)})
    gate = RegressionGate.from_runs(base, [], None)
    res = gate.judge("t::a[numpy]", samples(1.0, 1), {**gated, "metrics": {"acc": 0.90}}, None, None)
    assert res is not None and res.regressed and res.method == "accuracy" and res.accuracy


def test_verdicts_ignore_nan_samples():
    history = [samples(1.0, 10 + i) for i in range(4)]
    history[1][0] = math.nan
    res = compare_to_history(Timings.runs("x", [*history, [math.nan] * 5], [*samples(1.4, 20), math.nan, -1.0]))
    assert res.verdict == "regressed" and "geometric mean of 4 saved runs" in res.reasons[0]


def test_a_zero_baseline_is_inconclusive_not_a_crash():
    res = compare_to_history(Timings.runs("x", [[0.0] * 6] * 3, samples(1.0, 0, 6)))
    assert res.verdict == "inconclusive" and "need >= 3 saved runs" in res.reasons[0]
