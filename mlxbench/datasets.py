"""Finding dataset files: a user's data directory, else a verified download cache.

Every file is checked against its SHA256 before use. Downloads go to a temporary file that is
renamed into the cache only after its checksum matches, so a truncated or corrupted download never
stays in the cache. Files in a user's data directory are only read, never changed or deleted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

CACHE_ENV = "MLXBENCH_CACHE_DIR"


class DatasetUnavailable(Exception):
    """The dataset is not there and cannot be fetched: a skip (a failure with --strict-data)."""


class ChecksumError(Exception):
    """A dataset file exists but is not the published file: always a failure, it needs fixing."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "mlxbench")
    return Path(base).expanduser()


def verify(path: Path, expected: str, *, where: str) -> Path:
    actual = sha256(path)
    if actual != expected:
        raise ChecksumError(
            f"{path} is corrupt or not the published file (sha256 {actual[:16]}..., expected {expected[:16]}...). "
            f"{where}"
        )
    return path


def fetch(
    name: str,
    files: Mapping[str, str],
    mirrors: Sequence[str],
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    retries: int = 2,
    timeout: float = 30.0,
) -> dict[str, Path]:
    """Paths of `files` (filename -> sha256), each verified.

    With `data_dir`, the files must be there (nothing is downloaded). Otherwise they come from
    `cache_dir/name`, downloading what is missing from the first mirror that serves a good copy.
    """
    if data_dir is not None:
        folder = Path(data_dir)
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise DatasetUnavailable(
                f"{name}: {', '.join(missing)} not found in data directory {folder}; put the original files there "
                f"or unset --data-dir / MLXBENCH_DATA_DIR to download them"
            )
        hint = f"Replace it with the original file ({name}); it was left untouched."
        return {f: verify(folder / f, digest, where=hint) for f, digest in files.items()}

    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fname, digest in files.items():
        target = folder / fname
        if target.is_file():
            try:
                paths[fname] = verify(target, digest, where="")
                continue
            except ChecksumError:
                target.unlink()  # our own cache entry, bad: fetch it again
        paths[fname] = _download(fname, digest, mirrors, folder, retries=retries, timeout=timeout, name=name)
    return paths


def _download(
    fname: str, digest: str, mirrors: Sequence[str], folder: Path, *, retries: int, timeout: float, name: str
) -> Path:
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + fname
        for attempt in range(retries + 1):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{fname}.", suffix=".part", dir=folder)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    shutil.copyfileobj(resp, out)
                verify(tmp, digest, where="")
                tmp.replace(folder / fname)  # atomic: only a verified file ever has the final name
                return folder / fname
            except ChecksumError as exc:
                errors.append(f"{url}: checksum mismatch ({exc})")
                break  # this mirror serves a bad copy; retrying it will not help
            except OSError as exc:
                errors.append(f"{url}: {exc}")
                if attempt < retries:
                    time.sleep(0.5 * 2**attempt)
            finally:
                tmp.unlink(missing_ok=True)
    raise DatasetUnavailable(
        f"{name}: could not download {fname} from any mirror ({'; '.join(errors)}). Download the original files "
        f"yourself and pass --data-dir PATH (or set MLXBENCH_DATA_DIR)"
    )
