"""`mlxbench ab merge` pools only shards of one A/B: folders whose arms differ (an interpreter, an environment
variable) are refused in one line naming the folders and what differs; identical arms merge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from test_merge_replay import cli, shard, synthetic_pair

from conftest import said
from mlxbench.ab import merge

PY = "/work/.venv/bin/python"
A_EQUALS_B = {"a": {"python": PY, "env": {}}, "b": {"python": PY, "env": {}}}


def ab_folder(folder: Path, seed: int, **arms: dict) -> Path:
    """A paired A/B folder as `mlxbench ab` leaves it (pairs and verdicts.json), its arms as given."""
    rng = np.random.default_rng(seed)
    shard(folder, [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks"])
    meta = json.loads((folder / "verdicts.json").read_text())
    (folder / "verdicts.json").write_text(json.dumps({**meta, **A_EQUALS_B, **arms}))
    return folder


def test_a_folder_whose_arm_b_had_another_environment_variable_is_refused(tmp_path):
    same = ab_folder(tmp_path / "r1" / "aa", 1)
    threads = ab_folder(tmp_path / "r2" / "ab", 2, b={"python": PY, "env": {"MLXBENCH_THREADS": "4"}})
    proc = cli("ab", "merge", str(same), str(threads), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert said(proc.stderr) == (
        f"mlxbench: these folders ran different A/Bs: arm B's environment variables differ ({same}: MLXBENCH_THREADS "
        f"unset vs {threads}: MLXBENCH_THREADS=4). Merge only folders of one A/B (the same `mlxbench ab` arms and "
        f"pytest arguments on every runner), or judge each alone: mlxbench ab merge {same}"
    )
    assert "pairs of workers" not in proc.stdout and not (tmp_path / "m.json").exists()


def test_a_folder_whose_arm_a_ran_another_interpreter_is_refused(tmp_path):
    """An A=B run and a --baseline-run A/B (arm A: an environment with the baseline's framework versions)."""
    same = ab_folder(tmp_path / "aa", 3)
    old = "/home/u/.cache/mlxbench/envs/3f2a9c0d1e4b5a6c/bin/python"
    baseline = ab_folder(tmp_path / "baseline", 4, a={"python": old, "env": {}})
    proc = cli("ab", "merge", str(same), str(baseline))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert f"arm A's interpreter differs ({same}: {PY} vs {baseline}: {old})" in said(proc.stderr)
    assert "arm B" not in proc.stderr and "pytest arguments differ" not in proc.stderr


def test_identical_arms_merge_and_the_merged_verdicts_name_them(tmp_path):
    one = ab_folder(tmp_path / "r1", 5)
    two = ab_folder(tmp_path / "r2", 6)
    proc = cli("ab", "merge", str(one), str(two), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 pairs of workers from 2 folders" in said(proc.stdout) and "records no arms" not in proc.stdout
    merged = json.loads((tmp_path / "m.json").read_text())
    assert merged["a"] == A_EQUALS_B["a"] and merged["b"] == A_EQUALS_B["b"]


def test_what_differs_is_said_per_difference_with_folders_of_one_value_together():
    records = {
        f: merge.ab_record({"pytest_args": ["benchmarks"], **A_EQUALS_B, **extra})
        for f, extra in (
            ("r1", {}),
            ("r2", {"b": {"python": PY, "env": {"X": "1"}}}),
            ("r3", {}),
            ("r4", {"pytest_args": ["benchmarks", "-k", "linreg"]}),
        )
    }
    assert merge.differences(records) == [
        "pytest arguments differ (r1, r2, r3: benchmarks vs r4: benchmarks -k linreg)",
        "arm B's environment variables differ (r1, r3, r4: X unset vs r2: X=1)",
    ]
    future = {"r1": {"a": {"python": PY, "versions": {"torch": "2.13.0"}}}, "r2": {"a": {"python": PY}}}
    assert merge.differences({f: merge.ab_record(m) for f, m in future.items()}) == []  # recorded by one only
    future["r2"]["a"]["versions"] = {"torch": "2.12.1"}
    assert merge.differences({f: merge.ab_record(m) for f, m in future.items()}) == [
        "arm A's versions differ (r1: torch=2.13.0 vs r2: torch=2.12.1)"
    ]


def test_the_gpu_a_shard_ran_on_may_differ_but_not_the_gpu_an_arm_compares():
    def differences(**gpus: tuple[str, str]) -> list[str]:
        metas = {
            f: {arm: {"python": PY, "env": {"CUDA_VISIBLE_DEVICES": g}} for arm, g in zip("ab", pair, strict=True)}
            for f, pair in gpus.items()
        }
        placed = merge.placement(metas.values())
        return merge.differences({f: merge.ab_record(m, placed) for f, m in metas.items()})

    assert differences(gpu0=("0", "0"), gpu1=("1", "1")) == []  # the same A/B on two GPUs of one host
    assert differences(x=("0", "1"), y=("0", "1")) == []  # GPU 0 against GPU 1, twice
    assert differences(x=("0", "1"), y=("1", "1")) == [
        "arm A's environment variables differ (x: CUDA_VISIBLE_DEVICES=0 vs y: CUDA_VISIBLE_DEVICES=1)"
    ]


def test_a_folder_that_records_no_arms_still_gives_its_pairs_and_is_named(tmp_path):
    one = ab_folder(tmp_path / "r1", 7)
    interrupted = ab_folder(tmp_path / "r2", 8, b={"python": PY, "env": {"MLXBENCH_THREADS": "4"}})
    (interrupted / "verdicts.json").unlink()
    proc = cli("ab", "merge", str(one), str(interrupted))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{interrupted} records no arms (no verdicts.json: it ended before judging)" in said(proc.stdout)
