"""ABConfig: one A/B typed and checked once, from the command line or in Python; releases' steps make one
without argparse; a real small A/B run through the Python API."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from pathlib import Path

import pytest

from conftest import said
from mlxbench import cli
from mlxbench.ab import command
from mlxbench.ab.config import ABConfig, alpha_problem
from mlxbench.releases import steps
from mlxbench.runs import BadRun


def parsed(*argv: str):
    """`mlxbench ab ARGV` as the CLI parses it."""
    return cli.parser().parse_args(["ab", *argv])


def test_a_command_line_becomes_a_config_with_its_design_defaults(tmp_path):
    config = ABConfig.from_args(parsed("--b-env", "X=1", "--out", str(tmp_path), "--", "benchmarks", "-k", "x"))
    assert (config.design, config.time_budget, config.rewarm, config.pairs, config.worker_timeout) == (
        "paired",
        20.0,
        1,
        None,
        600.0,
    )
    assert config.processes is None and config.order is None and config.seed is None  # the other design's
    assert config.b_env == {"X": "1"} and config.a_env == {} and config.out == tmp_path
    assert config.pytest_args == ("--", "benchmarks", "-k", "x") and config.alpha == 0.05
    processes = ABConfig.from_args(parsed("--design", "processes", "--out", str(tmp_path)))
    assert (processes.processes, processes.order, processes.seed, processes.time_budget) == (6, "alternate", None, None)
    shuffled = ABConfig(design="processes", order="random", out=tmp_path)
    assert shuffled.seed == 0
    assert dataclasses.replace(processes, processes=8).processes == 8  # a copy passes the same checks
    assert dataclasses.replace(shuffled, processes=4).seed == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--alpha", "5"], "--alpha 5.0: give a rate between 0 and 1, the family-wise false-alarm rate (e.g. 0.05)"),
        (["--alpha", "nan"], "--alpha nan: give a rate between 0 and 1"),
        (["--threshold", "2"], "--threshold 2.0 is out of range; give a fraction between 0 and 1"),
        (["--time-budget", "0"], "--time-budget 0.0: give minutes, above 0 (e.g. 20)"),
        (["--time-budget", "nan"], "--time-budget nan: give minutes, above 0"),
        (["--worker-timeout", "-1"], "--worker-timeout -1.0: give seconds, above 0 (e.g. 600)"),
        (["--rewarm", "101"], "--rewarm 101: give a count of calls from 0 to 100"),
        (["--pairs", "2"], "--pairs 2: give at least 3"),
        (["--design", "processes", "--processes", "2"], "--processes 2: give at least 3 processes per arm"),
        (["--design", "processes", "--target-effect", "2"], "--target-effect 2.0: give a fraction in (0, 1]"),
        (["--processes", "6"], "--processes applies to --design processes only; this run's design is paired"),
        (["--design", "processes", "--pairs", "4", "--rewarm", "2"], "--rewarm, --pairs apply to --design paired"),
        (["--design", "processes", "--seed", "3"], "--seed 3 seeds --order random only"),
        (["--b-env", "NOVALUE"], "--a-env/--b-env 'NOVALUE': give NAME=VALUE"),
        (["--a-env", "OMP_NUM_THREADS=2"], "sets OMP_NUM_THREADS itself in every run"),
        (["--a", sys.executable, "--baseline-run", "x.json"], "give either --a or --baseline-run"),
        (["--", "benchmarks", "--benchmark-json=x.json"], "--benchmark-json=x.json cannot be used inside an A/B"),
        (["--json", "DIR"], "that is a folder; name a file in it"),
    ],
)
def test_each_bad_value_is_one_message_and_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "ab"
    argv = [a.replace("DIR", str(tmp_path)) for a in argv]
    with pytest.raises(BadRun) as raised:
        ABConfig.from_args(parsed("--out", str(out), *argv))
    assert message in str(raised.value)
    capsys.readouterr()
    assert cli.main(["ab", "--out", str(out), *argv]) == 2  # the CLI: the same message, one line, exit 2
    err = capsys.readouterr().err
    assert message in said(err) and err.startswith("mlxbench: ") and err.count("mlxbench: ") == 1
    assert not out.exists()  # nothing made before the checks


def test_a_config_made_in_python_is_checked_like_the_command_line(tmp_path):
    with pytest.raises(BadRun, match=r"^--time-budget 0: give minutes"):
        ABConfig(time_budget=0, out=tmp_path)
    with pytest.raises(BadRun, match=r"^--processes applies to --design processes only"):
        ABConfig(processes=4, out=tmp_path)
    with pytest.raises(BadRun, match=r"^--design 'both': give paired or processes"):
        ABConfig(design="both", out=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(BadRun, match="sets MKL_NUM_THREADS itself"):
        ABConfig(b_env={"MKL_NUM_THREADS": "1"}, out=tmp_path)
    args = ["tests", "-k", "x"]
    config = ABConfig(pytest_args=args, out=str(tmp_path))  # type: ignore[arg-type]
    args.append("--benchmark-disable")  # the caller's list changes; the config does not
    assert config.pytest_args == ("tests", "-k", "x") and config.out == tmp_path


def test_one_alpha_check_for_ab_merge_and_replay():
    from mlxbench.tools import replay

    assert alpha_problem(0.05) is None and alpha_problem(0.5) is None
    for bad in (0.0, 1.0, -0.1, float("nan")):
        assert (
            alpha_problem(bad)
            == f"--alpha {bad}: give a rate between 0 and 1, the family-wise false-alarm rate (e.g. 0.05)"
        )
    args = replay.parser().parse_args(["somewhere", "--alpha", "1"])
    assert replay.option_problem(args) == alpha_problem(1.0)


def test_releases_steps_make_a_config_without_argparse(tmp_path, monkeypatch):
    """run_ab hands `mlxbench ab` an ABConfig (the fake below stands for the A/B); no command line is built."""
    seen: list[ABConfig] = []
    monkeypatch.setattr(steps.ab, "run", lambda config: seen.append(config) or 0)
    target = tmp_path / "ab" / "0.1-0.2.json"
    code = steps.run_ab("/py/a", "/py/b", ["b::t[x]", "-p", "no:cov"], 1.23456789, tmp_path / "ab", target)
    assert code == 0
    (config,) = seen
    assert isinstance(config, ABConfig) and (config.a, config.b) == ("/py/a", "/py/b")
    assert config.time_budget == 1.23456789 and config.json == target and config.out == tmp_path / "ab"
    assert config.pytest_args == ("b::t[x]", "-p", "no:cov") and config.design == "paired"
    assert "argparse" not in vars(steps)
    with pytest.raises(BadRun, match="--time-budget 0: give minutes"):  # releases' start() says it, not judged
        steps.run_ab("/py/a", "/py/b", [], 0, tmp_path / "ab", target)
    assert len(seen) == 1


def test_a_small_ab_through_the_python_api(project, tmp_path, monkeypatch, capsys):
    """run(ABConfig(...)) in this process: the A/B `mlxbench ab --pairs 3 -- test_fake.py --backend numpy` runs,
    with its folder, verdicts.json and --json file, and the exit code the command would give. Not pipelined
    (`pipeline="off"`, what auto gives on 2 cores): each pair's workers start after the last pair's have exited."""
    from conftest import write_bench

    write_bench(project)
    monkeypatch.setenv("PYTHONPATH", str(project.path / "site"))
    out, target = tmp_path / "ab", tmp_path / "v.json"
    args = ("test_fake.py", "--backend", "numpy")
    config = ABConfig(pairs=3, alpha=0.001, out=out, json=target, pytest_args=args, pipeline="off")
    code = command.run(config)
    printed = said(capsys.readouterr().out)
    assert code == 0, printed
    (folder,) = out.iterdir()
    document = json.loads((folder / "verdicts.json").read_text())
    assert document["design"] == "paired" and document["pairs"] == 3 and document["alpha"] == 0.001
    assert document["pytest_args"] == ["test_fake.py", "--backend", "numpy"]
    (verdict,) = json.loads(target.read_text())["verdicts"]
    assert verdict["verdict"] in ("unchanged", "inconclusive")
    assert "3 pairs of workers" in printed and Path(folder / "verdicts.md").is_file()
    pairs = [json.loads((folder / f"pair-0{k}" / "pair.json").read_text()) for k in (1, 2, 3)]
    assert all(before["ended"] <= pair["launched"] for before, pair in itertools.pairwise(pairs))
    assert document["pipeline"] == {"setting": "off", "on": False, "cores": document["pipeline"]["cores"]}


def test_auto_pipelines_only_where_cores_are_to_spare():
    """--pipeline auto starts the next pair's workers early on 8 cores or more (the H100 machine's 16), not on a
    2-core machine, where their imports would take CPU from the timed rounds; on and off say so outright."""
    from mlxbench.ab.engine import PIPELINE_MIN_CORES, pipelines

    assert PIPELINE_MIN_CORES == 8
    assert not pipelines("auto", 2) and not pipelines("auto", 7) and pipelines("auto", 8) and pipelines("auto", 16)
    assert pipelines("on", 2) and not pipelines("off", 16)
    assert ABConfig().pipeline == "auto" and ABConfig(design="processes").pipeline is None
    with pytest.raises(BadRun, match="--pipeline sometimes: give auto, on or off"):
        ABConfig(pipeline="sometimes")
    with pytest.raises(BadRun, match="--pipeline applies to --design paired only"):
        ABConfig(design="processes", pipeline="on")
