"""`mlxbench ab merge` judges rounds in levels as `mlxbench ab` does, and keeps the levels in its verdicts.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from verdicts.test_levels import worker  # rounds in levels, simulated as the H100 record shows them

from mlxbench.measure.pairfile import PairResult

ROOT = Path(__file__).parents[2]


def test_merge_names_the_levels_and_keeps_them(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "ab" / "20261207-000000"
    for k in range(8):
        times = {"b::t[leveled]": {"A": worker(rng, 9, True), "B": worker(rng, 9, True)}}
        (folder / f"pair-{k + 1:02d}").mkdir(parents=True)
        (folder / f"pair-{k + 1:02d}" / "pair.json").write_text(json.dumps(PairResult(times=times).as_dict()))
    out = tmp_path / "merged.json"
    proc = subprocess.run(
        [sys.executable, "-m", "mlxbench", "ab", "merge", str(folder), "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "its rounds come at two levels" in proc.stdout and "level mix: " in proc.stdout
    kept = json.loads(out.read_text())["levels"]["b::t[leveled]"]
    assert 1.8 < kept["ratio"] < 2.6 and 0.011 < kept["cut_s"] < 0.025 and set(kept["shares"]) == {"A", "B"}
