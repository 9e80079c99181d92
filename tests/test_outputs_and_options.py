"""Outputs a user names are written through when they are streams (never replaced), messages never change
an exit code however stdout encodes, and every option is checked before any work: one line, exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import messages
from mlxbench import cli, units
from mlxbench.measure import machine
from mlxbench.paths import descriptor_named, output_file_problem
from mlxbench.session import saving
from mlxbench.tools import replay

ROOT = Path(__file__).parents[1]
BASELINE = next((ROOT / "baselines" / "Linux-x86_64-Intel_R_Xeon_R_Processor-2c-nogpu-CPython-3.11").glob("0001_*"))
RECORD = ROOT / "tests" / "data" / "replay" / "cpu-numpy-torch-aa"
# a few rounds of pedantic: pytest-benchmark's own calibration would time `sum` for a whole second (its max_time)
TINY = "def test_tiny(benchmark):\n    benchmark.pedantic(sum, args=(range(100),), rounds=5)\n"


def child_env() -> dict[str, str]:
    """The environment of the commands these tests start: this one as it is when they start (with the session's
    settings, conftest's child_bytecode), the checkout first on the path."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def run_into(log: Path, mode: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`args` run with stdout and stderr redirected to `log`, opened as the shell's `>>` (mode "ab") or `>` ("wb")."""
    with log.open(mode) as out:
        cmd = [sys.executable, *args]
        return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=child_env(), timeout=300)


def json_after(text: str, earlier: str) -> dict:
    """The JSON document in `text` after `earlier` (where other output surrounds it)."""
    assert text.startswith(earlier), text[:200]
    start = text.index("{", len(earlier))
    doc, _ = json.JSONDecoder().raw_decode(text[start:])
    return doc


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "link"])
def test_benchmark_json_to_stdout_appended_to_a_log_keeps_the_log(tmp_path, name):
    """`pytest ... --benchmark-json /dev/stdout >> ci.log 2>&1`: the log's earlier lines stay, the JSON follows
    them in the same file (same inode), and pytest's own output is there too."""
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "link").symlink_to("/dev/stdout")
    log = tmp_path / "ci.log"
    log.write_text("earlier step: ok\n")
    inode = log.stat().st_ino
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py", "--benchmark-json", name]
    proc = run_into(log, "ab", *args, cwd=tmp_path)
    text = log.read_text()
    assert proc.returncode == 0, text[-2000:]
    assert log.stat().st_ino == inode
    doc = json_after(text, "earlier step: ok\n")
    assert [b["name"] for b in doc["benchmarks"]] == ["test_tiny"]
    assert "1 passed" in text and f"wrote {name}" in text


def test_benchmark_json_parsed_as_a_path_never_opened_when_the_command_line_is_read(pytester):
    """pytest-benchmark before 5.3.1 declares `--benchmark-json` as `argparse.FileType("wb")`, which truncates the
    file while pytest reads the command line: the option is made to take a path, so the file keeps what it holds
    until the suite writes it (the test above, on the lowest versions CI installs, runs the whole path)."""
    log = pytester.path / "ci.log"
    log.write_text("earlier step: ok\n")
    config = pytester.parseconfig("--benchmark-json", str(log))  # the command line read, as pytest reads it
    assert Path(str(config.option.benchmark_json)) == log and log.read_text() == "earlier step: ok\n"


