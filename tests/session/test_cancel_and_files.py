"""Every cancel is clean and every file is readable by the next step: SIGTERM and SIGHUP are
Ctrl-C, written files follow the umask and keep a replaced file's mode, links are written through, a
device is a stream, and a run that could not be saved fails the session."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import mlxbench_main, said
from mlxbench import cancel, cli
from mlxbench.session import saving

# a few rounds of pedantic: pytest-benchmark's own calibration would time `sum` for a whole second (its max_time)
TINY = "def test_tiny(benchmark):\n    benchmark.pedantic(sum, args=(range(100),), rounds=5)\n"


def session(tmp_path: Path, test: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "test_tiny.py").write_text(test)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_follow_the_umask_and_a_replaced_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        saving.replace_atomically(tmp_path / "new.json", b"{}")
        saving.atomic_write(tmp_path / "0001_run.json", b"{}")
        kept = tmp_path / "kept.json"
        kept.write_text("old")
        kept.chmod(0o640)
        saving.replace_atomically(kept, b"{}")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new.json") == 0o644 and mode(tmp_path / "0001_run.json") == 0o644
    assert mode(kept) == 0o640 and kept.read_text() == "{}"


def test_a_link_is_written_through_and_a_pipe_is_written_as_a_stream(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    saving.replace_atomically(link, b"new")
    assert link.is_symlink() and real.read_text() == "new"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    saving.replace_atomically(fifo, b"streamed")
    reader.join(timeout=10)
    assert got == [b"streamed"] and stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe, never replaced
    to_fifo = tmp_path / "stdout"  # /dev/stdout: a link to the descriptor's pipe
    to_fifo.symlink_to(fifo)
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    saving.replace_atomically(to_fifo, b"again")
    reader.join(timeout=10)
    assert got[-1] == b"again" and to_fifo.is_symlink() and stat.S_ISFIFO(fifo.stat().st_mode)


def test_sigterm_and_sighup_are_ctrl_c_with_the_shells_exit_code():
    with cancel.as_interrupt(), pytest.raises(KeyboardInterrupt) as caught:
        os.kill(os.getpid(), signal.SIGTERM)
    assert cancel.exit_code(caught.value) == 143
    with cancel.as_interrupt(), pytest.raises(KeyboardInterrupt) as caught:
        os.kill(os.getpid(), signal.SIGHUP)
    assert cancel.exit_code(caught.value) == 129 and cancel.exit_code(KeyboardInterrupt()) == 130
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_a_cli_command_terminated_says_so_in_one_line_and_exits_143(monkeypatch, capsys):
    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        return 0

    monkeypatch.setattr(cli, "cmd_compare", terminated)
    assert cli.main(["compare", "a", "b"]) == 143
    assert said(capsys.readouterr().err) == "mlxbench: SIGTERM; no existing file was changed"


def test_a_pytest_session_sent_sigterm_keeps_nothing_as_a_run_and_exits_143(tmp_path):
    test = (
        "import os, signal\n\ndef test_tiny(benchmark):\n    benchmark.pedantic(sum, args=(range(100),), rounds=5)\n\n"
        "def test_cancelled():\n    os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    proc = session(tmp_path, test, "--benchmark-autosave", "--benchmark-storage=store")
    assert proc.returncode == 143, proc.stdout + proc.stderr
    assert not list((tmp_path / "store").glob("*/0*.json"))  # nothing saved where it is read as a run
    assert list((tmp_path / "store").glob("*/incomplete-interrupted-*.json.partial"))
    assert "interrupted" in said(proc.stdout)


def test_a_run_that_could_not_be_saved_fails_the_session_and_says_how_to_move_it_in(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "import errno\nfrom mlxbench.session import saving\n\n"
        "def broken(*args, **kwargs):\n    raise OSError(errno.ENOSPC, 'No space left on device')\n\n"
        "saving.claim_and_write = broken\n"
    )
    proc = session(tmp_path, TINY, "--benchmark-autosave", "--benchmark-storage=store")
    out = said(proc.stdout)
    assert proc.returncode == saving.UNSAVED == 6, out
    assert "could not save the run into" in out and "No space left on device" in out and "mv " in out
    assert "add --benchmark-autosave" not in out  # never contradicts the flags given
    kept = out.split("kept in ", 1)[1].split(";")[0]
    Path(kept).unlink()


def test_the_cli_finds_the_storage_pytest_saves_into_from_any_folder_below_the_project(tmp_path):
    import json

    from conftest import make_run
    from mlxbench.measure import machine

    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nmlxbench_baselines = "my-runs"\n')
    folder = project / "my-runs" / machine.machine_id()
    folder.mkdir(parents=True)
    info = {"workload": "w", "variant": "v", "backend": "numpy"}
    for i, t in ((1, 1.0), (2, 1.01)):
        (folder / f"000{i}_x.json").write_text(json.dumps(make_run({"t::a[numpy]": ([t] * 5, info)})))
    proc = mlxbench_main("compare", "0001", "0002", cwd=project / "src" / "deep")
    assert proc.returncode == 0, proc.stderr
    assert "t::a[numpy]" in proc.stdout or "a[numpy]" in proc.stdout
    elsewhere = mlxbench_main("compare", "0009", "0002", cwd=project / "src")
    assert elsewhere.returncode == 2
    assert f"mlxbench_baselines = 'my-runs' in {project / 'pyproject.toml'}" in said(elsewhere.stderr)
