"""A benchmark's evidence (mlxbench.timings): one type from the worker's times to the printed verdict, in every
design (pairs of workers, fresh processes, saved runs), and what its units say of their rounds."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import make_run
from mlxbench.ab import paired, processes
from mlxbench.measure import pairfile
from mlxbench.measure.pairfile import PairResult
from mlxbench.runs import Run
from mlxbench.timings import Timings, Unit
from mlxbench.verdicts import evidence, gate, history
from mlxbench.verdicts import paired as stats

ROOT = Path(__file__).resolve().parents[2]
INFO = {"workload": "linreg", "variant": "eager", "backend": "numpy"}


def spy(monkeypatch, module, name: str) -> list:
    """Every first argument `module.name` is called with, the call itself unchanged."""
    seen: list = []
    real = getattr(module, name)

    def wrapper(first, *args, **kwargs):
        seen.append(first)
        return real(first, *args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return seen


def test_a_pairs_times_reach_the_verdict_as_timings(monkeypatch):
    """pair.json's times -> one Timings per benchmark (design pairs, a unit per pair of workers, numbered as the
    pairs) -> the estimate -> the verdict: the statistic sees nothing else."""
    rng = np.random.default_rng(3)
    results = []
    for _ in range(4):
        a = list(0.01 * np.exp(rng.normal(0, 0.01, 5)))
        results.append(PairResult(times={"t": {"A": a, "B": [x * 1.5 for x in a]}}))
    seen = spy(monkeypatch, stats, "estimate_all")
    (verdict,), _ = paired.judge_pairs(results, {"t": 0.10}, 0.05)
    (by_bench,) = seen
    assert set(by_bench) == {"t"} and isinstance(by_bench["t"], Timings) and by_bench["t"].design == "pairs"
    assert [u.number for u in by_bench["t"].units] == [1, 2, 3, 4]
    assert by_bench["t"].units[1].A == tuple(results[1].times["t"]["A"])
    assert verdict.verdict == "regressed" and verdict.ratio == pytest.approx(1.5) and verdict.units == (4, 4)


def test_processes_reach_the_verdict_as_timings(tmp_path, monkeypatch):
    """Each process's run file -> its rounds as one unit of its arm (design processes) -> Welch on the units'
    medians -> the verdict."""
    for arm, scale in (("A", 1.0), ("B", 2.0)):
        (tmp_path / arm).mkdir()
        for k in range(3):
            rounds = [scale * 0.01 * (1 + 0.01 * k + 0.001 * i) for i in range(5)]
            doc = make_run({"t::b[numpy]": (rounds, INFO)})
            (tmp_path / arm / f"0{k + 1}.json").write_text(json.dumps(doc))
    a, _, _ = processes.collect(tmp_path / "A")
    b, _, _ = processes.collect(tmp_path / "B")
    seen = spy(monkeypatch, evidence, "welch_estimate")
    (verdict,) = evidence.judge_ab({n: Timings.processes(n, a[n], b[n]) for n in a})
    (timings,) = seen
    assert timings.design == "processes" and len(timings.of_arm("A")) == len(timings.of_arm("B")) == 3
    assert len(timings.units[0].A) == 5 and timings.units[0].B == ()
    assert verdict.regressed and verdict.ratio == pytest.approx(2.0, rel=0.01)


def test_saved_runs_and_the_current_run_reach_the_verdict_as_timings(monkeypatch):
    """The gate: each saved run of the profile one unit of arm A (oldest first), the current run arm B's."""
    saved = [
        Run(Path(f"/saved/000{k}.json"), make_run({"t::b[numpy]": ([1.0 + 0.01 * k] * 5, INFO)})) for k in range(4)
    ]
    current = Run(Path("/now.json"), make_run({"t::b[numpy]": ([2.0] * 5, INFO)}))
    seen = spy(monkeypatch, history, "compare_to_history")
    regression_gate = gate.RegressionGate.from_runs(saved[-1], saved[:-1], None)
    (verdict,) = gate.judge_run(regression_gate, current)
    (timings,) = seen
    assert timings.design == "runs" and [u.A[0] for u in timings.of_arm("A")] == [1.0, 1.01, 1.02, 1.03]
    assert timings.times("B") == [2.0] * 5
    assert verdict.regressed and verdict.units == (4, 1)


def test_the_statistics_take_the_evidence_type_not_raw_times():
    """No function of the verdicts or the A/B takes a benchmark's raw times per unit (nested lists, dicts of
    arms): they read mlxbench.timings's types. Derived series (log medians, arrays) are not raw times."""
    raw = ("Sequence[Sequence[float]]", "list[list[float]]", "Mapping[str, Sequence[float]]", "PairTimes")
    raw += ("dict[str, list[float]]", "tuple[Sequence[float], Sequence[float]]")
    found = []
    for folder in ("verdicts", "ab", "reports"):
        for path in sorted((ROOT / "mlxbench" / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    for arg in [*node.args.args, *node.args.kwonlyargs]:
                        text = ast.unparse(arg.annotation) if arg.annotation else ""
                        if any(r in text for r in raw):
                            found.append(f"{path.name}:{node.lineno} {node.name}({arg.arg}: {text})")
    assert not found, found


def test_a_units_rounds_matched_medians_and_arms():
    pair = Unit(2, (1.0, 2.0, math.nan, 4.0, -1.0), (2.0, 4.0, 8.0))
    assert pair.median("A") == pytest.approx(2.0) and pair.usable("A").tolist() == [1.0, 2.0, 4.0]
    assert np.allclose(pair.log_ratios(), [math.log(2)] * 2)  # three matched rounds, the first left out
    assert np.allclose(pair.arm_logs("B"), np.log([4.0, 8.0]))
    for cached in (pair.usable("A"), pair.log_ratios(), pair.arm_logs("B")):  # kept on the unit, shared by callers
        with pytest.raises(ValueError, match="read-only"):
            cached[0] = 0.0
    assert pair.log_ratios() is pair.log_ratios() and np.allclose(pair.log_ratios(), [math.log(2)] * 2)
    assert math.isnan(Unit(1).median("A"))
    both = Timings.pairs("t", [([1.0, 1.0], [2.0, 2.0]), ([1.0], []), ([3.0, 3.0], [6.0, 6.0])])
    assert [u.number for u in both.matched().units] == [1, 3] and both.medians("B") == [2.0, 6.0]
    assert [u.number for u in both.without({1}).units] == [2, 3] and both.times("A") == [1.0, 1.0, 1.0, 3.0, 3.0]
    runs = Timings.runs("t", [[1.0], [], [1.2]], [1.5, 1.6])
    assert [u.number for u in runs.of_arm("A")] == [1, 3] and runs.of_arm("B")[0].number == 4
    with pytest.raises(ValueError, match="design 'sweep': one of pairs, processes, runs"):
        Timings("t", "sweep")


def test_pair_files_read_back_as_the_same_evidence(tmp_path):
    """What pairfile.timings makes of pair.json files read back equals what it makes of the pairs in memory."""
    results = [PairResult(times={"t": {"A": [0.01, 0.02], "B": [0.03]}}), PairResult(times={"u": {"A": [1.0]}})]
    for k, result in enumerate(results, 1):
        (tmp_path / f"pair-0{k}").mkdir()
        (tmp_path / f"pair-0{k}" / "pair.json").write_bytes(result.dumps())
    back = [PairResult.read(p) for p in sorted(tmp_path.glob(pairfile.GLOB))]
    assert pairfile.timings(back) == pairfile.timings(results)
    assert pairfile.timings(results, [7, 9])["u"] == Timings("u", "pairs", (Unit(9, (1.0,), ()),))