def test_benchmark_json_to_stdout_truncated_log_and_pipe(tmp_path):
    """`> ci.log` (no append) and a pipe: the JSON goes where stdout goes, among pytest's own lines."""
    (tmp_path / "test_tiny.py").write_text(TINY)
    log = tmp_path / "ci.log"
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py", "--benchmark-json", "/dev/stdout"]
    assert run_into(log, "wb", *args, cwd=tmp_path).returncode == 0
    text = log.read_text()
    assert json_after(text, "")["benchmarks"] and "1 passed" in text[text.rindex("}") :]
    piped = subprocess.run(
        [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, env=child_env(), timeout=300
    )
    assert piped.returncode == 0 and json_after(piped.stdout, "")["benchmarks"]


def test_a_descriptor_is_written_through_at_its_end_never_replaced(tmp_path):
    log = tmp_path / "ci.log"
    log.write_text("kept\n")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        inode = log.stat().st_ino
        for name in (f"/dev/fd/{fd}", f"/proc/self/fd/{fd}", f"/proc/{os.getpid()}/fd/{fd}"):
            assert descriptor_named(Path(name)) == fd and output_file_problem(Path(name), "--json") is None
            saving.replace_atomically(Path(name), b'{"a": 1}')
    finally:
        os.close(fd)
    assert log.read_text() == "kept\n" + '{"a": 1}\n' * 3
    assert log.stat().st_ino == inode
    assert descriptor_named(Path("/dev/stdout")) == 1 and descriptor_named(tmp_path / "other.json") is None


def test_a_descriptor_that_is_not_open_for_writing_is_refused_before_anything(tmp_path):
    fd = os.open(BASELINE, os.O_RDONLY)
    try:
        assert "open for reading only" in output_file_problem(Path(f"/dev/fd/{fd}"), "--json")
    finally:
        os.close(fd)
    assert "is not open in this process" in output_file_problem(Path(f"/dev/fd/{fd}"), "--json")


def test_replay_json_to_stdout_appended_to_a_log_keeps_the_log(tmp_path):
    log = tmp_path / "replay.log"
    log.write_text("before\n")
    inode = log.stat().st_ino
    args = ["-m", "mlxbench.tools.replay", str(RECORD), "--trials", "3", "--json", "/dev/stdout"]
    assert run_into(log, "ab", *args, cwd=tmp_path).returncode == 0
    text = log.read_text()
    assert log.stat().st_ino == inode and "false alarms" in text
    assert json_after(text, "before\n")["trials"] == 3


def test_messages_that_stdout_cannot_encode_never_change_the_exit_code(tmp_path):
    """PYTHONIOENCODING=ascii: a report into a folder named with `ü` says what it wrote (as `\\xfc`), exit 0;
    compare's `µs` comes out as `\\xb5s`."""
    run = tmp_path / "run.json"
    shutil.copy(BASELINE, run)
    env = {**child_env(), "PYTHONIOENCODING": "ascii"}
    out = tmp_path / "dir with ü"
    cmd = [sys.executable, "-m", "mlxbench", "report", str(run), "--format", "json", "summary", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert b"wrote " in proc.stdout and b"dir with \\xfc" in proc.stdout
    assert (out / "report.json").is_file()
    twin = tmp_path / "twin.json"
    shutil.copy(BASELINE, twin)
    cmd = [sys.executable, "-m", "mlxbench", "compare", str(run), str(twin)]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert b"\\xb5s" in proc.stdout


def test_output_streams_are_put_back_as_they_were(capsys):
    before = (sys.stdout.errors, sys.stderr.errors)
    with units.tolerant_output():
        assert sys.stdout.errors == "backslashreplace"
    assert (sys.stdout.errors, sys.stderr.errors) == before


def one_line(err: str, needle: str) -> None:
    found = messages(err)
    assert len(found) == 1 and needle in found[0], err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--storage", "FILE", "compare", "0001", "0002"], "that is a file, not a folder"),
        (["--storage", "FILE", "report"], "that is a file, not a folder"),
        (["--storage", "", "report"], "argument --storage: an empty path"),
        (["report", "--out", ""], "argument --out: an empty path"),
        (["report", "--history", "0"], "--history 0: give the number of saved runs"),
        (["report", "--history", "-3", "--machines"], "--history -3: give the number of saved runs"),
        (["report", "--history", "5", "--machines"], "--history: not for --machines"),
        (["report", "--profile", ""], "--profile '': give a profile name"),
        (["report", "--machines", "a/b"], "--machines 'a/b': give the name of a machine folder"),
        (["report", "--machines", "FILE_IN_STORAGE"], "is a file, not a machine folder"),
        (["report", "--out", "FILE"], "that is a file, not a folder"),
        (["compare", "0001", "0002", "--threshold", "nan"], "--threshold nan is out of range"),
        (["compare", "0001", "0002", "--threshold", "-1"], "--threshold -1.0 is out of range"),
    ],
)
def test_cli_options_are_checked_before_any_work(tmp_path, monkeypatch, capsys, args, needle):
    storage = tmp_path / "baselines"
    (storage / machine.machine_id()).mkdir(parents=True)
    (storage / "plain.txt").write_text("not a machine")
    somefile = tmp_path / "somefile"
    somefile.write_text("x")
    monkeypatch.chdir(tmp_path)
    names = {"FILE": str(somefile), "FILE_IN_STORAGE": "plain.txt"}
    given = [names.get(a, a) for a in args]
    if "--storage" not in given:
        given = ["--storage", str(storage), *given]
    try:
        code = cli.main(given)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    one_line(capsys.readouterr().err, needle)


def test_a_storage_that_is_a_file_is_named_as_one(tmp_path, monkeypatch, capsys):
    somefile = tmp_path / "somefile"
    somefile.write_text("x")
    assert cli.main(["--storage", str(somefile), "compare", "0001", "0002"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "that is a file, not a folder" in err and "no saved run" not in err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--threshold", "-1"], "--threshold -1.0 is out of range"),
        (["--threshold", "nan"], "--threshold nan is out of range"),
        (["--trials", "100000000"], "--trials 100000000: give 1 to 10000"),
        (["--trials", "0"], "--trials 0: give 1 to 10000"),
        (["--pairs", "-4"], "--pairs -4: give 3 or more"),
        (["--rounds", "1"], "--rounds 1: give at least 2"),
        (["--alpha", "nan"], "--alpha nan: give a rate between 0 and 1"),
        (["--slowdown", "nan"], "--slowdown nan"),
        (["--slowdown", "-0.1"], "--slowdown -0.1"),
        (["--seed", "-1"], "--seed -1: give a whole number"),
        (["--slow", "linreg"], "--slow 'linreg' picks what --slowdown slows"),
        (["--slow", "nothing-like-it", "--slowdown", "0.1"], "--slow 'nothing-like-it' matches no benchmark"),
        (["--exclude", "test_workload"], "leaves out all 6 recorded benchmarks"),
        (["--exclude", "nothing-like-it"], "--exclude 'nothing-like-it' matches no recorded benchmark"),
        (["--json", "DIR"], "that is a folder; name a file in it"),
        (["--json", "FILE/x.json"], "is a file, not a folder"),
        (["--trials", "many"], "argument --trials: invalid int value"),
    ],
)
def test_replay_options_are_checked_before_any_work(tmp_path, capsys, args, needle):
    (tmp_path / "file").write_text("x")
    given = [a.replace("DIR", str(tmp_path)).replace("FILE", str(tmp_path / "file")) for a in args]
    try:
        code = replay.main([str(RECORD), "--trials", "2", *given])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""  # no figures printed before the refusal
    assert len(captured.err.strip().splitlines()) <= 2 and needle in " ".join(captured.err.split()), captured.err


def test_replay_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert replay.main([str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
