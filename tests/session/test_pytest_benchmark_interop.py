"""pytest-benchmark's own `compare` reads our storage, histograms included (pygal from the extras)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import make_run

pytest.importorskip("pygal", reason="install mlxbench[histogram] (part of .[all] and .[dev])")

CLI = "import sys; from pytest_benchmark.cli import main; sys.exit(main())"


def test_pytest_benchmark_compare_draws_histograms_from_our_storage(tmp_path):
    folder = tmp_path / "baselines" / "Test-Box"
    folder.mkdir(parents=True)
    info = {"workload": "linreg", "variant": "eager", "backend": "numpy"}
    for i in (1, 2):
        data = list(np.random.default_rng(i).lognormal(0, 0.02, 10))
        run = make_run({"benchmarks/test_workloads.py::test_workload[linreg-numpy-ci-eager]": (data, info)})
        q1, q3 = np.percentile(data, [25, 75])  # the rest of what pytest-benchmark saves in "stats"
        more = {"stddev": np.std(data, ddof=1), "q1": q1, "q3": q3, "iqr": q3 - q1, "ld15iqr": min(data)}
        more |= {"hd15iqr": max(data), "ops": 1 / np.mean(data), "total": sum(data), "iterations": 1, "outliers": "0;0"}
        run["benchmarks"][0]["stats"].update({k: v if isinstance(v, str) else float(v) for k, v in more.items()})
        run["benchmarks"][0]["stats"]["iterations"] = 1
        (folder / f"000{i}_run.json").write_text(json.dumps(run))
    cmd = [
        sys.executable,
        "-c",
        CLI,
        "--storage",
        str(tmp_path / "baselines"),
        "compare",
        "Test-Box/0001",
        "Test-Box/0002",
    ]
    cmd += ["--group-by=name", "--columns=min,median,max,rounds", "--histogram", str(tmp_path / "hist" / "cmp")]
    (tmp_path / "hist").mkdir()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(0001_run)" in done.stdout and "(0002_run)" in done.stdout
    svgs = list((tmp_path / "hist").glob("*.svg"))
    assert len(svgs) == 1 and svgs[0].read_text().startswith("<?xml")
    assert not (tmp_path / ".benchmarks").exists()  # --storage names our folder: nothing made beside it
