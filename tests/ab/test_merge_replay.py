"""`mlxbench ab merge` (shards of one A/B judged as one run), `python -m mlxbench.tools.replay` (designs
replayed on recorded pairs), and a worker that runs only the benchmarks its coordinator left undecided."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import mlxbench_main, said
from mlxbench.ab import paired
from mlxbench.ab.coordinator import PairResult, Schedule, run_pair
from mlxbench.tools import replay

CORPUS = Path(__file__).resolve().parents[1] / "data" / "replay"


def cli(*args, cwd=None, env=None):
    """`mlxbench ARGS`, run here as `python -m mlxbench` runs it (tests/test_cli_errors.py: a new interpreter says
    the same)."""
    return mlxbench_main(*args, cwd=cwd, env=env)


def synthetic_pair(rng, shift: float) -> dict:
    times = {}
    for name, s in (("b::t[slow]", shift), ("b::t[same]", 0.0), ("b::t[other]", 0.0)):
        state = rng.normal(0, 0.02)
        times[name] = {
            "A": list(np.exp(rng.normal(0, 0.02, 7))),
            "B": list(np.exp(math.log1p(s) + state + rng.normal(0, 0.02, 7))),
        }
    return {"times": times, "facts": {"b::t[same]": {"threshold": 0.2}}}


def shard(folder: Path, pairs: list[dict], args: list[str]) -> Path:
    for k, p in enumerate(pairs, 1):
        (folder / f"pair-{k:02d}").mkdir(parents=True)
        (folder / f"pair-{k:02d}" / "pair.json").write_text(json.dumps(p))
    (folder / "verdicts.json").write_text(json.dumps({"design": "paired", "pytest_args": args, "verdicts": []}))
    return folder


def test_a_merge_of_two_shards_gives_the_verdicts_of_one_run_holding_the_same_pairs(tmp_path):
    rng = np.random.default_rng(20)
    pairs = [synthetic_pair(rng, 0.3) for _ in range(6)]
    one = shard(tmp_path / "r1" / "20261203-020000", pairs[:3], ["benchmarks"])
    two = shard(tmp_path / "r2" / "20261203-020001", pairs[3:], ["benchmarks"])
    proc = cli("ab", "merge", str(one), str(two), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # b::t[slow] is 30% slower
    merged = json.loads((tmp_path / "m.json").read_text())
    held = [PairResult.of(p["times"], p["facts"]) for p in pairs]
    alone, _ = paired.judge_pairs(held, paired.thresholds_for(None, held), 0.05)
    assert [(v["name"], v["verdict"], round(v["ratio"], 9)) for v in merged["verdicts"]] == [
        (r.name, r.verdict, round(r.ratio, 9)) for r in alone
    ]
    verdicts = {v["name"]: v for v in merged["verdicts"]}
    assert verdicts["b::t[slow]"]["verdict"] == "regressed" and verdicts["b::t[same]"]["threshold"] == 0.2
    assert merged["pairs"] == 6 and [s["pairs"] for s in merged["merged_from"]] == [3, 3]
    assert "6 pairs of workers from 2 folders" in said(proc.stdout)
    one_only = cli("ab", "merge", str(one))
    assert one_only.returncode == 1 and "3 pairs of workers from 1 folder," in said(one_only.stdout)


def test_ab_merge_refuses_what_it_cannot_merge(tmp_path):
    rng = np.random.default_rng(21)
    a = shard(tmp_path / "a", [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks", "-k", "x"])
    b = shard(tmp_path / "b", [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks"])
    (tmp_path / "empty").mkdir()
    damaged = shard(tmp_path / "d", [synthetic_pair(rng, 0.0)], ["benchmarks"])
    (damaged / "pair-01" / "pair.json").write_text('{"times": {"x": {"A": [1, -2], "B": [1]}}}')
    for args, named in (
        ([str(a), str(b)], "ran different A/Bs"),
        ([str(tmp_path / "empty")], "holds no pair-*/pair.json"),
        ([str(tmp_path / "nothere")], "not a folder"),
        ([str(damaged)], "not a positive number of seconds"),
        ([str(a), "--alpha", "2"], "--alpha 2.0"),
        ([str(a), str(a)], "is named twice: each pair counts once"),
    ):
        proc = cli("ab", "merge", *args)
        assert proc.returncode == 2 and named in said(proc.stderr), proc.stderr
        assert "Traceback" not in proc.stderr


def test_replay_measures_false_alarms_and_power_on_recorded_pairs(tmp_path):
    """The kept corpus (real A/A pairs of this machine): drawn subsets report false verdicts in at most ~alpha
    of replayed A/Bs; B scaled by 10% is caught where the design says it can see 10%; the tool runs as a user
    runs it, and bad input is one line, exit 2."""
    pairs = [p for folder in sorted(CORPUS.iterdir()) for p in replay.merge.read_folder(folder)[0]]
    assert len(pairs) >= 8
    null = replay.replay(pairs, n=5, trials=60, seed=1)
    assert null["false_alarm_rate"] <= 0.05 * 2
    flipped = replay.replay(pairs, n=5, trials=60, seed=2, flip=True)
    assert flipped["false_alarm_rate"] <= 0.05 * 2
    slowed = replay.replay(pairs, n=6, trials=40, seed=3, slowdown=0.10)
    assert slowed["slowed_benchmarks_seen"] > 0 and slowed["power_where_seen"] >= 0.9
    assert slowed["slowed_called_improved"] == 0
    folders = sorted(str(f) for f in CORPUS.iterdir())
    args = [*folders, "--pairs", "4", "--trials", "20", "--slowdown", "0.1", "--json", str(tmp_path / "r.json")]
    proc = subprocess.run([sys.executable, "-m", "mlxbench.tools.replay", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "false alarms" in proc.stdout and "called regressed" in proc.stdout
    assert json.loads((tmp_path / "r.json").read_text())["trials"] == 20
    bad = subprocess.run(
        [sys.executable, "-m", "mlxbench.tools.replay", *folders, "--pairs", "999"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--pairs 999" in bad.stderr and "Traceback" not in bad.stderr
    two = subprocess.run(
        [sys.executable, "-m", "mlxbench.tools.replay", *folders, "--pairs", "2"], capture_output=True, text=True
    )
    assert two.returncode == 2 and "a verdict needs 3" in two.stderr


def test_a_worker_runs_only_the_benchmarks_left_undecided(project, tmp_path):
    """The coordinator's list of undecided benchmarks (`only` of the order that lets it go at START): the worker
    deselects the rest and times only those; alone (the other arm gone), it gets the profile's rounds."""
    from conftest import write_bench

    write_bench(project, name="test_one")
    write_bench(project, name="test_two")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_one.py",
        "test_two.py",
        "--backend",
        "numpy",
        "--profile",
        "ci",
    ]
    env = {"PYTHONPATH": str(project.path / "site")}
    old = os.getcwd()
    os.chdir(project.path)
    try:
        only = ["test_two.py::test_sum[numpy-ci]"]
        result = run_pair({"A": (cmd, env)}, tmp_path, 0.0, Schedule(pair=0), only=only)
    finally:
        os.chdir(old)
    log = (tmp_path / "A.log").read_text()
    assert result.exit_codes == {"A": 0}, log
    assert list(result.times) == ["test_two.py::test_sum[numpy-ci]"], (list(result.times), log)
    assert len(result.times["test_two.py::test_sum[numpy-ci]"]["A"]) == 6 and "1 deselected" in log


