"""Nothing lost, nothing hidden, nothing unbounded: a test per principle."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import make_run, mlxbench_main, said
from mlxbench.runs import BadRun, load_run
from mlxbench.session import saving
from mlxbench.verdicts.verdict import median_ci

INFO = {"workload": "w", "variant": "v", "backend": "numpy"}


def cli(*args, cwd=None, env=None):
    """`mlxbench ARGS`, run here as `python -m mlxbench` runs it (tests/test_cli_errors.py: a new interpreter says
    the same)."""
    return mlxbench_main(*args, cwd=cwd, env=env)


def write(path: Path, run: dict) -> Path:
    path.write_text(json.dumps(run))
    return path


@pytest.mark.parametrize(
    "where, value, named",
    [
        ("extra_info", "oops", "'extra_info' is a str"),
        ("gates", "oops", "'extra_info.gates' is a str"),
        ("metrics", [1], "'extra_info.metrics' is a list"),
        ("machine_info", "oops", "'machine_info' is a str"),
        ("versions", "2.0", "'machine_info.mlxbench.versions' is a str"),
        ("mlxbench", 3, "the 'mlxbench' block is a int"),
        ("profile", 7, "'mlxbench.profile' is a int"),
    ],
)
def test_every_field_the_suite_reads_is_checked_where_it_is_read(tmp_path, where, value, named):
    run = make_run({"t::a[numpy]": ([1.0] * 5, dict(INFO))})
    if where == "extra_info":
        run["benchmarks"][0]["extra_info"] = value
    elif where in ("gates", "metrics"):
        run["benchmarks"][0]["extra_info"][where] = value
    elif where == "machine_info":
        run["machine_info"] = value
    elif where == "versions":
        run["machine_info"]["mlxbench"] = {**run["machine_info"]["mlxbench"], "versions": value}
    elif where == "mlxbench":
        run["mlxbench"] = value
    else:
        run["mlxbench"]["profile"] = value
    path = write(tmp_path / "0001_x.json", run)
    with pytest.raises(BadRun, match=r"0001_x\.json") as exc:
        load_run(path)
    assert named in str(exc.value)
    proc = cli("report", str(path), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and named in said(proc.stderr) and "Traceback" not in proc.stderr


def test_every_committed_run_still_loads():
    """The checks on what is read must accept every run this project ever saved (history is never rewritten)."""
    root = Path(__file__).resolve().parents[2] / "baselines"
    paths = sorted(root.glob("*/*.json"))
    assert paths
    for path in paths:
        assert load_run(path).benchmarks, path


def test_a_partial_file_is_never_read_as_a_run(tmp_path):
    good = make_run({"t::a[numpy]": ([1.0] * 5, INFO)})
    partial = write(tmp_path / "incomplete-interrupted-20261130T000000Z.json.partial", good)
    for args in (("compare", str(partial), str(partial)), ("report", str(partial), "--out", str(tmp_path / "r"))):
        proc = cli(*args)
        assert proc.returncode == 2 and "not a complete run" in proc.stderr, proc.stderr


def test_report_reference_must_name_a_backend_of_the_run(tmp_path):
    path = write(tmp_path / "0001_x.json", make_run({"t::a[numpy]": ([1.0] * 5, INFO)}))
    for bogus in ("bogus", ""):
        proc = cli("report", str(path), "--reference", bogus, "--out", str(tmp_path / "r"))
        assert proc.returncode == 2 and "give one of: numpy" in proc.stderr and not (tmp_path / "r").exists()


def test_an_arm_that_cannot_run_the_suite_is_one_line_naming_arm_and_fix(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'numpy'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    proc = cli("ab", "--a", str(fake), "--pairs", "3", "--out", str(tmp_path / "ab"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines[0].startswith("mlxbench: ") and all(x.startswith("  ") for x in lines[1:])
    assert "arm A:" in proc.stderr and "No module named 'numpy'" in proc.stderr and "pip install -e" in proc.stderr
    missing = cli("ab", "--b", str(tmp_path / "nope"), "--pairs", "3", "--out", str(tmp_path / "ab"))
    assert missing.returncode == 2 and "arm B: cannot start" in missing.stderr
    assert not (tmp_path / "ab").exists()


class Storage:
    """pytest-benchmark's FileStorage, as much of it as mlxbench.session.saving uses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.logger = SimpleNamespace(info=lambda *a, **k: None)

    @property
    def _next_num(self) -> str:
        nums = [int(p.name[:4]) for p in self.path.glob("[0-9][0-9][0-9][0-9]_*.json")]
        return f"{max(nums, default=0) + 1:04}"

    def get(self, name: str) -> Path:
        return self.path / name


def test_two_sessions_saving_at_once_both_land_under_distinct_numbers(tmp_path):
    """The second session computed its number (0001) before the first saved: it takes the next one."""

    class Stale(Storage):
        _next_num = "0001"  # what a session beside the first one computed a moment earlier

    written: list[str] = []
    first, second = (
        SimpleNamespace(storage=Storage(tmp_path), json=None),
        SimpleNamespace(storage=Stale(tmp_path), json=None),
    )
    saving.install(first, written)
    saving.install(second, written)
    first.storage.save({"run": 1}, "a")
    second.storage.save({"run": 2}, "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001_a.json", "0002_b.json"]  # no claim file left
    assert [Path(w.removeprefix("saved ")).name for w in written] == ["0001_a.json", "0002_b.json"]
    (tmp_path / ".0003.claim").touch()  # a claim a killed session left behind: that number is skipped
    first.storage.save({"run": 3}, "c")
    assert (tmp_path / "0004_c.json").exists()


