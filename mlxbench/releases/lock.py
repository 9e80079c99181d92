"""One writer per output folder: `mlxbench releases` and `mlxbench bisect` hold OUT/mlxbench.lock for their life.

Two commands writing into one folder would each measure every release and overwrite each other's state.json.
The lock is `fcntl.flock` on OUT/mlxbench.lock, which the kernel releases when its holder ends, however it ends
(SIGKILL included): a file left behind never blocks anyone. The holder writes its pid, host, start time and
command into the file; a second command reads them to say who holds the folder, and is refused (exit 2).
Child processes (pytest sessions, A/B workers) do not inherit the lock: Python opens files non-inheritable.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from mlxbench.runs import BadRun
from mlxbench.units import echo

try:
    import fcntl
except ImportError:  # Windows: no flock; one writer is then the user's to keep
    fcntl = None  # type: ignore[assignment]

NAME = "mlxbench.lock"


def holder(text: str) -> str:
    """Who holds the lock, from what it wrote into the file: `pid 4242 on host, started ... UTC: mlxbench ...`."""
    try:
        doc = json.loads(text)
        return f"pid {int(doc['pid'])} on {doc['host']}, started {doc['started']}: {doc['command']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not yet written who it is"


@contextlib.contextmanager
def holding(out: Path, command: str) -> Iterator[None]:
    """Hold OUT's lock while the body runs; BadRun naming the holder when another process holds it."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
                pid = who.split()[1] if who.startswith("pid ") else "PID"
                raise BadRun(
                    f"{out} is in use by another mlxbench releases or bisect ({who}): one command writes into an "
                    f"output folder at a time, or both would measure every release. Wait for it to end, stop it "
                    f"(kill {pid}), or give this one another folder with --out"
                ) from None
            except OSError as exc:  # a file system without locks (some network mounts): said, not refused
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
                echo(
                    f"mlxbench: cannot lock {path} ({exc.strerror}): make sure no other mlxbench releases or bisect "
                    "writes into this folder meanwhile",
                    file=sys.stderr,
                    flush=True,
                )
        started = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
        doc = {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "command": command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(doc).encode() + b"\n", 0)
        yield
    finally:
        os.close(fd)
