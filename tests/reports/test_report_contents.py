"""What a report says: the summary at the top, the fastest backend, method labels, the cadence table,
peak memory, change points, and the history plot's verdicts being the gate's."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import FACTS, make_run
from mlxbench.reports import cadence, publish, render, report
from mlxbench.runs import Run
from mlxbench.verdicts import changepoints


def samples(center: float, seed: int, n: int = 10) -> list[float]:
    return list(center * np.random.default_rng(seed).lognormal(0, 0.02, n))


def info(workload: str, variant: str, backend: str, **extra) -> dict:
    return {"workload": workload, "variant": variant, "backend": backend, **extra}


def runs_with_history(tmp_path: Path, last: dict[str, float], n: int = 4) -> list[Run]:
    """`n` saved runs of unchanged code (one process each), then a run with the given factors."""
    names = {"t::a[numpy]": (1.0, "numpy"), "t::a[mlx-cpu]": (3.0, "mlx-cpu"), "t::a[torch-cpu]": (2.0, "torch-cpu")}
    out = []
    for i in range(n + 1):
        bench = {
            name: (samples(center * (last.get(name, 1.0) if i == n else 1.0), 10 * i + k), info("w", "v", backend))
            for k, (name, (center, backend)) in enumerate(names.items())
        }
        data = make_run(bench, profile="seed")
        data["datetime"] = f"2026-11-{10 + i:02d}T06:00:00+00:00"
        out.append(Run(tmp_path / f"{i + 1:04d}_r.json", data))
    return out


@pytest.fixture
def history_report(tmp_path: Path) -> report.Report:
    # numpy 40% slower (regressed), mlx-cpu 40% faster (improved), torch-cpu unchanged
    return report.build(runs_with_history(tmp_path, {"t::a[numpy]": 1.4, "t::a[mlx-cpu]": 0.6}))


def test_summary_at_the_top_with_regressions_first(history_report):
    md = render.markdown(history_report, [])
    assert history_report.title == "mlxbench report — Test-Box, seed profile, 2026-11-14 06:00"
    assert md.startswith("# mlxbench report — Test-Box, seed profile, 2026-11-14 06:00")
    top = md[: md.index("\n## ")]  # everything before the first section
    assert "**Machine:** Test-Box" in top
    assert "1 regressed, 1 improved, 0 inconclusive, 1 unchanged" in top
    regressed, improved = top.index("regressed: w/numpy v"), top.index("improved: w/mlx-cpu v")
    assert regressed < improved
    assert re.search(r"w/numpy v: 1 s → 1\.\d+ s \(3\d% slower; saved runs, one process each\)", top)
    assert re.search(r"w/mlx-cpu v: 3\.\d+ s → 1\.\d+ s \(1\.\d+x faster; saved runs, one process each\)", top)
    assert "![" not in md  # a job summary shows no image


def test_summary_of_a_young_history_says_nothing_was_judged_and_why(tmp_path):
    young = report.build(runs_with_history(tmp_path, {"t::a[numpy]": 1.4}, n=1))  # one saved run before
    head, items = render.summary(young)
    why = "rounds of one process only: a verdict needs 3 saved runs of this profile (there are 1) or an A/B run"
    assert head.startswith(f"none against 0001_r: 3 not judged: {why}") and items == []
    top = render.markdown(young, [])
    top = top[: top.index("\n## ")]
    assert f"**Verdicts:** none against 0001_r: 3 not judged: {why}" in top
    assert "regressed" not in top and "🔴" not in top


def test_the_verdict_table_names_both_medians_the_interval_the_evidence_and_what_it_sees(history_report, tmp_path):
    table = history_report.table
    assert table.head() == [
        "verdict",
        "benchmark",
        "baseline median",
        "current median",
        "ratio [interval]",
        "sees",
        "evidence",
        "notes",
    ]
    rows = {r[1]: r for r in table.cells(label=history_report.short)}
    row = rows["w/numpy v"]
    assert row[0] == "regressed" and row[2] == "1 s" and re.fullmatch(r"1\.\d+ s", row[3])
    assert re.fullmatch(r"x1\.\d{3} \[1\.\d{3}, 1\.\d{3}\]", row[4]) and re.fullmatch(r">=\d+%", row[5])
    assert row[6] == "saved runs, one process each" and "threshold 10%" in row[7]
    assert [r[0] for r in table.cells()] == ["regressed", "improved", "unchanged"]  # the one verdict order
    md = render.markdown(history_report, [])
    assert "| regressed | w/numpy v | 1 s |" in md  # the Markdown table is these cells

    young = runs_with_history(tmp_path, {"t::a[numpy]": 1.4}, n=1)  # one earlier run: rounds of one process
    two = report.build(young)
    assert two.verdicts == []  # 40% slower in every round, but no verdict rests on rounds
    cells = {r[1]: r for r in two.table.cells(label=two.short)}  # yet both medians and their ratio are shown
    assert set(cells) == {"w/numpy v", "w/mlx-cpu v", "w/torch-cpu v"}
    assert cells["w/numpy v"][0] == "not judged (1)" and re.fullmatch(r"x1\.\d{3}", cells["w/numpy v"][4])
    assert two.table.footnotes() == [f"(1) {two.not_judged['t::a[numpy]']}"]  # the reason once, below the table
    assert "rounds of one process only" in two.table.footnotes()[0]
    assert render.markdown(two, []).count("rounds of one process only") == 2  # the summary line and the footnote
    page = render.html_page(two, {})
    assert "not judged" in page and "No verdicts" not in page
    data = json.loads(publish.dumps(publish.to_json(two)))["verdict_table"]
    assert data["counts"]["not judged"] == 3 and {r["verdict"] for r in data["rows"]} == {"not judged"}
    # a worse accuracy needs no timing evidence: its row names the metric as its evidence, with no interval
    gate = {"metric": "acc", "kind": "min", "limit": 0.95}
    for run, acc in zip(young, (0.96, 0.90), strict=True):
        run.benchmarks["t::a[numpy]"]["extra_info"].update(metrics={"acc": acc}, gates=[gate])
    rep = report.build(young)
    rows = rep.table.cells(label=rep.short)
    assert rows[0][:2] == ["regressed", "w/numpy v"] and rows[0][6] == "accuracy metric"
    assert rows[0][5] == "—" and "acc went from 0.96 to 0.9" in rows[0][7]


def test_fastest_backend_is_marked_and_speedups_read_as_words(history_report):
    cells = {c.backend: c for c in history_report.cells}
    assert [b for b, c in cells.items() if c.fastest] == ["numpy"]  # 1.4 s, against mlx-cpu's 1.8 and torch's 2
    md = render.markdown(history_report, [])
    assert "Fastest: numpy (1 of 1 variant)" in md
    assert render.cell_lines(cells["numpy"], "numpy")[1] == "★ fastest"
    assert re.fullmatch(r"1\.4\dx slower than numpy", render.cell_lines(cells["torch-cpu"], "numpy")[1])
    assert report.speed_words(1 / 31.7, "numpy") == "31.7x slower than numpy"
    assert report.speed_words(2.1, "numpy") == "2.1x faster than numpy"


def test_history_plot_marks_the_gates_verdicts(history_report):
    last = history_report.history_verdicts[-1]
    assert {n: v.verdict for n, v in last.items()} == {v.name: v.verdict for v in history_report.verdicts}
    assert last["t::a[numpy]"].verdict == "regressed" and last["t::a[numpy]"].method == "history"
    assert all(not v.regressed for verdicts in history_report.history_verdicts[:-1] for v in verdicts.values())
    from mlxbench.reports import plots

    assert plots.history(history_report, "w")[:4] == b"\x89PNG"


def training_run(tmp_path: Path) -> Run:
    mem = {"bytes": 12 * 2**20, "kind": "peak", "source": "mx.get_peak_memory", "over": "one measured call"}
    rss = {"bytes": 3 * 2**30, "kind": "process_peak", "source": "/proc/self/status", "over": "one measured call"}
    bench = {
        "t::l[mlx-cpu-compiled-step]": (
            samples(2.0, 1),
            info(
                "linreg", "compiled-step", "mlx-cpu", execution="lazy", cadence="step", it_per_s=500.0, peak_memory=mem
            ),
        ),
        "t::l[mlx-cpu-compiled-end]": (
            samples(1.0, 2),
            info("linreg", "compiled-end", "mlx-cpu", execution="lazy", cadence="end", it_per_s=1000.0),
        ),
        "t::l[numpy-eager-step]": (
            samples(0.5, 3),
            info("linreg", "eager-step", "numpy", execution="eager", cadence="step", it_per_s=2000.0, peak_memory=rss),
        ),
    }
    return Run(tmp_path / "0001_t.json", make_run(bench, profile="seed"))


def test_cadence_table_gives_the_price_of_forcing(tmp_path):
    rep = report.build([training_run(tmp_path)])
    rows = {(r.backend, r.mode): r for r in cadence.rows(rep)}
    assert rows[("mlx-cpu", "compiled")].price == pytest.approx(2.0)
    assert rows[("numpy", "eager")].end is None and rows[("numpy", "eager")].eager
    md = render.markdown(rep, [])
    assert "| mlx-cpu | compiled | 2 ms/step | 1 ms/step | x2 |" in md
    assert "| numpy | eager | 500 µs/step | skipped: eager, same program | — |" in md
    data = json.loads(publish.dumps(publish.to_json(rep)))
    assert {"backend": "numpy", "mode": "eager", "end_skipped": True}.items() <= data["cadence"][1].items()
    assert data["cadence"][0]["price_of_forcing"] == pytest.approx(2.0)


def test_peak_memory_in_cells_and_json(tmp_path):
    rep = report.build([training_run(tmp_path)])
    md = render.markdown(rep, [])
    assert "12 MiB peak (allocator)" in md and "3 GiB process peak RSS growth" in md
    assert report.memory_words({"bytes": 2048, "kind": "current"}) == "2 KiB held after the call"
    data = json.loads(publish.dumps(publish.to_json(rep)))
    step = next(c for c in data["matrix"] if c["variant"] == "compiled-step")
    assert step["memory"]["bytes"] == 12 * 2**20 and step["memory_words"] == "12 MiB peak (allocator)"


def test_change_point_detection_finds_a_step_and_ignores_noise():
    rng = np.random.default_rng(7)
    noise = np.log(rng.lognormal(0, 0.05, 16))
    assert changepoints.detect(noise) == []
    step = noise.copy()
    step[9:] += math.log(1.2)
    assert changepoints.detect(step) == [9]
    assert changepoints.detect(step[:5]) == []  # too few runs to tell


def test_change_points_name_the_version_that_changed(tmp_path):
    runs = []
    for i in range(10):
        slow = 1.2 if i >= 6 else 1.0
        facts = {**FACTS, "versions": {**FACTS["versions"], "mlx": "0.32.4" if i >= 6 else "0.32.3"}}
        center = slow * float(np.random.default_rng(100 + i).lognormal(0, 0.03))
        data = make_run({"t::l[mlx-gpu]": (samples(center, i), info("linreg", "eager", "mlx-gpu"))}, facts, "seed")
        data["datetime"] = f"2026-11-{10 + i:02d}T06:00:00"
        runs.append(Run(tmp_path / f"{i + 1:04d}_r.json", data))
    rep = report.build(runs)
    assert [(c.index, c.run) for c in rep.changes] == [(6, "0007")]
    sentence = rep.changes[0].sentence()
    assert (
        sentence.startswith("linreg/mlx-gpu eager got 2")
        and "% slower at run 0007 when mlx went 0.32.3 -> 0.32.4" in sentence
    )
    from mlxbench.reports.document import md_escape

    assert md_escape(sentence) in render.markdown(rep, [])
    from mlxbench.reports import plots

    assert plots.history(rep, "linreg")[:4] == b"\x89PNG"


def test_another_hosts_runs_are_shown_never_judged_against(tmp_path):
    """Four committed runs of another VM of this type, then this host's first: no verdict, and a note
    that says whose runs they are; this host's own earlier run is its baseline once there is one."""
    runs = runs_with_history(tmp_path, {"t::a[numpy]": 1.4}, n=4)
    for run in runs[:-1]:
        run.data["mlxbench"]["host"] = "another-vm"
    rep = report.build(runs)
    assert rep.baseline is None and rep.verdicts == [] and all(v == {} for v in rep.history_verdicts[-1:])
    assert any("0001_r, 0002_r, 0003_r, 0004_r: made by another host" in n for n in rep.notes)
    assert render.summary(rep)[0] == "no verdicts: none of the 4 earlier runs was made by this run's host"
    mine = runs_with_history(tmp_path, {"t::a[numpy]": 1.4}, n=4)
    for run in mine[:2]:
        run.data["mlxbench"]["host"] = "another-vm"
    rep = report.build(mine)
    assert rep.baseline == "0004_r" and not rep.verdicts  # this host's 0003 and 0004: 2 runs, not 3
    assert all("(there are 2)" in why for why in rep.not_judged.values()) and len(rep.not_judged) == 3