def test_a_save_into_a_storage_that_broke_keeps_the_run_and_says_where(tmp_path):
    written: list[str] = []
    gone = tmp_path / "gone"  # a storage folder that vanished (or became read-only) during the run
    bsession = SimpleNamespace(storage=Storage(gone), json=None)
    saving.install(bsession, written)
    bsession.storage.save({"benchmarks": [1, 2, 3]}, "x")
    (line,) = written
    assert line.startswith("could not save the run into") and ".partial" in line
    kept = Path(line.rsplit("kept in ", 1)[1].split(";")[0])
    assert f"mv {kept} {gone}/0001_x.json (this session exits 6)" in line  # the command that moves it in
    assert json.loads(kept.read_text()) == {"benchmarks": [1, 2, 3]}
    kept.unlink()


def test_a_named_json_output_is_replaced_only_once_complete(tmp_path):
    target = tmp_path / "precious.json"
    target.write_text("old")
    written: list[str] = []
    bsession = SimpleNamespace(json=str(target), save_json=None)
    saving.install(bsession, written)
    bsession.save_json({"new": True})
    assert json.loads(target.read_text()) == {"new": True} and written == [f"wrote {target}"]
    assert [p.name for p in tmp_path.iterdir()] == ["precious.json"]  # no temporary file left


def test_completeness_comes_from_what_the_suite_knows():
    from mlxbench.session.context import RunContext

    context = RunContext()
    full = SimpleNamespace(extra_info={"rounds_planned": 5}, stats=SimpleNamespace(data=[1.0] * 5))
    short = SimpleNamespace(extra_info={"rounds_planned": 5}, stats=SimpleNamespace(data=[1.0] * 2))
    assert saving.incomplete_reason(context, [full]) is None
    assert saving.incomplete_reason(context, [full, short]) == "unfinished"
    watch = saving.SessionWatch(context)
    watch.pytest_collectreport(SimpleNamespace(failed=True, nodeid="benchmarks/test_broken.py"))
    watch.pytest_runtest_logreport(SimpleNamespace(failed=False, nodeid="t::a"))
    assert context.failed == {"benchmarks/test_broken.py"}  # a module never collected: its benchmarks never ran
    watch.pytest_keyboard_interrupt(excinfo=None)
    assert saving.incomplete_reason(context, [full]) == "interrupted"


def test_a_median_interval_costs_time_linear_in_the_samples():
    """Order statistics (one partial sort), no resampling: its cost grows with the samples, not their square."""
    rng = np.random.default_rng(0)
    data = rng.lognormal(0, 0.1, 1_000_000)
    lo, hi = median_ci(data, float(np.median(data)))
    assert lo < np.median(data) < hi and hi / lo < 1.001
    small = median_ci([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 5.5)
    assert small[0] <= 5.5 <= small[1]


@pytest.mark.parametrize(
    "env, args, said_",
    [
        ({"MLXBENCH_POINT_BUDGET": "abc"}, [], "MLXBENCH_POINT_BUDGET='abc': give the seconds a sweep point may take"),
        ({}, ["--benchmark-compare=9999"], "--benchmark-compare=9999: no saved run '9999'"),
        ({"MLXBENCH_DOWNLOAD_TIMEOUT": "abc"}, [], "MLXBENCH_DOWNLOAD_TIMEOUT='abc' is not a number of seconds"),
        ({"MLXBENCH_DOWNLOAD_TIMEOUT": "-1"}, [], "MLXBENCH_DOWNLOAD_TIMEOUT='-1' is not a number of seconds"),
    ],
)
def test_a_bad_setting_stops_the_run_before_it_starts(project, monkeypatch, env, args, said_):
    """Every input is checked where it is read, at configure: a usage error, no test run, nothing saved."""
    from conftest import write_bench

    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    write_bench(project)
    (project.path / "baselines" / "T").mkdir(parents=True)
    result = project.runpytest_subprocess("--backend", "numpy", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert said_ in said(result.stderr.str()) and "Traceback" not in result.stderr.str()


def test_a_usage_error_fits_120_columns_and_names_many_saved_runs_briefly(project, monkeypatch):
    """A missing run id in a folder of many saved runs: the message names how many and the last ones, not every
    run, and each line pytest prints after its "ERROR: " prefix fits 120 columns."""
    from conftest import write_bench

    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T" * 80)
    write_bench(project)
    folder = project.path / "baselines" / ("T" * 80)
    folder.mkdir(parents=True)
    for i in range(1, 41):
        (folder / f"{i:04d}_3a8495e6125333265e18e717d456446c4603ca38_20261123_075926.json").write_text("{}")
    result = project.runpytest_subprocess("--backend", "numpy", "--benchmark-compare=9999")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    text = said(err)
    assert "no saved run '9999' in baselines/" in text and "Saved runs there: 40, from 0001_" in text
    assert "0038_" in text and "0040_" in text and "0020_" not in text
    assert all(len(line) <= 120 for line in err.splitlines()), err
