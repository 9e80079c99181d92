"""The one verdict table: its order, its names, its footnotes, its width, and the same values in every format."""

from __future__ import annotations

import json
import math

from mlxbench.reports.table import NOT_JUDGED, Table
from mlxbench.verdicts.verdict import Result

SUITE = "benchmarks/test_workloads.py::test_workload["


def result(name: str, verdict: str, ratio: float, mde: float = 0.05, reasons: list[str] | None = None) -> Result:
    return Result(
        name,
        verdict,
        ratio,
        ratio * 0.95,
        ratio * 1.05,
        0.01,
        0.1,
        1e-3,
        ratio * 1e-3,
        reasons or [f"x{ratio:.3f} the evidence"],
        mde=mde,
    )


def test_rows_follow_the_verdict_order_then_the_unjudged_and_reasons_are_numbered_once():
    results = [
        result("t::u[numpy]", "unchanged", 1.0),
        result("t::r[numpy]", "regressed", 1.3, reasons=["slower"]),
        result("t::i[numpy]", "inconclusive", 1.1),
        result("t::g[numpy]", "improved", 0.7),
    ]
    unjudged = {"t::n1[numpy]": "new benchmark", "t::n2[numpy]": "no usable times", "t::n3[numpy]": "new benchmark"}
    medians = {"t::n1[numpy]": (2e-3, 3e-3), "t::n2[numpy]": (math.nan, 1e-3), "t::n3[numpy]": (1e-3, 1e-3)}
    table = Table.of(results, unjudged, medians.__getitem__)
    assert [r.verdict for r in table.rows] == ["regressed", "improved", "inconclusive", "unchanged", *[NOT_JUDGED] * 3]
    lines = table.terminal()
    assert lines[0].split() == [
        "verdict",
        "benchmark",
        "baseline",
        "median",
        "current",
        "median",
        "ratio",
        "[interval]",
        "sees",
    ]
    rows = [line for line in lines if line.startswith("  ") and not line.startswith(("    ", "  ("))]
    assert [r.split()[0] for r in rows[1:]] == [
        "regressed",
        "improved",
        "inconclusive",
        "unchanged",
        "not",
        "not",
        "not",
    ]
    assert "  not judged (1)  n1[numpy]" in "\n".join(lines) and "x1.500" in rows[5]  # both medians and the ratio
    assert "n/a" in rows[6]  # a side without a median says so, never NaN
    assert lines[-2:] == ["  (1) new benchmark", "  (2) no usable times"]  # each reason once, in order
    assert "      slower" in lines  # the reason of a verdict that moved, under its row
    assert "x1.000 the evidence" not in lines  # the unchanged row's figures are its reason: not repeated


def test_every_line_fits_the_width_long_names_go_on_a_line_of_their_own():
    long = SUITE + "lazy_eval-mlx-cpu-ci-" + "x" * 80 + "]"
    table = Table.of([result(long, "unchanged", 1.0), result(SUITE + "linreg-numpy-ci-eager-step]", "regressed", 2)])
    lines = table.terminal()
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    assert "  lazy_eval-mlx-cpu-ci-" + "x" * 80 in lines  # the suite's test id: its parameters alone
    assert "  linreg-numpy-ci-eager-step" in lines
    short = Table.of([result(SUITE + "linreg-numpy-ci-eager-step]", "regressed", 2)]).terminal()
    assert short[1].startswith("  regressed  linreg-numpy-ci-eager-step  ")  # fits: the name beside its figures


def test_only_changed_limit_and_names_that_would_collide():
    results = [result("a.py::t[x]", "unchanged", 1.0), result("b.py::t[x]", "regressed", 1.5)]
    table = Table.of(results, {"a.py::new[x]": "new"}, lambda name: (1.0, 1.5))
    assert [r.name for r in table.shown(only_changed=True)] == ["b.py::t[x]", "a.py::new[x]"]  # 50% apart: moved
    assert [r.name for r in table.shown(only_changed=True, threshold=0.6)] == ["b.py::t[x]"]
    assert "b.py::t[x]" in table.terminal()[1]  # t[x] twice: full names
    lines = table.terminal(limit=1)
    assert "  regressed  t[x]  " in lines[1] and lines[-1] == "  ... and 2 more"  # one row shown: no collision
    assert Table.of([]).terminal() == []