H100 = Path(__file__).resolve().parents[1] / "data" / "h100-torch-cuda-placement-slower"


def test_recorded_h100_torch_cuda_pairs_merge_without_a_false_verdict_and_replay_within_the_bound():
    """Two A/Bs of a lent H100 (torch-cuda; linreg, MNIST and placement of the CI profile; placement 10% slower in
    B by the slowdown plugin; 7 and 6 pairs, back to back). Merged, no benchmark but placement's may move; linreg
    and MNIST (unchanged in the record) replayed as A/As with arms flipped at random stay within alpha. What the
    record shows: the GPU's clock held 1980 MHz in every round, so its lasting worker states are not clocks."""
    pairs = [p for shard in sorted(H100.iterdir()) for p in replay.merge.read_folder(shard)[0]]
    assert len(pairs) == 13 and {f["sm_mhz"] for p in pairs for f in p.round_facts} == {1980}
    results, _ = paired.judge_pairs(pairs, paired.thresholds_for(None, pairs), 0.05)
    assert len(results) == 12
    assert not [r.name for r in results if r.verdict in ("regressed", "improved") and "placement" not in r.name]
    assert not [r.name for r in results if r.verdict == "improved"]
    null = replay.replay(pairs, n=6, trials=1000, seed=1, flip=True, exclude="placement")  # 2,000: 3.8%
    assert null["false_alarm_rate"] <= 0.05, null


H100_AA = Path(__file__).resolve().parents[1] / "data" / "h100-aa-24-pipeline"


def test_recorded_h100_aa_of_24_benchmarks_pipelined_and_not_gives_no_verdict_and_keeps_rounds_apart():
    """Two unchanged A/Bs back to back on a lent H100 (mlx-gpu and torch-cuda; linreg, MNIST and placement of the
    CI profile; `--time-budget 8.2`, 5 pairs each), the first `--pipeline off`, the second `--pipeline on`. Merged,
    no benchmark is called regressed or improved. From the clocks of the pipelined one: each pair's workers were
    started before the pair before it timed its first round, and let go at START only once both of that pair's
    workers had exited; in the other, each pair's workers started after the last pair's had exited."""
    off, on = (replay.merge.read_folder(H100_AA / name)[0] for name in ("aaoff", "aaon"))
    assert len(off) == len(on) == 5
    for before, pair in itertools.pairwise(on):
        assert pair.launched < min(go for _, _, go, _ in before.rounds)
        assert max(done for *_, done in before.rounds) <= before.ended <= pair.released
        assert pair.released <= min(go for _, _, go, _ in pair.rounds)
    assert all(before.ended <= pair.launched for before, pair in itertools.pairwise(off))
    results, _ = paired.judge_pairs([*off, *on], paired.thresholds_for(None, [*off, *on]), 0.05)
    assert len(results) == 24 and not [r.name for r in results if r.verdict in ("regressed", "improved")]
    null = replay.replay([*off, *on], n=6, trials=100, seed=1, flip=True)  # 1,000: 1.6%
    assert null["false_alarm_rate"] <= 0.05, null
