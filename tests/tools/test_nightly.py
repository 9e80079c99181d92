"""The nightly workflow's steps, end to end on a scratch git repository: a first night without a baseline
(saves, offers), two nights from the same main that pass the gate and whose pull requests are both merged, and
a night with an injected slowdown that fails it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import write_bench


def nightly(project, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mlxbench.tools.nightly", *args],
        cwd=project.path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(project.path / "site"),
            "FAKE_DELAY": "0.002",
            "MLXBENCH_MACHINE_ID": "T",
            **(env or {}),
        },
        timeout=300,
    )


def said(proc) -> str:
    """What a command printed, its wrapped lines joined again."""
    return " ".join(proc.stdout.split())


def git(project, *args):
    return subprocess.run(["git", *args], cwd=project.path, capture_output=True, text=True, check=True).stdout


def saved(project) -> list[str]:
    return sorted(p.name for p in (project.path / "baselines" / "T").glob("[0-9]*.json"))


NIGHT = ["--profile", "ci", "--a", sys.executable, "--ab=--pairs=3", "--"]
TESTS = ["test_fake.py", "--backend", "numpy", "-p", "no:cacheprovider"]


def test_four_nights_on_a_scratch_repository(project, tmp_path):
    write_bench(project)
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.name", "maintainer")  # who merges the pull requests
    git(project, "config", "user.email", "maintainer@example.com")
    git(project, "commit", "-q", "--allow-empty", "-m", "start")

    first = nightly(project, "baseline", "--profile", "ci", env={"GITHUB_OUTPUT": str(tmp_path / "out")})
    assert first.returncode == 0 and "tonight only saves a first baseline" in said(first)
    assert (tmp_path / "out").read_text() == "run=\n"
    night1 = nightly(project, "run", "--run-name", "nightly-1-1", *NIGHT, *TESTS)
    assert night1.returncode == 0, night1.stdout[-3000:] + night1.stderr[-2000:]
    assert "no gate tonight" in said(night1) and saved(project) == ["0001_nightly-1-1.json"]
    assert json.loads((project.path / "run.json").read_text())["benchmarks"]
    manual = project.path / "baselines" / "T" / "0002_by-hand.json"  # a run saved by hand beside the nightly's
    manual.write_text("{}")
    offered = nightly(project, "offer", "--run-id", "1", "--remote", str(remote))
    assert offered.returncode == 0 and "offered 1 new run on branch baseline/nightly-1 (pushed)" in said(offered)
    assert "left out 1 new file this nightly did not make: baselines/T/0002_by-hand.json" in said(offered)
    assert git(project, "branch", "--show-current").strip() == "main"  # not left on the offer's branch
    assert "0002_by-hand" not in git(project, "show", "--stat", "baseline/nightly-1")
    manual.unlink()
    assert "baseline/nightly-1" in git(project, "ls-remote", str(remote))
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "baseline/nightly-1")

    for run_id in ("2", "3"):  # two nights from the same main, neither merged before the other ran
        night = nightly(project, "run", "--run-name", f"nightly-{run_id}-1", *NIGHT, *TESTS)
        assert night.returncode == 0, night.stdout[-3000:] + night.stderr[-2000:]
        assert "gate against" in said(night) and "0001_nightly-1-1.json" in said(night)
        assert saved(project) == ["0001_nightly-1-1.json", f"0002_nightly-{run_id}-1.json"]
        assert nightly(project, "offer", "--run-id", run_id).returncode == 0
        git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "baseline/nightly-2")
    git(project, "merge", "-q", "--no-edit", "baseline/nightly-3")
    assert saved(project)[1:] == ["0002_nightly-2-1.json", "0002_nightly-3-1.json"]  # both kept, one number
    after = nightly(project, "baseline", "--profile", "ci")
    assert after.stdout.strip().endswith("0002_nightly-3-1.json")  # the last by name

    slowed = ["--ab=--b-env=MLXBENCH_SLOWDOWN=fakesum=1.0", "-p", "mlxbench.tools.slowdown"]
    night4 = nightly(project, "run", "--run-name", "nightly-4-1", *NIGHT[:-1], *slowed[:1], "--", *slowed[1:], *TESTS)
    assert night4.returncode == 1, night4.stdout[-3000:] + night4.stderr[-2000:]
    assert "gate against" in said(night4) and "0002_nightly-3-1.json" in said(night4)
    assert "regressed" in said(night4) and "not saved and not offered" in said(night4)
    assert saved(project) == ["0001_nightly-1-1.json", "0002_nightly-2-1.json", "0002_nightly-3-1.json"]
    assert "nothing new" in said(nightly(project, "offer", "--run-id", "4"))


def test_an_offer_that_would_change_a_saved_run_is_refused(project):
    git(project, "init", "-q", "-b", "main")
    folder = project.path / "baselines" / "T"
    folder.mkdir(parents=True)
    (folder / "0001_x.json").write_text("{}")
    git(project, "add", ".")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a run")
    (folder / "0001_x.json").write_text('{"rewritten": true}')
    (folder / "0002_y.json").write_text("{}")
    proc = nightly(project, "offer", "--run-id", "9")
    assert proc.returncode == 1 and "refusing: saved runs would be modified or deleted: baselines/T/0001_x.json" in (
        proc.stdout
    )
    assert git(project, "branch", "--show-current").strip() == "main"


def test_offer_needs_nothing_but_the_checkout():
    """The offer job runs with PYTHONPATH=. on a runner where mlxbench's dependencies are not installed."""
    code = "import sys, mlxbench.tools.nightly; print(sorted({'pytest', 'numpy', 'scipy'} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_a_night_checks_its_values_before_any_benchmark_and_saves_into_its_storage(project, tmp_path):
    """`--time-budget -1` once ran the whole suite (no baseline yet, so no gate to refuse it) and saved it."""
    write_bench(project)
    for args, named in (
        (["--time-budget", "-1"], "--time-budget -1.0: give the gate's minutes, above 0"),
        (["--time-budget", "nan"], "--time-budget nan"),
        (["--run-name", "a/b"], "--run-name 'a/b': give a name usable in a file name"),
        (["--run-name", ""], "--run-name '': give a name"),
        (["--profile", "bogus"], "--profile 'bogus': not a profile; give one of seed, ci, sweep"),
    ):
        proc = nightly(project, "run", "--run-name", "n", *args, "--", *TESTS)
        assert proc.returncode == 2 and named in " ".join(proc.stderr.split()), proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and saved(project) == []
    (tmp_path / "afile").write_text("x")
    proc = nightly(project, "baseline", "--storage", str(tmp_path / "afile"))
    assert proc.returncode == 2 and "that is a file" in proc.stderr
    night = nightly(project, "run", "--run-name", "n-1", "--storage", str(tmp_path / "runs"), *NIGHT, *TESTS)
    assert night.returncode == 0, night.stdout[-3000:] + night.stderr[-2000:]
    assert [p.name for p in (tmp_path / "runs" / "T").glob("*.json")] == ["0001_n-1.json"] and saved(project) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux): an output that cannot be written")