def test_documents_and_json_carry_the_terminal_values():
    table = Table.of(
        [result("t::r[numpy]", "regressed", 1.3)], {"t::n[numpy]": "new"}, lambda name: (1e-3, 2e-3), arms=("A", "B")
    )
    assert table.head()[:6] == ["verdict", "benchmark", "A median", "B median", "ratio [interval]", "sees"]
    cells = table.cells()
    terminal = table.terminal()
    assert cells[0][:6] == ["regressed", "r[numpy]", "1 ms", "1.3 ms", "x1.300 [1.235, 1.365]", ">=5%"]
    assert all(value in terminal[1] for value in cells[0][2:6])
    assert cells[1][0] == "not judged (1)" and table.footnotes() == ["(1) new"] and cells[1][4] == "x2.000"
    data = table.as_json()
    assert data["arms"] == ["A", "B"] and data["counts"]["regressed"] == 1 and data["counts"][NOT_JUDGED] == 1
    assert [r["verdict"] for r in data["rows"]] == ["regressed", NOT_JUDGED] and data["rows"][1]["why"] == "new"
    saved = json.loads(json.dumps([result("t::r[numpy]", "regressed", 1.3).as_dict()]))  # as verdicts.json holds it
    again = [Result.from_dict(d) for d in saved]
    assert Table.of(again).cells()[0][:6] == cells[0][:6] and isinstance(again[0].units, tuple)


def test_a_wide_sees_value_puts_names_apart_and_no_estimate_shows_no_infinity():
    name = SUITE + "lazy_eval-mlx-cpu-ci-indep-1048576-end" + "-x" * 9 + "]"  # the header fits, a row would not
    table = Table.of([result(name, "inconclusive", 1.036, mde=10.17), result(SUITE + "a]", "unchanged", 1.0)])
    lines = table.terminal()
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    nothing = Result(
        "t::n[numpy]",
        "inconclusive",
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        0.1,
        math.nan,
        math.nan,
        ["no pairs"],
        method="none",
        mde=math.inf,
    )
    text = "\n".join(Table.of([nothing, result("t::x[numpy]", "unchanged", math.inf, reasons=["r"])]).terminal())
    assert "inf" not in text and "nan" not in text and "      no pairs" in text  # why there is no estimate
    assert Table.of([nothing]).cells()[0][4:6] == ["n/a", "—"]


def test_an_inconclusive_row_says_why_and_a_limited_table_shows_the_largest_changes_first():
    why = "can only see changes >=917%, more than the 10% threshold"
    lines = Table.of([result("t::i[numpy]", "inconclusive", 1.04, reasons=[f"x1.04 [...] sees >= 917%: {why}"])])
    assert f"      {why}" in lines.terminal()
    moved = [result(f"t::m{i:02d}[numpy]", "improved", 1 - i / 100) for i in range(1, 8)]
    moved += [result("t::r[numpy]", "regressed", 1.2)]
    shown = Table.of(moved).terminal(limit=3)
    rows = [line.split()[1] for line in shown[1:] if not line.startswith("      ")]
    assert rows[:3] == ["r[numpy]", "m07[numpy]", "m06[numpy]"]
    assert shown[-1] == "  ... and 5 more"
    row = Table.of([result("t::r[numpy]", "regressed", 1.2)]).as_json()["rows"][0]
    assert row["method"] == "history" and Table.of([result("t::r[numpy]", "regressed", 1.2)]).cells()[0][6] == (
        "saved runs, one process each"
    )  # the key in JSON, words in the documents
