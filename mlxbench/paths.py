"""Output paths a user names (a file to write, a folder to fill): checked before any work starts, so a
path that cannot be written is one message at once, not a lost run at the end."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

OUTPUT_ERRNOS = (errno.ENOSPC, errno.EPIPE, errno.EBADF, errno.EIO)  # an output stream that cannot be written


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


_STANDARD = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_DESCRIPTOR = re.compile(r"/(?:dev/fd|proc/(?:self|thread-self|(\d+))/fd)/(\d+)")
_LINKS = 40  # the kernel's own limit on links followed in one path


def descriptor_named(target: Path) -> int | None:
    """The open descriptor of this process that an output path writes to, or None: `/dev/stdout` (1), `/dev/stderr`
    (2), `/dev/fd/N`, `/proc/self/fd/N` (N), a symbolic link to one of them, or the very file this process's standard
    output or error already writes (`--benchmark-json ci.log >> ci.log`). Such an output is written through that
    descriptor and never replaced: what the shell redirected there (`>> ci.log`, a pipe, a terminal) stays."""
    path = os.path.abspath(target)
    for _ in range(_LINKS):
        if path in _STANDARD:
            return _STANDARD[path]
        if (found := _DESCRIPTOR.fullmatch(path)) and found.group(1) in (None, str(os.getpid())):
            return int(found.group(2))
        try:
            link = os.readlink(path)
        except OSError:  # not a link (or gone): the end of the chain
            break
        path = os.path.normpath(os.path.join(os.path.dirname(path), link))
    try:
        named = os.stat(target)
    except OSError:
        return None
    for fd in (1, 2):
        try:
            own = os.fstat(fd)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (named.st_dev, named.st_ino):
            return fd
    return None


def is_stream(target: Path) -> bool:
    """Whether an output path is written as a stream (a descriptor, a device, a pipe), never replaced by a file."""
    if descriptor_named(target) is not None:
        return True
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _descriptor_problem(fd: int, target: Path, option: str) -> str | None:
    import fcntl

    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        return f"{option} {target}: descriptor {fd} is not open in this process; open it for writing (e.g. {fd}>FILE)"
    if flags & os.O_ACCMODE == os.O_RDONLY:
        return f"{option} {target}: descriptor {fd} is open for reading only; open it for writing (e.g. {fd}>FILE)"
    return None


def output_file_problem(target: Path, option: str) -> str | None:
    """None when the file `target` (named with `option`) can be written once the work is done, its missing
    folders made then; else why not and what to do."""
    target = Path(target)
    if (fd := descriptor_named(target)) is not None:  # written through the descriptor, as a stream
        return _descriptor_problem(fd, target, option)
    if is_stream(target):  # a device or a pipe: written as a stream
        return None if os.access(target, os.W_OK) else f"{option} {target}: cannot write to it (permission denied)"
    if target.is_symlink():  # written through: the file it points to is what changes
        target = Path(os.path.realpath(target))
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


INI_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_SETTING = re.compile(r"""^\s*mlxbench_baselines\s*=\s*["']?([^"'\n#]+?)["']?\s*(#.*)?$""", re.M)


def default_storage(start: Path | None = None) -> tuple[Path, str]:
    """The baselines folder pytest saves into, found from `start` (default: the working folder) the way pytest
    finds its ini file: the nearest folder above holding one with `mlxbench_baselines` (the folder it names,
    relative to that file); else `baselines` here. Returns (folder, how it was found)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in INI_FILES:
            path = folder / name
            try:
                text = path.read_text(errors="replace") if path.is_file() else ""
            except OSError:
                continue
            found = _SETTING.search(text)
            if found:
                value = found.group(1).strip()
                return folder / value, f"mlxbench_baselines = {value!r} in {path}"
    return Path("baselines"), "no ini file with mlxbench_baselines above this folder: baselines/ here"


def relative_text(text: str) -> str:
    """`text` with every path under the working directory written relative to it: what the CLI's messages and the
    session's closing lines show (a saved run's path then fits 120 columns)."""
    try:
        here = f"{Path.cwd()}{os.sep}"
    except OSError:  # the working directory is gone: the paths stay as they are
        return text
    return text.replace(here, "")
