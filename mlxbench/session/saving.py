"""Saving runs so that nothing is lost and nothing incomplete is read as complete.

- A run file is written atomically: into a hidden temporary file beside it, then renamed, so an
  interruption while writing never leaves a 0-byte or half-written `NNNN_*.json`.
- A session that did not finish cleanly (interrupted, a failed test, internal error) is not saved
  as a run: its JSON goes to `incomplete-<reason>-<UTC time>.json.partial` in the same folder, a
  name that neither mlxbench nor pytest-benchmark reads as a run, and the terminal says where.
  A test failed by the regression gate's verdict is not such a failure: every round was measured, so
  the run is saved and written like any other and history keeps what was measured (a failed accuracy
  gate, an error or a broken benchmark still is).
- A baselines folder that cannot be written is a usage error before anything runs, not a lost run
  at the end.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mlxbench.paths import descriptor_named, is_stream, output_file_problem
from mlxbench.session import bridge

UNSAVED = 6  # the session's exit when its run or --benchmark-json could not be written where asked (kept elsewhere)
REASONS = {
    pytest.ExitCode.INTERRUPTED: "interrupted",
    pytest.ExitCode.TESTS_FAILED: "failed",
    pytest.ExitCode.INTERNAL_ERROR: "internal-error",
    pytest.ExitCode.USAGE_ERROR: "usage-error",
}


def umask_mode() -> int:
    """The mode a new file gets from the user's umask (0644 under 022): what other steps expect to read."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temp_beside(target: Path, data: bytes) -> Path:
    """`data` written and flushed to disk in a hidden temporary file next to `target`, with the mode of the
    file it replaces, else the one the umask gives (mkstemp alone makes it 0600: unreadable to a later step)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        try:
            mode = target.stat().st_mode & 0o7777
        except OSError:
            mode = umask_mode()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(target: Path, data: bytes) -> None:
    """Write `data` to `target` all at once (never a partial file under `target`'s name)."""
    tmp = temp_beside(target, data)
    try:
        try:
            os.link(tmp, target)  # atomic, and fails when the name is taken: saved runs are never overwritten
        except FileExistsError:
            raise
        except OSError:  # no hard links here: claim the name exclusively, then move the whole file onto it
            with target.open("xb"):
                pass
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def check_writable(folder: Path) -> str | None:
    """None when runs can be saved into `folder` (created if needed), else why not and what to do."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".mlxbench-write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return (
            f"cannot save runs into {folder} ({exc.strerror or exc}); make it writable, or save elsewhere with "
            "--benchmark-storage=PATH, or leave out --benchmark-save/--benchmark-autosave"
        )
    return None


def output_problem(config: pytest.Config) -> str | None:
    """Why the files this session was asked to write (a saved run, --benchmark-json) cannot be written, or
    None: checked before anything runs."""
    option = config.option
    if (option.benchmark_save or option.benchmark_autosave) and bridge.is_file_storage(config):
        if problem := check_writable(storage_folder(config)):
            return problem
    if target := bridge.json_option(config):
        return output_file_problem(target, "--benchmark-json")
    return None


def storage_folder(config: pytest.Config) -> Path:
    """This machine's folder of saved runs under --benchmark-storage."""
    from mlxbench.measure import machine

    return bridge.storage_root(config) / machine.machine_id()


def install(bsession: Any, written: list[str]) -> None:
    """Make pytest-benchmark's run files atomic (its FileStorage writes in place), never lost, and never
    overwritten. `written` receives one line per file this session wrote or kept (read at the end).

    - two sessions saving at the same instant: the run number is claimed by a hard link, which fails
      when the name is taken; the loser takes the next number (both runs end up saved);
    - storage that became unwritable or full: the run goes to the temporary folder as a `.partial`
      file (nothing reads it as a run), said in one line, never a traceback;
    - `--benchmark-json PATH`: replaced atomically, only once the whole file is written; a stream
      (`/dev/stdout` redirected to a log, a pipe) written through, never replaced."""

    def write_json(output_json: dict) -> None:
        target = bridge.json_target(bsession)
        data = bridge.dumps(output_json)
        try:
            replace_atomically(target, data)
            written.append(f"wrote {target}")
        except OSError as exc:
            kept = keep_elsewhere(data, target.name)
            written.append(
                f"could not write {target} ({exc.strerror or exc}); the run is kept in {kept}; once it "
                f"can be written: mv {kept} {target} (this session exits {UNSAVED})"
            )

    bridge.replace_json_writer(bsession, write_json)
    storage = bridge.file_storage(bsession)
    if storage is None:
        return  # another storage backend (elasticsearch): left as it is

    def save(output_json: dict, save: str) -> None:
        data = bridge.dumps(output_json)
        try:
            target = claim_and_write(bridge.storage_folder_of(storage), bridge.next_number(storage), save, data)
        except OSError as exc:
            kept = keep_elsewhere(data, f"{save}.json")
            folder = bridge.storage_folder_of(storage)
            written.append(
                f"could not save the run into {folder} ({exc.strerror or exc}); kept in {kept}; once the "
                f"folder can be written: mv {kept} {folder}/{bridge.next_number(storage):04d}_{save}.json "
                f"(this session exits {UNSAVED})"
            )
            return
        written.append(f"saved {target}")
        bridge.log_saved(storage, target)

    bridge.replace_save(bsession, save)


def claim_and_write(folder: Path, first: int, save: str, data: bytes) -> Path:
    """Write `data` as `NNNN_<save>.json` under the first number from `first` on that no other run holds.

    A number is claimed by creating `.NNNN.claim` exclusively (a session beside this one that computed
    the same number takes the next), then checked free of any `NNNN_*.json`, then the file is linked
    into place and the claim removed: two sessions saving at once get distinct numbers."""
    n = first
    for _ in range(10_000):
        num = f"{n:04}"
        claim = folder / f".{num}.claim"
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            n += 1
            continue
        try:
            if any(folder.glob(f"{num}_*.json")):
                n += 1
                continue
            target = folder / f"{num}_{save}.json"
            atomic_write(target, data)
            return target
        finally:
            claim.unlink(missing_ok=True)
    raise OSError(f"no free run number in {folder}")


def replace_atomically(target: Path, data: bytes) -> None:
    """Give `target` the content `data` in one step (a failure leaves the old file as it was); its missing
    folders are made. A symbolic link to a file is written through (the file it points to replaced, the link
    kept). An output that is a stream is written through and never replaced: `/dev/stdout`, `/dev/fd/N`,
    `/proc/self/fd/N` (or a link to one; or the very file stdout writes) through that open descriptor, so a
    log the shell appends to (`>> ci.log`), a pipe or a terminal gets the data after what it holds; another
    device or a pipe is opened for writing without truncating."""
    if (fd := descriptor_named(target)) is not None:
        write_to_descriptor(fd, streamed(data))
        return
    if is_stream(target):  # a device, a named pipe: opened as it is (no O_TRUNC, no O_CREAT)
        fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
        try:
            write_to_descriptor(fd, data)
        finally:
            os.close(fd)
        return
    target = Path(os.path.realpath(target)) if target.is_symlink() else target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(target, data)
    try:
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def streamed(data: bytes) -> bytes:
    """`data` as it goes into a descriptor that other output shares (stdout): ending with a newline, so that
    what follows it in a log starts a line."""
    return data if data.endswith(b"\n") else data + b"\n"


def write_to_descriptor(fd: int, data: bytes) -> None:
    """Write all of `data` to the open descriptor `fd`, after whatever Python still buffers for it (stdout,
    stderr): at its offset, or at the end where it was opened to append (`>>`)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and stream.fileno() == fd:
                stream.flush()
        except (OSError, ValueError, AttributeError):  # a replaced or closed stream: nothing of ours is buffered
            pass
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def keep_elsewhere(data: bytes, name: str) -> str:
    """Write a run that could not go where it belongs into the temporary folder; where it went, or why not."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    try:
        fd, path = tempfile.mkstemp(prefix=f"mlxbench-unsaved-{stamp}-", suffix=f"-{name}.partial")
        os.fchmod(fd, umask_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    except OSError as exc:
        return f"nowhere: the temporary folder failed too ({exc.strerror or exc})"


def has_timings(benchmark: Any) -> bool:
    """Whether a pytest-benchmark fixture recorded at least one timed round."""
    return bool(bridge.rounds_of(benchmark))


class SessionWatch:
    """Notes in the session's context what the save decision needs: a Ctrl-C, before any reporter runs
    (one that crashes on the traceback, leaving pytest's status at 0, must not hide the interrupt), and
    every test that failed, in any phase, and every collection that failed."""

    def __init__(self, context: Any) -> None:
        self.context = context

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.context.interrupted = True

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.context.failed.add(report.nodeid)

    def pytest_collectreport(self, report: Any) -> None:  # a module that could not be collected never ran
        if report.failed:
            self.context.failed.add(report.nodeid or "<collection>")


def regressed(benchmark: Any) -> bool:
    """Whether the regression gate called this benchmark (held, or as saved) regressed: its test failed on it."""
    info = benchmark.get("extra_info") if isinstance(benchmark, dict) else getattr(benchmark, "extra_info", None)
    verdict = (info or {}).get("verdict") or {}
    return verdict.get("verdict") == "regressed"


def failed_only_by_verdicts(failed: set[str], benchmarks: list[Any]) -> bool:
    """Whether every failed test failed on a regression verdict alone: a complete run, judged."""
    return failed <= {b.fullname for b in benchmarks if regressed(b)}


def incomplete_reason(context: Any, benchmarks: list[Any]) -> str | None:
    """Why this session's run is not complete, from what the suite itself knows: an interrupt it saw,
    or a benchmark with fewer timed rounds than it planned; None when complete."""
    if context.interrupted:
        return "interrupted"
    if any(unfinished(b) for b in benchmarks):
        return "unfinished"
    return None


def unfinished(benchmark: Any) -> bool:
    """Whether a benchmark recorded fewer timed rounds than it planned (`extra_info["rounds_planned"]`)."""
    planned = (getattr(benchmark, "extra_info", None) or {}).get("rounds_planned")
    return isinstance(planned, int) and len(bridge.rounds_of(benchmark)) < planned


def divert_incomplete(
    bsession: Any, exitstatus: int, folder: Path, reason: str | None = None, written: list[str] | None = None
) -> list[Path]:
    """For a session that did not end cleanly: send its run JSON (saved run and --benchmark-json) to
    `.partial` files that nothing reads as a run. Returns where they will go."""
    reason = reason or REASONS.get(exitstatus, f"exit-{int(exitstatus)}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    diverted = []
    if (json_path := bridge.json_target(bsession)) is not None:
        if is_stream(json_path):  # /dev/stdout, a pipe: `PATH.partial` is no place; the temporary folder is
            partial = (
                Path(tempfile.gettempdir()) / f"mlxbench-incomplete-{reason}-{stamp}-{json_path.name}.json.partial"
            )
        else:
            if bridge.json_opened_early(bsession) and json_path.is_file() and json_path.stat().st_size == 0:
                json_path.unlink()  # pytest-benchmark < 5.3.1 created it empty at start: no empty file passes for a run
            partial = Path(f"{json_path}.partial")
        bridge.redirect_json(bsession, partial)
        diverted.append(bridge.json_target(bsession))
    if bridge.saves(bsession):
        target = folder / f"incomplete-{reason}-{stamp}.json.partial"

        def save(output_json: dict, save: str) -> None:
            output_json.setdefault("mlxbench", {})["incomplete"] = reason
            data = bridge.dumps(output_json)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, data)
            except OSError as exc:
                kept = keep_elsewhere(data, target.name.removesuffix(".partial"))
                if written is not None:
                    written.append(
                        f"could not keep the incomplete run in {target} ({exc.strerror or exc}); kept in {kept}"
                    )

        bridge.replace_save(bsession, save)
        diverted.append(target)
    return diverted
