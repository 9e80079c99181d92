"""`mlxbench ab merge` pools only shards of one A/B: folders whose arms differ (the Python or package versions an
interpreter runs, an environment variable) are refused in one line naming the folders and what differs; identical
arms merge, wherever their interpreters live. Folders from before arms recorded versions are compared by path."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from test_merge_replay import cli, shard, synthetic_pair

from conftest import said
from mlxbench.ab import command, merge
from mlxbench.runs import BadRun

PY = "/work/.venv/bin/python"
VERSIONS = {"numpy": "2.3.5", "torch": "2.13.0", "pytest": "9.2.0", "pytest-benchmark": "5.3.1", "mlxbench": "0.4.0"}


def arm(python: str = PY, env: dict | None = None, **versions: str) -> dict:
    """An arm as `mlxbench ab` records it: its interpreter, its variables, and what the interpreter runs."""
    identity = {"implementation": "CPython", "python_version": "3.12.3", "versions": {**VERSIONS, **versions}}
    return {"python": python, "env": env or {}, **identity}


A_EQUALS_B = {"a": arm(), "b": arm()}
OLD = {"a": {"python": PY, "env": {}}, "b": {"python": PY, "env": {}}}  # before arms recorded their versions


def ab_folder(folder: Path, seed: int, **arms: dict) -> Path:
    """A paired A/B folder as `mlxbench ab` leaves it (pairs and verdicts.json), its arms as given."""
    rng = np.random.default_rng(seed)
    shard(folder, [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks"])
    meta = json.loads((folder / "verdicts.json").read_text())
    (folder / "verdicts.json").write_text(json.dumps({**meta, **A_EQUALS_B, **arms}))
    return folder


def test_a_folder_whose_arm_b_had_another_environment_variable_is_refused(tmp_path):
    same = ab_folder(tmp_path / "r1" / "aa", 1)
    threads = ab_folder(tmp_path / "r2" / "ab", 2, b=arm(env={"MLXBENCH_THREADS": "4"}))
    proc = cli("ab", "merge", str(same), str(threads), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert said(proc.stderr) == (
        f"mlxbench: these folders ran different A/Bs: arm B's environment variables differ ({same}: MLXBENCH_THREADS "
        f"unset vs {threads}: MLXBENCH_THREADS=4). Merge only folders of one A/B (the same `mlxbench ab` arms and "
        f"pytest arguments on every runner), or judge each alone: mlxbench ab merge {same}"
    )
    assert "pairs of workers" not in proc.stdout and not (tmp_path / "m.json").exists()


def test_a_folder_whose_arm_a_ran_other_framework_versions_is_refused_by_what_differs_not_by_path(tmp_path):
    """An A=B run and a --baseline-run A/B (arm A: a cached environment with the baseline's torch)."""
    same = ab_folder(tmp_path / "aa", 3)
    cached = "/home/u/.cache/mlxbench/envs/3f2a9c0d1e4b5a6c/bin/python"
    baseline = ab_folder(tmp_path / "baseline", 4, a=arm(cached, torch="2.12.1"))
    proc = cli("ab", "merge", str(same), str(baseline))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert f"arm A's package versions differ ({same}: torch=2.13.0 vs {baseline}: torch=2.12.1)" in said(proc.stderr)
    assert "arm B" not in proc.stderr and "interpreter" not in said(proc.stderr).split(". Merge only")[0]


def test_identical_versions_at_other_interpreter_paths_merge_and_the_paths_are_said(tmp_path):
    """Two nightly runners whose checkouts (and so their virtual environments) lie at other paths."""
    one = ab_folder(tmp_path / "r1", 9, a=arm("/home/ci/r1/.venv/bin/python"), b=arm("/home/ci/r1/.venv/bin/python"))
    two = ab_folder(tmp_path / "r2", 10, a=arm("/srv/r2/.venv/bin/python"), b=arm("/srv/r2/.venv/bin/python"))
    proc = cli("ab", "merge", str(one), str(two), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        f"mlxbench ab merge: arm A's interpreter path differs ({one}: /home/ci/r1/.venv/bin/python vs {two}: "
        f"/srv/r2/.venv/bin/python); arm B's interpreter path differs ({one}: /home/ci/r1/.venv/bin/python vs "
        f"{two}: /srv/r2/.venv/bin/python): the same Python and package versions, so one A/B"
    ) in said(proc.stdout)
    assert "6 pairs of workers from 2 folders" in said(proc.stdout) and "by path only" not in proc.stdout
    assert json.loads((tmp_path / "m.json").read_text())["pairs"] == 6


def test_an_environment_rebuilt_at_the_same_path_with_another_torch_is_refused(tmp_path):
    one = ab_folder(tmp_path / "r1", 11)
    rebuilt = ab_folder(tmp_path / "r2", 12, b=arm(torch="2.14.0"))
    proc = cli("ab", "merge", str(one), str(rebuilt), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert said(proc.stderr).startswith(
        f"mlxbench: these folders ran different A/Bs: arm B's package versions differ ({one}: torch=2.13.0 vs "
        f"{rebuilt}: torch=2.14.0). Merge only folders of one A/B"
    )
    assert "arm A" not in proc.stderr and not (tmp_path / "m.json").exists()


def test_folders_from_before_arms_recorded_versions_are_compared_by_path_and_it_is_said(tmp_path):
    old = ab_folder(tmp_path / "old", 13, **OLD)
    new = ab_folder(tmp_path / "new", 14)
    proc = cli("ab", "merge", str(old), str(new))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        f"mlxbench ab merge: {old} records both arms' interpreters by path only (a verdicts.json from before A/Bs "
        f"recorded Python and package versions): interpreters compared by path, as then"
    ) in said(proc.stdout)
    moved = ab_folder(tmp_path / "moved", 15, a=arm("/srv/r2/.venv/bin/python"))
    proc = cli("ab", "merge", str(old), str(moved))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert (
        f"arm A's interpreter differs ({old}: {PY} vs {moved}: /srv/r2/.venv/bin/python) ({old} records both "
        f"arms' interpreters by path only"
    ) in said(proc.stderr)
    assert "package versions" not in said(proc.stderr).split("(a verdicts.json")[0]


def test_identical_arms_merge_and_the_merged_verdicts_name_them(tmp_path):
    one = ab_folder(tmp_path / "r1", 5)
    two = ab_folder(tmp_path / "r2", 6)
    proc = cli("ab", "merge", str(one), str(two), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 pairs of workers from 2 folders" in said(proc.stdout) and "records no arms" not in proc.stdout
    assert "interpreter" not in proc.stdout
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
        "arm A's package versions differ (r1: torch=2.13.0 vs r2: torch=2.12.1)"
    ]
    gone = {"r1": {"b": arm()}, "r2": {"b": {**arm(), "python_version": "3.13.1", "versions": {"numpy": "2.3.5"}}}}
    assert merge.differences({f: merge.ab_record(m) for f, m in gone.items()}) == [
        "arm B's Python version differs (r1: 3.12.3 vs r2: 3.13.1)",
        "arm B's package versions differ (r1: mlxbench=0.4.0 pytest=9.2.0 pytest-benchmark=5.3.1 torch=2.13.0 vs "
        "r2: mlxbench not installed pytest not installed pytest-benchmark not installed torch not installed)",
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
    interrupted = ab_folder(tmp_path / "r2", 8, b=arm(env={"MLXBENCH_THREADS": "4"}))
    (interrupted / "verdicts.json").unlink()
    proc = cli("ab", "merge", str(one), str(interrupted))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{interrupted} records no arms (no verdicts.json: it ended before judging)" in said(proc.stdout)


def test_one_pair_and_one_benchmark_are_counted_in_the_singular(tmp_path):
    rng = np.random.default_rng(16)
    times = {"b::t[x]": {"A": list(np.exp(rng.normal(0, 0.02, 7))), "B": list(np.exp(rng.normal(0, 0.02, 7)))}}
    folder = shard(tmp_path / "r1", [{"times": times, "facts": {}}], ["benchmarks"])
    proc = cli("ab", "merge", str(folder))
    assert "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert "1 pair of workers from 1 folder, 1 benchmark, judged" in said(proc.stdout)


def test_an_arm_records_what_its_interpreter_runs_without_importing_a_framework():
    found = command.identity("A", sys.executable, {})
    assert found["implementation"] == platform.python_implementation()
    assert found["python_version"] == platform.python_version()
    assert {"numpy", "pytest", "pytest-benchmark", "mlxbench"} <= set(found["versions"])
    with pytest.raises(BadRun, match="arm B: /nowhere/python did not say its Python and package versions"):
        command.identity("B", "/nowhere/python", {})


def test_folders_of_one_and_of_several_preparations_per_pair_are_refused(tmp_path):
    """A pair that prepared each benchmark three times (--draws 3) carries less of a worker's lasting state than one
    that prepared it once: pooling them would judge both with one spread. A folder from before --draws: one."""
    once = ab_folder(tmp_path / "once", 5)  # pair files from before --draws: one preparation
    thrice = ab_folder(tmp_path / "thrice", 6)
    for path in thrice.glob("pair-*/pair.json"):  # what --draws 3 writes: where each later preparation began
        pair = json.loads(path.read_text())
        pair["draws"] = {name: [2, 4] for name in pair["times"]}
        path.write_text(json.dumps(pair))
    (interrupted := tmp_path / "interrupted").mkdir()
    shutil.copytree(thrice / "pair-01", interrupted / "pair-01")  # no verdicts.json: ended before judging
    for other in (thrice, interrupted):
        proc = cli("ab", "merge", str(once), str(other))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
        assert f"number of preparations per pair (--draws) differs ({once}: 1 vs {other}: 3)" in said(proc.stderr)
    again = ab_folder(tmp_path / "again", 7)
    proc = cli("ab", "merge", str(once), str(again), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0 and json.loads((tmp_path / "m.json").read_text())["draws"] == 1
