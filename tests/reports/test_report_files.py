"""Report files are written all or nothing, never over an existing file; unusable numbers show as n/a."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import make_run
from mlxbench import units
from mlxbench.reports import plots, publish, report
from mlxbench.runs import BadRun, Run
from mlxbench.verdicts import verdict

INFO = {"workload": "linreg", "variant": "eager", "backend": "numpy"}


def samples(center: float, seed: int, n: int = 6) -> list[float]:
    return list(center * np.random.default_rng(seed).lognormal(0, 0.02, n))


def two_runs(tmp_path: Path) -> list[Run]:
    bench = {"t::a[numpy]": (samples(1.0, 0), INFO), "t::a[torch-cpu]": (samples(2.0, 1), {**INFO, "backend": "t"})}
    return [Run(tmp_path / f"000{i}_r.json", make_run(bench)) for i in (1, 2)]


def gated_runs(tmp_path: Path, n: int) -> list[Run]:
    """`n` runs; in the last one torch-cpu's accuracy got worse (a verdict even without timing evidence)."""
    gate = {"metric": "acc", "kind": "min", "limit": 0.95}
    runs = []
    for i in range(n):
        acc = 0.90 if i == n - 1 else 0.96
        bench = {
            "t::a[numpy]": (samples(1.0, 10 * i), INFO),
            "t::a[torch-cpu]": (
                samples(2.0, 10 * i + 1),
                {**INFO, "backend": "t", "metrics": {"acc": acc}, "gates": [gate]},
            ),
        }
        runs.append(Run(tmp_path / f"000{i + 1}_r.json", make_run(bench)))
    return runs


@pytest.mark.parametrize(
    ("n", "judged"), [(4, {"t::a[numpy]", "t::a[torch-cpu]"}), (2, {"t::a[torch-cpu]"})], ids=["history", "young"]
)
def test_every_file_lands_and_report_json_is_strict(tmp_path, n, judged):
    """With history, verdicts carry intervals and p-values; on a young history only the accuracy
    verdict exists, and its missing numbers (NaN in memory) are null in report.json, never NaN."""
    rep = report.build(gated_runs(tmp_path, n))
    out = tmp_path / "deep" / "rep"
    written = publish.write(rep, out, ["md", "html", "json"])
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in out.iterdir())
    assert {"report.md", "report.html", "report.json", "bars_linreg.png", "history_linreg.png"} == set(names)

    def no_nan(token: str) -> None:
        raise AssertionError(f"report.json holds {token}")

    data = json.loads((out / "report.json").read_text(), parse_constant=no_nan)
    assert {v["name"] for v in data["verdicts"]} == judged
    for v in data["verdicts"]:
        numbers = [v[k] for k in ("ratio", "ci_low", "ci_high", "p_value", "baseline_median", "current_median")]
        if v["method"] == "history":
            assert all(isinstance(x, float) and math.isfinite(x) for x in numbers), v
        else:
            assert v["method"] == "accuracy" and numbers == [None] * 6, v
    assert [p.name for p in tmp_path.iterdir()] == ["deep"]  # no temporary folder left beside it


@pytest.mark.parametrize("failing", [1, 3])
def test_an_interrupted_write_leaves_nothing_and_can_be_rerun(tmp_path, monkeypatch, failing):
    rep = report.build(two_runs(tmp_path))
    out = tmp_path / "rep"
    real, calls = publish._place, []

    def interrupted(src: Path, dst: Path) -> None:
        calls.append(dst.name)
        if len(calls) == failing:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(publish, "_place", interrupted)
    with pytest.raises(KeyboardInterrupt):
        publish.write(rep, out, ["md", "html", "json"])
    assert not out.exists()  # the folder it made is gone, with every file placed before the interrupt
    assert [p.name for p in tmp_path.iterdir()] == []
    monkeypatch.setattr(publish, "_place", real)
    assert len(publish.write(rep, out, ["md", "html", "json"])) == 5


def test_a_file_that_appears_meanwhile_is_kept_and_nothing_else_is_written(tmp_path, monkeypatch):
    rep = report.build(two_runs(tmp_path))
    out = tmp_path / "rep"
    out.mkdir()
    real = publish._place

    def racing(src: Path, dst: Path) -> None:
        if dst.name == "report.json":
            dst.write_text("someone else's")
        real(src, dst)

    monkeypatch.setattr(publish, "_place", racing)
    with pytest.raises(BadRun, match=r"report\.json appeared while the report was written: nothing was written"):
        publish.write(rep, out, ["md", "html", "json"])
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert (out / "report.json").read_text() == "someone else's"


def test_html_only_does_not_touch_a_users_plot(tmp_path):
    rep = report.build(two_runs(tmp_path))
    out = tmp_path / "rep"
    out.mkdir()
    (out / "bars_linreg.png").write_bytes(b"mine")
    assert [p.name for p in publish.write(rep, out, ["html"])] == ["report.html"]  # plots are inlined
    assert (out / "bars_linreg.png").read_bytes() == b"mine"
    with pytest.raises(BadRun, match=r"bars_linreg\.png already exists in .*nothing was written"):
        publish.write(rep, out, ["md"])
    assert sorted(p.name for p in out.iterdir()) == ["bars_linreg.png", "report.html"]


def test_times_that_mean_nothing_print_as_na():
    assert units.fmt_time(-4.42e-2) == "n/a"
    assert units.fmt_time(math.nan) == "n/a" and units.fmt_time(math.inf) == "n/a"
    assert units.fmt_time(0.0042) == "4.2 ms"
    assert verdict.median_ci([math.nan, 1.0, 2.0, -3.0], 1.5) == (1.0, 2.0)
    assert verdict.median_ci([math.nan] * 6, 1.5) == (1.5, 1.5)


@pytest.mark.parametrize("other", [0.0, 1.0], ids=["none-usable", "one-usable"])
def test_cells_and_plots_survive_unusable_numbers(tmp_path, other):
    data = make_run(
        {"t::a[numpy]": (samples(1.0, 0), INFO), "t::b[numpy]": (samples(1.0, 1), {**INFO, "variant": "c"})}
    )
    data["benchmarks"][0]["stats"].update(median=math.nan, data=[math.nan] * 6)  # built in memory, not loaded
    data["benchmarks"][1]["stats"]["median"] = other
    runs = [Run(tmp_path / "0001_a.json", data), Run(tmp_path / "0002_b.json", data)]
    rep = report.build(runs)
    assert math.isnan(rep.cells[0].median) and units.fmt_time(rep.cells[0].ci[0]) == "n/a"
    images = plots.make_all(rep)
    assert images["bars_linreg.png"][:4] == b"\x89PNG"


def test_a_cell_without_a_median_names_the_run_and_benchmark(tmp_path):
    data = make_run({"t::a[numpy]": (samples(1.0, 0), INFO)})
    data["benchmarks"][0]["stats"] = {}
    with pytest.raises(BadRun, match=r"0001_a\.json: benchmark 't::a\[numpy\]' has no median time"):
        report.build([Run(tmp_path / "0001_a.json", data)])
