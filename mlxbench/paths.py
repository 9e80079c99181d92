"""Output paths a user names (a file to write, a folder to fill): checked before any work starts, so a
path that cannot be written is one message at once, not a lost run at the end."""

from __future__ import annotations

import errno
import os
from pathlib import Path

OUTPUT_ERRNOS = (errno.ENOSPC, errno.EPIPE, errno.EBADF, errno.EIO)  # an output stream that cannot be written


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def output_file_problem(target: Path, option: str) -> str | None:
    """None when the file `target` (named with `option`) can be written once the work is done, its missing
    folders made then; else why not and what to do."""
    target = Path(target)
    if target.is_dir():
        return f"{option} {target}: that is a folder; name a file in it, e.g. {target / 'results.json'}"
    return _folder_problem(_nearest_existing(target.parent), target, option, "a file in a folder")


def output_folder_problem(folder: Path, option: str) -> str | None:
    """None when files can be written into `folder` (named with `option`; made if missing); else why not."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return f"{option} {folder}: that is a file, not a folder; choose a folder (it is made if missing)"
    return _folder_problem(_nearest_existing(folder), folder, option, "a folder")


def _folder_problem(existing: Path, named: Path, option: str, want: str) -> str | None:
    if not existing.is_dir():
        return f"{option} {named}: {existing} is a file, not a folder; name {want}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{option} {named}: cannot write into {existing} (permission denied); name {want} you can write"
    return None
