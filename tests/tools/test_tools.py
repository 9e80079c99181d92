"""Every maintainer tool a user can run with `python -m mlxbench.<name>` runs here, end to end, on the
smallest real input (so a change to what they call cannot break them unnoticed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SWEEP_RUN = next((ROOT / "baselines").glob("*NVIDIA_H200*/0004_*.json"))  # a committed sweep run


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, env={**os.environ}, timeout=300
    )


def test_calibrate_runs_history_unchanged_and_slowed_runs(tmp_path):
    out = tmp_path / "calibration"
    proc = tool(
        "mlxbench.tools.calibrate",
        "--history",
        "3",
        "--unchanged",
        "1",
        "--slowed",
        "1",
        "--workload",
        "linreg",
        "--factor",
        "2",
        "--out",
        str(out),
        "--",
        "--profile",
        "ci",
        "--backend",
        "numpy",
        "-k",
        "linreg",
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((out / "calibration.json").read_text())
    assert result["unchanged"]["comparisons"] == 1 and result["slowed"]["comparisons"] == 1
    # the slowdown reached the slowed run: 3x, far past this machine's 25-34% between processes (a 50% one once
    # stayed within 10% of the history's last run here)
    assert result["slowed"]["median10_regressed"] == 1


def test_overhead_times_the_suite_against_a_bare_loop():
    proc = tool("mlxbench.tools.overhead", "linreg", "eager-step", "numpy", "--profile", "ci", "--repeats", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bare perf_counter loop median" in proc.stdout and "suite / bare" in proc.stdout


def test_sweeptables_prints_the_tables_of_a_saved_sweep_run():
    proc = tool("mlxbench.reports.sweeptables", str(SWEEP_RUN), "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)


def test_every_tool_runs_by_its_path():
    """`python -m mlxbench.tools.<name>` (the old top-level paths are retired), and `mlxbench.reports.sweeptables`
    prints a saved sweep's tables as text too."""
    for name in ("calibrate", "calibrate_ab", "overhead"):
        proc = tool(f"mlxbench.tools.{name}", "--help")
        assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stderr[-2000:]
    proc = tool("mlxbench.reports.sweeptables", str(SWEEP_RUN))
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-2000:]


def test_the_tools_refuse_values_they_cannot_use_before_running_anything(tmp_path):
    """`--history 0` once ran 13 whole suites (five minutes and more) before failing; now it is refused at once."""
    for args, said in (
        (["--history", "0"], "--history 0: the gate judges from 3 saved runs on"),
        (["--factor", "-1"], "--factor -1.0: give the slowdown as a fraction above 0"),
        (["--workload", "nope"], "--workload 'nope': not a registered workload"),
    ):
        proc = tool("mlxbench.tools.calibrate", *args, "--out", str(tmp_path / "c"))
        assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert not (tmp_path / "c").exists()
    for module, args, said in (
        ("mlxbench.tools.calibrate_ab", ["--slowdowns", "abc"], "--slowdowns 'abc': give fractions above 0"),
        ("mlxbench.tools.calibrate_ab", ["--unchanged", "3"], "needs --unchanged >= 8"),
        ("mlxbench.tools.overhead", ["linreg", "eager-step", "numpy", "--repeats", "0"], "--repeats 0: give 1 or more"),
    ):
        proc = tool(module, *args)
        assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    (tmp_path / "afile").write_text("x")
    proc = tool("mlxbench.tools.calibrate", "--out", str(tmp_path / "afile"))
    assert proc.returncode == 2 and "--out" in proc.stderr and "is a file, not a folder" in proc.stderr, proc.stderr
    proc = tool("mlxbench.tools.calibrate_ab", "--out", str(tmp_path / "afile" / "x"))
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_calibrate_ab_judges_again_only_a_pool_it_can_read(tmp_path):
    """--analyze on a damaged pool, and a measuring run into a folder that holds one: a message, exit 2."""
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "000-unchanged.json").write_text("")
    proc = tool("mlxbench.tools.calibrate_ab", "--analyze", "--out", str(pool))
    assert proc.returncode == 2 and "000-unchanged.json: not valid JSON" in proc.stderr, proc.stderr
    proc = tool("mlxbench.tools.calibrate_ab", "--out", str(pool))
    assert proc.returncode == 2 and "is not empty; give a new --out folder" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and [p.name for p in pool.iterdir()] == ["000-unchanged.json"]
