"""A long history costs a bounded amount: `mlxbench report --history N` reads N files (not the whole folder),
searches change points in the latest changepoints.SEARCH_RUNS runs and marks the gate's verdicts on the
latest report.VERDICT_RUNS, and says so in a note and in report.json. The synthetic runs are one committed
baseline file, its times scaled per run (the same builder measured the 1,000-run report)."""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from mlxbench import cli
from mlxbench.measure import machine
from mlxbench.reports import report, selection
from mlxbench.runs import load_run
from mlxbench.verdicts import changepoints
from mlxbench.verdicts.history import HISTORY

BASELINE = (
    Path(__file__).parents[2]
    / "baselines"
    / "Linux-x86_64-Intel_R_Xeon_R_Processor-2c-nogpu-CPython-3.11"
    / "0001_672f64fbbfa9f6f6aae01774c112dd7e86c5c1f9_20261123_171211.json"
)
TIMES = ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ld15iqr", "hd15iqr", "total")


def build_runs(folder: Path, n: int, step_at: int | None = None, slowed: str = "linreg") -> list[Path]:
    """`n` saved runs made from BASELINE, every time scaled by 3% lognormal noise per benchmark and run, and by
    1.3 on the benchmarks whose name holds `slowed` from run `step_at` (1-based) on."""
    base = json.loads(BASELINE.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    paths = []
    for k in range(1, n + 1):
        run = copy.deepcopy(base)
        when = start + timedelta(hours=k)
        run["datetime"], run["commit_info"]["id"] = when.isoformat(), f"{k:040x}"
        for b in run["benchmarks"]:
            step = 1.3 if step_at is not None and k >= step_at and slowed in b["fullname"] else 1.0
            factor = math.exp(rng.normal(0, 0.03)) * step
            stats = b["stats"]
            for key in TIMES:
                if isinstance(stats.get(key), (int, float)):
                    stats[key] *= factor
            stats["ops"] /= factor
            stats["data"] = [x * factor for x in stats["data"]]
        paths.append(folder / f"{k:04d}_{k:040x}_{when:%Y%m%d_%H%M%S}.json")
        paths[-1].write_text(json.dumps(run))
    return paths


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "baselines"


def report_json(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_a_long_history_is_searched_and_judged_in_a_bounded_window_and_says_so(storage, tmp_path, monkeypatch, capsys):
    build_runs(storage / machine.machine_id(), 16, step_at=13)
    monkeypatch.setattr(changepoints, "SEARCH_RUNS", 8)
    monkeypatch.setattr(report, "VERDICT_RUNS", 4)
    out = tmp_path / "rep"
    args = ["--storage", str(storage), "report", "--history", "16", "--format", "json", "--out", str(out)]
    assert cli.main(args) == 0, capsys.readouterr().err
    doc = report_json(out)
    assert doc["change_points_searched"] == {"runs": 8, "of": 16}
    assert doc["gate_verdicts_marked"] == {"runs": 4, "of": 16}
    notes = " ".join(doc["notes"])
    assert "searched in the latest 8 of the 16 runs (from 0009_" in notes
    assert "verdicts on the latest 4 of the 16 runs (from 0013_" in notes
    linreg = [c for c in doc["change_points"] if c["workload"] == "linreg"]
    assert linreg and {c["index"] for c in linreg} == {12}  # run 0013, an index into the 16 runs reported
    assert all(c["ratio"] > 1.2 for c in linreg)


def test_history_verdicts_are_given_to_the_latest_runs_only(storage):
    runs = [load_run(p) for p in build_runs(storage / machine.machine_id(), 9)]
    marked = report.history_verdicts(runs, latest=3)
    assert len(marked) == 9
    assert [bool(m) for m in marked] == [False] * 6 + [True] * 3


def test_a_gate_reads_only_the_runs_that_judge_the_baseline(storage):
    runs = [load_run(p) for p in build_runs(storage / machine.machine_id(), HISTORY + 5)]
    window = report.judging(runs[:-1], runs[-1])
    assert window == runs[-1 - HISTORY : -1]  # each benchmark's last HISTORY runs, no further back
    assert report.judging(runs[:3], runs[3]) == runs[:3]  # fewer than that: all of them


def test_a_short_history_reads_no_more_files_than_it_reports(storage, tmp_path, monkeypatch, capsys):
    build_runs(storage / machine.machine_id(), 8)
    read: list[Path] = []

    def counting(path):
        read.append(Path(path))
        return load_run(path)

    monkeypatch.setattr(selection, "load_run", counting)
    runs = cli.latest_runs(storage, 3)
    assert [r.path.name[:4] for r in runs] == ["0006", "0007", "0008"]
    assert sorted(p.name[:4] for p in read) == ["0006", "0007", "0008"]


def test_a_short_history_has_no_bounds_note(storage, tmp_path, capsys):
    build_runs(storage / machine.machine_id(), 7)
    out = tmp_path / "rep"
    assert cli.main(["--storage", str(storage), "report", "--format", "json", "--out", str(out)]) == 0
    doc = report_json(out)
    assert doc["change_points_searched"] == {"runs": 7, "of": 7}
    assert not [n for n in doc["notes"] if "latest" in n]


def test_history_beyond_the_saved_runs_says_how_many_there_are(storage, tmp_path, capsys):
    build_runs(storage / machine.machine_id(), 3)
    out = tmp_path / "rep"
    assert (
        cli.main(["--storage", str(storage), "report", "--history", "50", "--format", "json", "--out", str(out)]) == 0
    )
    assert "--history 50: 3 saved runs of this profile and host are all there is" in report_json(out)["notes"]


def test_the_segmentation_is_the_least_squares_optimum_ruptures_searches_for():
    rpt = pytest.importorskip("ruptures")
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(6, 60))
        x = rng.normal(0, 0.05, n) + np.where(np.arange(n) >= rng.integers(0, n), rng.choice([0, 0.2, -0.3]), 0)
        penalty = changepoints.PENALTY * changepoints.series_noise(x) ** 2 * math.log(n)
        expected = rpt.Pelt(model="l2", min_size=2, jump=1).fit(x.reshape(-1, 1)).predict(pen=penalty)
        assert changepoints.segment(x, penalty) == expected


def test_a_change_before_the_searched_window_is_not_looked_for(storage, monkeypatch):
    runs = [load_run(p) for p in build_runs(storage / machine.machine_id(), 16, step_at=4)]
    found = {c.index for c in changepoints.find_changes(runs) if c.workload == "linreg"}
    assert found == {3}  # every run searched: the step at run 0004
    monkeypatch.setattr(changepoints, "SEARCH_RUNS", 8)
    assert changepoints.searched(runs) == 8
    assert not [c for c in changepoints.find_changes(runs) if c.workload == "linreg"]  # runs 0009-0016: one level
