"""`python -m mlxbench.tools.simulate`: simulated A/Bs of chosen spreads, judged with the engine's statistic and
looks (the false-alarm rate and power of the design without a machine), and its refusals of bad input."""

from __future__ import annotations

import json

import pytest
from test_tools import tool

from mlxbench.tools import simulate


def test_simulated_ab_counts_false_verdicts_by_kind_and_catches_a_slowdown(tmp_path, capsys):
    out = tmp_path / "figures.json"
    argv = ["--benchmarks", "6x3%/3%", "2x30%/10%", "--runs", "40", "--seed", "1", "--json", str(out)]
    assert simulate.main(argv) == 0
    said = capsys.readouterr().out
    assert "simulated 40 A/Bs of 6x3%/3% + 2x30%/10%" in said and "interim looks after pairs 3, 5" in said
    figures = json.loads(out.read_text())
    assert figures["runs"] == 40 and figures["looks_after"] == [3, 5] and figures["slowed_caught_rate"] is None
    alarms = figures["false_alarm_rate"] * 40
    assert sum(figures["false_verdicts_by_kind"]) >= round(alarms)  # every alarm has a false verdict
    low, high = figures["false_alarm_interval"]
    assert low <= figures["false_alarm_rate"] <= high
    assert simulate.main(argv) == 0 and json.loads(out.read_text()) == figures  # a seed gives the same figures

    slowed = simulate.simulate([simulate.Kind(8, 0.02, 0.02)], runs=20, slowed=2, slowdown=0.3, seed=2)
    assert slowed["slowed"] == 2 and slowed["slowed_caught_rate"] == 1.0  # 30% of a 2% benchmark: always seen
    assert slowed["false_alarm_rate"] <= 0.1
    faster = simulate.simulate([simulate.Kind(8, 0.02, 0.02)], runs=10, slowed=1, slowdown=-0.3, seed=2)
    assert faster["slowed_caught_rate"] == 1.0  # a speed-up is caught as improved
    twins = simulate.simulate([simulate.Kind(2, 0.004, 0.03), simulate.Kind(2, 0.004, 0.03)], runs=2, pairs=3)
    assert twins["benchmarks"] == ["2x0.4%/3%", "2x0.4%/3%"] and len(twins["false_verdicts_by_kind"]) == 2


def test_a_noisy_kind_gets_no_unchanged_verdict_where_it_cannot_see_the_threshold():
    """Two benchmarks of 60% lasting state can never see 10% in 5 pairs: they end inconclusive, never `unchanged`,
    while quiet ones are decided `unchanged` (at the looks or at the end)."""
    figures = simulate.simulate([simulate.Kind(5, 0.01, 0.01), simulate.Kind(2, 0.6, 0.1)], runs=15, pairs=5, seed=3)
    assert figures["all_unchanged_rate"] == 0.0
    quiet = simulate.simulate([simulate.Kind(5, 0.01, 0.01)], runs=15, pairs=5, seed=3)
    assert quiet["all_unchanged_rate"] >= 0.9


@pytest.mark.parametrize(
    "args, said",
    [
        (["--benchmarks", "17y3"], "--benchmarks '17y3': give COUNTxSTATE/ROUND"),
        (["--benchmarks", "3x3%/3%", "--runs", "0"], "--runs 0: give 1 to 100,000"),
        (["--benchmarks", "3x3%/3%", "--pairs", "2"], "--pairs 2: give 3 to 1,000"),
        (["--benchmarks", "3x3%/3%", "--slowed", "4", "--slowdown", "0.1"], "the first kind has 3 benchmarks"),
        (["--benchmarks", "3x3%/3%", "--slowdown", "0.1"], "--slowed N and --slowdown F go together"),
        (["--benchmarks", "3x3%/0%"], "spreads from 0 to 500% (rounds above 0)"),
        (["--benchmarks", "3x./3%"], "give COUNTxSTATE/ROUND"),
        (["--benchmarks", "99999999999x3%/3%"], "a count of 1 to 1,000"),
        (["--benchmarks", "600x3%/3%", "600x3%/3%"], "1,200 in all; give at most 1,000"),
        (["--benchmarks", "3x3%/3%", "--pairs", "100000000"], "--pairs 100000000: give 3 to 1,000"),
        (["--benchmarks", "3x3%/3%", "--rounds", "100000000000"], "--rounds 100000000000: give 2 to 10,000"),
        (["--benchmarks", "3x3%/3%", "--json", "tests"], "--json"),
        (["--benchmarks", "3x3%/3%", "--seed", "-1"], "--seed -1: give 0 or more"),
        (["--benchmarks", "3x3%/3%", "--alpha", "nan"], "--alpha nan: give a level between 0 and 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, said):
    proc = tool("mlxbench.tools.simulate", *args)
    assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()  # one message, wrapped within 120 columns
    assert lines[0].startswith("mlxbench.tools.simulate: ") and all(len(x) <= 120 for x in lines), lines
    assert not any(x.startswith("mlxbench.tools.simulate: ") for x in lines[1:]) and proc.stdout == ""
