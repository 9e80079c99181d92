"""Bad input to `mlxbench compare` / `report`: exit 2, one line on stderr naming the problem, never a traceback
(exit 1 means "regression"), and no existing file changed or lost. Each command runs as `python -m mlxbench` runs
it, in this process (conftest.mlxbench_main); a new interpreter says the same (the first test)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_run, messages, mlxbench_main

ROOT = Path(__file__).parents[1]
MACHINE = "Test-Box"
INFO = {"workload": "linreg", "variant": "eager", "backend": "numpy"}


def samples(center: float, seed: int, n: int = 8) -> list[float]:
    return list(center * np.random.default_rng(seed).lognormal(0, 0.02, n))


def save(path: Path, run: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))  # json writes NaN as NaN, as a damaged file would hold it
    return path


def good_run(center: float = 1.0, seed: int = 0) -> dict:
    return make_run({"t::a[numpy]": (samples(center, seed), INFO)})


ENV = {"MLXBENCH_MACHINE_ID": MACHINE, "MPLBACKEND": "Agg"}


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`mlxbench ARGS` in `cwd`, run here as `python -m mlxbench` runs it."""
    proc = mlxbench_main(*args, cwd=cwd, env={**ENV, "MLXBENCH_DEBUG": None})
    proc.cwd = cwd  # type: ignore[attr-defined]  # messages name paths under it relative to it
    return proc


