"""Nothing lost, nothing incomplete read as complete: interrupted and failed sessions, unwritable
folders, atomic run files, and option values that cannot work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from fnmatch import fnmatch

import pytest

from conftest import said, write_bench
from mlxbench.session.saving import atomic_write


def test_atomic_write_never_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "0001_x.json"
    atomic_write(target, b"{}")
    assert target.read_bytes() == b"{}"
    with pytest.raises(FileExistsError):
        atomic_write(target, b"[]")
    assert target.read_bytes() == b"{}" and sorted(p.name for p in tmp_path.iterdir()) == ["0001_x.json"]


def ctrl_c_on() -> None:
    """In the child: Ctrl-C as a terminal delivers it (a job started in the background, like a CI
    script run with `&`, inherits SIGINT ignored, and Python then leaves it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_saves_no_run_and_keeps_the_partial_data_under_another_name(project):
    """A real SIGINT to a benchmark session: no NNNN_*.json appears, the finished benchmarks are kept
    in a .partial file that nothing reads as a run, and the terminal says where."""
    project.makepyfile(
        test_slow=textwrap.dedent("""
        import pytest
        import mlxbench_fake

        @pytest.mark.parametrize("i", range(4))
        def test_slow(bench, i):
            bench.run(mlxbench_fake.WORKLOAD, "ok")
        """)
    )
    # Ctrl-C in the middle of the second benchmark (each makes 8 calls: calibration, warm-up, 6 rounds),
    # delivered by the process to itself: the same moment on every machine, however loaded
    env = {
        **os.environ,
        "PYTHONPATH": str(project.path / "site"),
        "FAKE_DELAY": "0.01",
        "MLXBENCH_MACHINE_ID": "T",
        "FAKE_SIGINT_AT_CALL": "12",
    }
    cmd = [sys.executable, "-m", "pytest", "test_slow.py", "-v", "--backend", "numpy", "--benchmark-autosave"]
    proc = subprocess.Popen(
        cmd,
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=ctrl_c_on,
    )
    out = proc.stdout.read()
    assert proc.wait(timeout=60) == pytest.ExitCode.INTERRUPTED, out
    folder = project.path / "baselines" / "T"
    assert list(folder.glob("[0-9][0-9][0-9][0-9]_*.json")) == [], out
    (partial,) = folder.glob("incomplete-interrupted-*.json.partial")
    data = json.loads(partial.read_text())
    assert data["mlxbench"]["incomplete"] == "interrupted" and 1 <= len(data["benchmarks"]) < 4
    assert "did not finish cleanly (interrupted): it was NOT saved as a run" in out
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_an_interrupt_hidden_by_a_crashing_reporter_still_saves_no_run(project):
    """pytest's own Ctrl-C reporter can crash on a traceback and leave the status at 0: the
    save decision rests on the interrupt the suite saw, not on that status."""
    project.makepyfile(
        test_slow=textwrap.dedent("""
        import pytest
        import mlxbench_fake

        @pytest.mark.parametrize("i", range(3))
        def test_slow(bench, i):
            bench.run(mlxbench_fake.WORKLOAD, "ok")
        """)
    )
    project.makeconftest("def pytest_keyboard_interrupt(excinfo):\n    raise TypeError('reporter crashed')\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(project.path / "site"),
        "FAKE_DELAY": "0.01",
        "MLXBENCH_MACHINE_ID": "T",
        "FAKE_SIGINT_AT_CALL": "12",
    }
    cmd = [sys.executable, "-m", "pytest", "test_slow.py", "--backend", "numpy", "--benchmark-autosave"]
    proc = subprocess.run(
        cmd, cwd=project.path, env=env, capture_output=True, text=True, timeout=120, preexec_fn=ctrl_c_on
    )
    folder = project.path / "baselines" / "T"
    assert list(folder.glob("[0-9][0-9][0-9][0-9]_*.json")) == [], proc.stdout + proc.stderr
    assert len(list(folder.glob("incomplete-interrupted-*.json.partial"))) == 1, proc.stdout + proc.stderr


def test_a_failed_session_is_not_saved_as_a_run(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    write_bench(project, variant="wrong")  # the accuracy gate fails
    result = project.runpytest("--backend", "numpy", "--benchmark-autosave", "--benchmark-json=run.json")
    result.assert_outcomes(failed=1)
    folder = project.path / "baselines" / "T"
    assert list(folder.glob("[0-9][0-9][0-9][0-9]_*.json")) == []
    assert len(list(folder.glob("incomplete-failed-*.json.partial"))) == 1
    assert not (project.path / "run.json").exists() and (project.path / "run.json.partial").exists()
    result.stdout.fnmatch_lines(["*did not finish cleanly (failed): it was NOT saved as a run*"])


def test_a_session_that_timed_nothing_names_no_file_it_did_not_keep(project, monkeypatch):
    """Every benchmark failed before its first timed round: pytest-benchmark writes nothing, and the closing
    line says that no data was kept instead of naming files that do not exist."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    write_bench(project, variant="broken")  # raises inside the measured call
    result = project.runpytest("--backend", "numpy", "--benchmark-autosave", "--benchmark-json=out3.json")
    result.assert_outcomes(failed=1)
    assert not list(project.path.rglob("*.partial")) and not (project.path / "out3.json").exists()
    text = " ".join(result.stdout.str().split())
    assert "it was NOT saved as a run" in text and "no benchmark recorded a time, so there was no data to keep" in text
    assert "kept in" not in text


def _three_saved_runs_then_slower(project, monkeypatch) -> None:
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    write_bench(project, name="test_a")
    write_bench(project, name="test_b")
    monkeypatch.setenv("FAKE_DELAY", "0.003")
    for _ in range(3):
        project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=2)
    monkeypatch.setenv("FAKE_DELAY", "0.03")  # ten times slower: more than load makes of a 3 ms sleep


def test_a_regressed_run_cut_short_by_x_is_not_saved_as_complete(project, monkeypatch):
    """-x stops at the first regression: the benchmarks after it never ran, so the run is not complete."""
    _three_saved_runs_then_slower(project, monkeypatch)
    result = project.runpytest("--backend", "numpy", "--regression-gate", "--benchmark-autosave", "-x")
    result.assert_outcomes(failed=1)
    folder = project.path / "baselines" / "T"
    assert not list(folder.glob("0004_*.json")) and len(list(folder.glob("incomplete-failed-*.partial"))) == 1


def test_a_regression_beside_another_failure_is_not_saved_as_complete(project, monkeypatch):
    """Only failures on a verdict leave the run complete: a failed accuracy gate beside one still diverts it."""
    _three_saved_runs_then_slower(project, monkeypatch)
    write_bench(project, variant="wrong", name="test_wrong")  # the accuracy gate fails
    result = project.runpytest("--backend", "numpy", "--regression-gate", "--benchmark-autosave")
    result.assert_outcomes(failed=3)
    folder = project.path / "baselines" / "T"
    assert not list(folder.glob("0004_*.json")) and len(list(folder.glob("incomplete-failed-*.partial"))) == 1


def test_only_failures_on_a_regressed_verdict_leave_a_run_complete():
    from types import SimpleNamespace

    from mlxbench.session.saving import failed_only_by_verdicts

    regressed = SimpleNamespace(fullname="t::a", extra_info={"verdict": {"verdict": "regressed"}})
    unchanged = SimpleNamespace(fullname="t::b", extra_info={"verdict": {"verdict": "unchanged"}})
    assert failed_only_by_verdicts(set(), [regressed, unchanged])  # the gate judged nothing: still complete
    assert failed_only_by_verdicts({"t::a"}, [regressed, unchanged])
    assert not failed_only_by_verdicts({"t::a", "t::b"}, [regressed, unchanged])
    assert not failed_only_by_verdicts({"t::a", "test_x.py"}, [regressed])  # a collection error beside it


def test_a_gate_with_an_empty_baseline_fails_loudly(project, monkeypatch):
    from conftest import make_run

    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    folder = project.path / "baselines" / "T"
    folder.mkdir(parents=True)
    from mlxbench.measure import machine
    from mlxbench.registry import Registry

    facts = machine.stable_facts(Registry.load().distributions)  # this machine: only the benchmarks are missing
    (folder / "0001_empty.json").write_text(json.dumps(make_run({}, facts, profile="seed")))
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--regression-gate", "--allow-version-change")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*mlxbench: ERROR: the regression gate judged none of the 1 benchmark*"])


def test_an_unwritable_baselines_folder_is_a_usage_error_before_running(project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--benchmark-autosave", f"--benchmark-storage={blocker}/runs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fnmatch(said(result.stderr.str()), "*cannot save runs into *a-file/runs/*--benchmark-storage=PATH*")
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", ""], "*--backend '' names no backend; give one or more of: mlx-cpu*"),
        (["--backend", " , "], "*names no backend*"),
        (["--seed", "-1"], "*--seed -1: a seed is a non-negative integer*"),
        (["--regression-threshold", "5"], "*threshold 5.0 is out of range; give a fraction between 0 and 1*500%*"),
        (["--regression-threshold", "0"], "*threshold 0.0 is out of range*"),
        (["--threads", "0"], "*--threads 0: give a whole number of threads, 1 or more*"),
    ],
)
def test_option_values_that_cannot_work_are_usage_errors(project, args, message):
    write_bench(project)
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fnmatch(said(result.stderr.str()), message)


def test_a_benchmark_json_path_that_cannot_be_written_is_a_usage_error_before_running(project, tmp_path):
    """It was found at the end: the run went to the temporary folder and pytest exited 0."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    write_bench(project)
    for path, message in (
        (tmp_path / "a-dir", "*--benchmark-json *a-dir: that is a folder; name a file in it*"),
        (tmp_path / "a-file" / "run.json", "*--benchmark-json *run.json: *a-file is a file, not a folder*"),
    ):  # the same on every pytest-benchmark: before 5.3.1 its argparse type opened the file, now it takes a path
        result = project.runpytest("--backend", "numpy", f"--benchmark-json={path}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert fnmatch(said(result.stderr.str()), message)  # pytest's usage error
        assert "passed" not in result.stdout.str()
    fresh = tmp_path / "new" / "folders" / "run.json"  # missing folders are made, as --out's are
    result = project.runpytest("--backend", "numpy", f"--benchmark-json={fresh}")
    result.assert_outcomes(passed=1)
    assert json.loads(fresh.read_text())["benchmarks"]


def test_a_data_dir_that_is_a_file_says_so(project, tmp_path):
    f = tmp_path / "mnist.gz"
    f.write_text("")
    write_bench(project)
    result = project.runpytest(f"--data-dir={f}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*data directory '{f}' is a file, not a folder*"])


def test_storage_outside_the_working_directory_with_another_machine_info(project, monkeypatch, tmp_path_factory):
    """pytest-benchmark names its storage relative to the working directory and crashed (INTERNALERROR) on a
    folder outside it whose baseline's machine_info differs (ionelmc/pytest-benchmark#217)."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    storage = tmp_path_factory.mktemp("elsewhere")
    write_bench(project)
    project.runpytest("--backend", "numpy", f"--benchmark-storage={storage}", "--benchmark-autosave").assert_outcomes(
        passed=1
    )
    (saved,) = (storage / "T").glob("0001_*.json")
    run = json.loads(saved.read_text())
    run["machine_info"]["node"] = "another-node"
    saved.write_text(json.dumps(run))
    result = project.runpytest("--backend", "numpy", f"--benchmark-storage={storage}", "--benchmark-compare")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*machine_info differs from this machine's in: node*"])