def test_a_night_whose_output_cannot_be_written_says_so_in_one_line(project):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "mlxbench.tools.nightly", "baseline"],
            cwd=project.path,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "MLXBENCH_MACHINE_ID": "T"},
            timeout=60,
        )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot write its output (standard output): No space left on device" in proc.stderr


def test_a_night_with_the_processes_design_gets_no_time_budget(tmp_path, monkeypatch):
    """--time-budget is the paired design's; given to `--design processes` the gate refused to run."""
    from conftest import make_run
    from mlxbench.tools import nightly as tool

    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    folder = tmp_path / "baselines" / "T"
    folder.mkdir(parents=True)
    (folder / "0001_seed.json").write_text(json.dumps(make_run({"t::a[numpy]": ([1.0] * 5, {})}, profile="seed")))
    commands = []
    monkeypatch.setattr(
        tool.subprocess, "run", lambda cmd, **kw: commands.append(cmd) or subprocess.CompletedProcess(cmd, 0)
    )
    common = ["run", "--storage", str(tmp_path / "baselines"), "--run-name", "n-1", "--a", sys.executable]
    assert tool.main([*common, "--ab=--design=processes", "--ab=--processes=3", "--", "benchmarks"]) == 0
    assert "--time-budget" not in commands[0] and "--design=processes" in commands[0]
    assert tool.main([*common, "--time-budget", "5", "--", "benchmarks"]) == 0
    assert commands[2][commands[2].index("--time-budget") + 1] == "5.0"
    assert f"--benchmark-storage={tmp_path / 'baselines'}" in commands[1]  # the night is saved into --storage