def interpreter(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m mlxbench ARGS` in `cwd`, in a new interpreter."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    env.pop("MLXBENCH_DEBUG", None)
    cmd = [sys.executable, "-m", "mlxbench", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def assert_bad_input(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, exactly one message on stderr (one line, wrapped at 120 columns with its continuations
    indented) that says each needle, no traceback anywhere."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert lines and lines[0].startswith("mlxbench: ") and all(x.startswith("  ") for x in lines[1:]), lines
    assert all(len(x) <= 120 or len(x.split()) == 1 for x in lines), lines  # a long path stays whole
    message = " ".join(" ".join(lines).split())
    here = f"{Path(getattr(proc, 'cwd', '.')).resolve()}{os.sep}"
    for needle in needles:
        assert needle.replace(here, "") in message, (needle, message)
    return message


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_command_run_here_says_and_exits_as_a_new_interpreter_does(tmp_path):
    """Bad input, a usage error and a comparison, in this process and in a new interpreter: the same exit status,
    the same stdout, the same stderr."""
    damaged = good_run()
    damaged["benchmarks"][0]["stats"] = {}
    bad, base = save(tmp_path / "bad.json", damaged), save(tmp_path / "base.json", good_run())
    cur = save(tmp_path / "cur.json", good_run(1.0, 1))
    for args in (["compare", str(base), str(bad)], ["frobnicate"], ["compare", str(base), str(cur)]):
        here, there = cli(tmp_path, *args), interpreter(tmp_path, *args)
        assert (here.returncode, here.stdout, here.stderr) == (there.returncode, there.stdout, there.stderr), args
    assert [here.returncode, bool(here.stdout)] == [0, True]  # the comparison said something, the same


def test_a_folder_given_as_a_run(tmp_path):
    runs = tmp_path / "somedir"
    save(runs / "0001_x.json", good_run())
    base = save(tmp_path / "base.json", good_run())
    assert_bad_input(cli(tmp_path, "compare", str(runs), str(base)), str(runs), "is a folder, not a run", "0001_x.json")
    assert_bad_input(cli(tmp_path, "report", str(runs), "--out", "rep"), "is a folder")
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize(
    ("stats", "needle"),
    [
        ({}, "stats lack 'median'"),
        ({"median": math.nan, "rounds": 5, "data": [1.0] * 5}, "stats 'median' is nan"),
        ({"median": -4.42e-2, "rounds": 5, "data": [1.0] * 5}, "stats 'median' is -0.0442"),
        ({"median": 1.0, "rounds": 5, "data": [1.0, math.nan]}, "'data' holds 1 bad per-round time"),
        ({"median": 1e300, "rounds": 5, "data": [1e300] * 5}, "stats 'median' is 1e+300 s (more than a day per round"),
        ({"median": 1.0, "rounds": 2, "data": [1.0, 1e300]}, "'data' holds 1 bad per-round time(s), e.g. 1e+300"),
        ({"median": 0.0, "rounds": 5, "data": [0.0] * 5}, "stats 'median' is 0 (a round takes some time"),
        ({"median": 5.0, "min": 1.0, "max": 2.0, "rounds": 5, "data": [1.0, 2.0]}, "lies outside its rounds' min"),
    ],
    ids=["empty", "nan", "negative", "nan-sample", "huge", "huge-sample", "zero", "median-outside"],
)
def test_damaged_stats_are_refused_by_compare_and_report(tmp_path, stats, needle):
    """Impossible values are damage wherever the run is given: as current, as baseline, to report."""
    run = good_run()
    run["benchmarks"][0]["stats"] = stats
    bad = save(tmp_path / "bad.json", run)
    before = bad.read_bytes()
    base = save(tmp_path / "base.json", good_run())
    assert_bad_input(cli(tmp_path, "compare", str(base), str(bad)), str(bad), "t::a[numpy]", needle, "rerun")
    assert_bad_input(cli(tmp_path, "compare", str(bad), str(base)), str(bad), needle)
    assert_bad_input(cli(tmp_path, "report", str(bad), "--out", "rep"), str(bad), needle)
    assert not (tmp_path / "rep").exists()  # not even an empty output folder
    assert bad.read_bytes() == before


def test_a_file_nested_too_deeply_is_damage_not_a_crash(tmp_path):
    """Python's JSON parser recurses: a hostile file of arrays 100,000 deep was an internal error (exit 3)."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    base = save(tmp_path / "base.json", good_run())
    assert_bad_input(cli(tmp_path, "compare", str(base), str(deep)), str(deep), "nested too deeply")
    assert_bad_input(cli(tmp_path, "report", str(deep), "--out", "rep"), str(deep), "nested too deeply")
    ab = tmp_path / "ab"
    ab.mkdir()
    (ab / "verdicts.json").write_text(deep.read_text())
    assert_bad_input(cli(tmp_path, "report", str(ab)), "verdicts.json", "nested too deeply")
    assert not (tmp_path / "rep").exists() and not (ab / "report").exists()


def test_an_ab_folder_that_ended_before_judging_says_so(tmp_path):
    """An interrupted `mlxbench ab` keeps its pairs' samples but writes no verdicts.json."""
    ab = tmp_path / "ab-runs" / "20261130-200518"
    (ab / "pair-01").mkdir(parents=True)
    (ab / "pair-01" / "pair.json").write_text('{"times": {}}')
    assert_bad_input(cli(tmp_path, "report", str(ab)), "is an A/B folder without verdicts.json", "ended before judging")
    assert not (ab / "report").exists()


@pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) for an output that cannot be written"
)
def test_an_output_stream_that_cannot_be_written_is_one_line(tmp_path):
    """stdout to a full disk: the message named an empty path (`mlxbench: : No space left on device`)."""
    base, cur = save(tmp_path / "a.json", good_run()), save(tmp_path / "b.json", good_run(1.0, 1))
    env = {**os.environ, "MLXBENCH_MACHINE_ID": MACHINE, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "mlxbench", "report", str(base), str(cur), "--format", "summary", "--out", "rep"],
            cwd=tmp_path,
            env=env,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("mlxbench: cannot write this command's output (No space left on device)")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["baselines/Test-Box/0001_a.json", "--history", "3"], "--history chooses among saved runs when none are"),
        (["--machines", "--reference", "numpy"], "--reference: not for --machines"),
        (["--machines", "--baseline", "0001"], "--baseline: not for --machines"),
        (["baselines/Test-Box/0001_a.json", "--allow-version-change"], "--allow-version-change acts on --baseline"),
    ],
    ids=["history-with-named-runs", "machines-reference", "machines-baseline", "version-change-without-baseline"],
)
def test_report_options_that_would_do_nothing_are_refused(tmp_path, args, needle):
    save(
        tmp_path / "baselines" / MACHINE / "0001_a.json",
        make_run({"t::a[numpy]": (samples(1.0, 0), INFO)}, profile="seed"),
    )
    assert_bad_input(cli(tmp_path, "report", *args, "--out", "rep"), needle)
    assert not (tmp_path / "rep").exists()


def test_an_empty_baseline_is_not_a_pass(tmp_path):
    empty = make_run({})
    base = save(tmp_path / "empty.json", empty)
    cur = save(tmp_path / "cur.json", good_run())
    said = assert_bad_input(cli(tmp_path, "compare", str(base), str(cur)), "no benchmark in common")
    assert said.startswith("mlxbench: empty.json and cur.json have no benchmark in common")  # relative to the cwd
    (tmp_path / "elsewhere").mkdir()
    assert str(base) in assert_bad_input(cli(tmp_path / "elsewhere", "compare", str(base), str(cur)))  # else as given
    assert_bad_input(cli(tmp_path, "report", str(base), "--out", "rep"), "holds no benchmarks")


def test_a_run_without_usable_times_is_judged_by_nobody_and_says_so(tmp_path):
    run = good_run()
    run["benchmarks"][0]["stats"]["data"] = []  # saved without per-round samples
    cur = save(tmp_path / "cur.json", run)
    base = save(tmp_path / "base.json", good_run())
    proc = cli(tmp_path, "compare", str(base), str(cur))
    assert proc.returncode == 0 and not proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "no verdicts: the regression gate judged none of the 1 benchmark (" in out
    assert "no usable per-round times" in out and "not judged (1)" in out


def test_output_folder_that_cannot_be_written(tmp_path):
    run = save(tmp_path / "0001_a.json", good_run())
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    assert_bad_input(cli(tmp_path, "report", str(run), "--out", str(blocker)), "is a file, not a folder")
    assert_bad_input(
        cli(tmp_path, "report", str(run), "--out", str(blocker / "rep")), "afile is a file, not a folder; name a folder"
    )
    assert blocker.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    run = save(tmp_path / "0001_a.json", good_run())
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert_bad_input(cli(tmp_path, "report", str(run), "--out", str(locked)), "cannot write the report")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_report_refuses_to_overwrite_a_users_plot(tmp_path):
    run = save(tmp_path / "0001_a.json", good_run())
    out = tmp_path / "rep"
    out.mkdir()
    (out / "bars_linreg.png").write_bytes(b"my own picture")
    before = snapshot(tmp_path)
    assert_bad_input(cli(tmp_path, "report", str(run), "--format", "md", "--out", str(out)), "bars_linreg.png")
    assert snapshot(tmp_path) == before  # report.md was not written either
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_report_of_saved_runs_names_the_unreadable_ones(tmp_path):
    folder = tmp_path / "baselines" / MACHINE
    save(folder / "0001_a.json", good_run())
    broken = folder / "0002_b.json"
    broken.write_text('{"benchmarks": [')
    nan_run = good_run()
    nan_run["benchmarks"][0]["stats"]["median"] = math.nan
    save(folder / "0003_c.json", nan_run)
    before = snapshot(folder)
    proc = cli(tmp_path, "report", "--out", "rep")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    problems = messages(proc.stderr)
    assert len(problems) == 2 and all("unreadable saved run, not reported and left as is" in p for p in problems)
    assert "0002_b.json" in problems[0] and "not valid JSON" in problems[0]
    assert "0003_c.json" in problems[1] and "is nan" in problems[1]
    assert (tmp_path / "rep" / "report.md").is_file()
    assert snapshot(folder) == before


def test_a_nan_run_in_the_history_is_named_and_left_out_of_the_gate(tmp_path):
    folder = tmp_path / "runs"
    for i in range(4):
        save(folder / f"000{i + 1}_run.json", good_run(1.0, 10 + i))
    nan_run = good_run(1.0, 30)
    nan_run["benchmarks"][0]["stats"]["data"][0] = math.nan
    save(folder / "0002_nan.json", nan_run)
    cur = save(tmp_path / "cur.json", good_run(1.4, 20))
    proc = cli(tmp_path, "compare", str(folder / "0004_run.json"), str(cur))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the regression is still seen
    assert "0002_nan.json" in proc.stderr and "not used as history" in proc.stderr
    assert "of the geometric mean of 4 saved runs" in proc.stdout and "judged 1 of 1 benchmark)" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "0042", "0043"],
        ["compare", "/nonexistent/dir/0042", "x"],
        ["compare", "", "x"],
        ["report", "--history", "0"],
        ["report", "--format", "pdf"],
        ["compare", "a.json", "b.json", "--threshold", "nan"],
        ["frobnicate"],
    ],
    ids=[
        "missing-ids",
        "absolute-missing",
        "empty",
        "history-0",
        "bad-format",
        "nan-threshold",
        "no-command",
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path, args):
    save(tmp_path / "baselines" / MACHINE / "0001_a.json", good_run())
    assert_bad_input(cli(tmp_path, *args))
    assert not (tmp_path / "reports").exists()
