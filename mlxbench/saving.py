"""Saving runs so that nothing is lost and nothing incomplete is read as complete.

- A run file is written atomically: into a hidden temporary file beside it, then renamed, so an
  interruption while writing never leaves a 0-byte or half-written `NNNN_*.json`.
- A session that did not finish cleanly (interrupted, failed tests, internal error) is not saved
  as a run: its JSON goes to `incomplete-<reason>-<UTC time>.json.partial` in the same folder, a
  name that neither mlxbench nor pytest-benchmark reads as a run, and the terminal says where.
- A baselines folder that cannot be written is a usage error before anything runs, not a lost run
  at the end.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

REASONS = {
    pytest.ExitCode.INTERRUPTED: "interrupted",
    pytest.ExitCode.TESTS_FAILED: "failed",
    pytest.ExitCode.INTERNAL_ERROR: "internal-error",
    pytest.ExitCode.USAGE_ERROR: "usage-error",
}


def atomic_write(target: Path, data: bytes) -> None:
    """Write `data` to `target` all at once (never a partial file under `target`'s name)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            raise FileExistsError(f"{target} exists already; saved runs are never overwritten")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def install(bsession: Any) -> None:
    """Make pytest-benchmark's run files atomic (its FileStorage writes in place)."""
    storage = getattr(bsession, "storage", None)
    if storage is None or not hasattr(storage, "get") or not hasattr(storage, "_next_num"):
        return  # another storage backend (elasticsearch): left as it is

    from pytest_benchmark.utils import safe_dumps

    def save(output_json: dict, save: str) -> None:
        target = Path(storage.get(f"{storage._next_num}_{save}.json"))
        atomic_write(target, safe_dumps(output_json, ensure_ascii=True, indent=4).encode())
        storage.logger.info(f"Saved benchmark data in: {target}")

    storage.save = save


def has_timings(benchmark: Any) -> bool:
    """Whether a pytest-benchmark fixture recorded at least one timed round."""
    stats = getattr(benchmark, "stats", None)  # a session holds Metadata objects; their .stats holds the rounds
    if stats is not None and not hasattr(stats, "data"):
        stats = getattr(stats, "stats", None)
    return bool(getattr(stats, "data", None))


def divert_incomplete(bsession: Any, exitstatus: int, folder: Path) -> list[Path]:
    """For a session that did not end cleanly: send its run JSON (saved run and --benchmark-json) to
    `.partial` files that nothing reads as a run. Returns where they will go."""
    reason = REASONS.get(exitstatus, f"exit-{int(exitstatus)}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    diverted = []
    if getattr(bsession, "json", None):
        bsession.json = Path(f"{bsession.json}.partial")
        diverted.append(bsession.json)
    if (getattr(bsession, "save", None) or getattr(bsession, "autosave", None)) and hasattr(bsession, "storage"):
        target = folder / f"incomplete-{reason}-{stamp}.json.partial"

        from pytest_benchmark.utils import safe_dumps

        def save(output_json: dict, save: str) -> None:
            output_json.setdefault("mlxbench", {})["incomplete"] = reason
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, safe_dumps(output_json, ensure_ascii=True, indent=4).encode())

        bsession.storage.save = save
        diverted.append(target)
    return diverted
