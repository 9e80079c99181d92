"""Finding dataset files: a user's data directory, else a verified download cache.

Every file is checked against its SHA256 before use. Downloads go to a temporary file that is
renamed into the cache only after its checksum matches, so a truncated or corrupted download never
stays in the cache. Files in a user's data directory are only read, never changed or deleted.

Downloads fail fast: each mirror is tried once, name lookup, connection and every read are bounded
by a short timeout (`MLXBENCH_DOWNLOAD_TIMEOUT`, default 5 s), a file by a total deadline (600 s) and a
minimum rate once that timeout has passed (20 kB/s: a trickle is given up), each attempt is announced on stderr
(`set_progress` routes the line elsewhere), and a failure is remembered for the rest of the process
(`FAILURES`, keyed by dataset name, cache folder and mirrors): every later call for the same
dataset raises the same short reason at once instead of waiting on the network again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

CACHE_ENV = "MLXBENCH_CACHE_DIR"
TIMEOUT_ENV = "MLXBENCH_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 5.0  # seconds per name lookup, connection and read: a live mirror answers far sooner


class DatasetUnavailable(Exception):
    """The dataset is not there and cannot be fetched: a skip (a failure with --strict-data)."""


class ChecksumError(Exception):
    """A dataset file exists but is not the published file: always a failure, it needs fixing."""


# Downloads that failed in this process: (name, cache folder, mirrors) -> the error every later call
# raises at once. Keyed by the cache folder and mirrors too, so that other sources are still tried.
# forget_failures() empties it (a long-lived process whose network came back).
FAILURES: dict[tuple[str, str, tuple[str, ...]], DatasetUnavailable] = {}


def forget_failures() -> None:
    FAILURES.clear()


def _stderr(line: str) -> None:
    from mlxbench.units import fit

    print("\n".join(fit(line)), file=sys.stderr, flush=True)


_progress: Callable[[str], None] = _stderr


def set_progress(report: Callable[[str], None]) -> Callable[[str], None]:
    """Send the "downloading ..." lines to `report` (e.g. a pytest terminal writer; by default they go
    to stderr, which pytest captures); returns the previous one, to put back."""
    global _progress
    previous, _progress = _progress, report
    return previous


def download_timeout() -> float:
    """Seconds allowed for each name lookup, connection and read: MLXBENCH_DOWNLOAD_TIMEOUT, else 5."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < 3600:
        raise DatasetUnavailable(
            f"{TIMEOUT_ENV}={raw!r} is not a number of seconds between 0 and 3600; fix or unset it"
        )
    return value


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
    retries: int = 0,
    timeout: float | None = None,
) -> dict[str, Path]:
    """Paths of `files` (filename -> sha256), each verified.

    With `data_dir`, the files must be there (nothing is downloaded). Otherwise they come from
    `cache_dir/name`, downloading what is missing from the first mirror that serves a good copy:
    each mirror is tried `retries + 1` times, each step bounded by `timeout` seconds (default:
    `download_timeout()`). A failed download is remembered for this process (see `FAILURES`).
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
    key = (name, str(folder.expanduser().absolute()), tuple(mirrors))
    paths = {}
    for fname, digest in files.items():
        target = folder / fname
        if target.is_file():
            try:
                paths[fname] = verify(target, digest, where="")
                continue
            except ChecksumError:
                target.unlink()  # our own cache entry, bad: fetch it again
        if key in FAILURES:  # this process already waited for these mirrors once
            raise FAILURES[key]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            seconds = download_timeout() if timeout is None else timeout
            paths[fname] = _download(fname, digest, mirrors, folder, retries=retries, timeout=seconds, name=name)
        except DatasetUnavailable as exc:
            FAILURES[key] = exc
            raise
        except OSError as exc:  # the cache folder itself cannot be made or written
            raise DatasetUnavailable(
                f"{name}: cannot write the download cache {folder} ({exc.strerror or exc}); set {CACHE_ENV} to a "
                f"writable folder. {how_to_provide(name)}"
            ) from None
    return paths


def _resolve(host: str, port: int, timeout: float) -> None:
    """Look `host` up within `timeout` seconds (the system resolver has no timeout of its own)."""
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=lookup, name=f"mlxbench-resolve-{host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise TimeoutError(f"name lookup of {host} timed out")
    if outcome[0] is not None:
        raise OSError(f"name lookup of {host} failed") from outcome[0]


def _open(url: str, timeout: float):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        proxy = urllib.request.getproxies().get(parts.scheme)
        where = urllib.parse.urlsplit(proxy if "://" in (proxy or "") else f"http://{proxy}") if proxy else parts
        if where.hostname and not urllib.request.proxy_bypass(parts.hostname or ""):
            _resolve(where.hostname, where.port or (443 if where.scheme == "https" else 80), timeout)
    return urllib.request.urlopen(url, timeout=timeout)  # the timeout bounds the connection and every read


def _short(exc: BaseException, timeout: float) -> str:
    """A few words for one failed attempt (the full errors are long and say little more)."""
    if isinstance(exc, TooSlow):
        return str(exc)
    if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in str(exc):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    cause = getattr(exc, "reason", None) or exc.__cause__ or exc
    text = getattr(cause, "strerror", None) or str(cause)
    return text if len(text) <= 80 else text[:77] + "..."


MIN_RATE = 20_000  # bytes/s: a source slower than this after the first read timeout is given up (MNIST: 10 MB)
DEADLINE_S = 600.0  # seconds for one file in all, however it trickles


class TooSlow(OSError):
    pass


def copy_bounded(src, dst, timeout: float, clock: Callable[[], float] | None = None) -> int:
    """Copy a response into a file within DEADLINE_S in all and at MIN_RATE or faster once `timeout` seconds have
    passed: the per-read timeout alone let one byte every 3 s go on for ever."""
    import time

    clock = clock or time.monotonic
    start, done = clock(), 0
    while True:
        block = src.read(1 << 16)
        if not block:
            return done
        dst.write(block)
        done += len(block)
        took = clock() - start
        if took > DEADLINE_S:
            raise TooSlow(f"not done within {DEADLINE_S:g} s ({done / 1e6:.1f} MB so far)")
        if took > timeout and done / took < MIN_RATE:
            raise TooSlow(f"{done / took / 1000:.1f} kB/s, under {MIN_RATE // 1000} kB/s")


def _download(
    fname: str, digest: str, mirrors: Sequence[str], folder: Path, *, retries: int, timeout: float, name: str
) -> Path:
    errors: list[tuple[str, str]] = []  # (mirror, what went wrong), each once
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + fname
        for _attempt in range(retries + 1):
            _progress(
                f"mlxbench: downloading {name} {fname} from {mirror} (timeout {timeout:g} s per read, at least "
                f"{MIN_RATE // 1000} kB/s after {timeout:g} s, {DEADLINE_S:g} s in all)..."
            )
            fd, tmp_name = tempfile.mkstemp(prefix=f".{fname}.", suffix=".part", dir=folder)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, _open(url, timeout) as resp:
                    copy_bounded(resp, out, timeout)
                verify(tmp, digest, where="")
                tmp.replace(folder / fname)  # atomic: only a verified file ever has the final name
                return folder / fname
            except ChecksumError:
                errors.append((_where(mirror), "checksum mismatch"))
                break  # this mirror serves a bad copy; retrying it will not help
            except (OSError, http.client.HTTPException) as exc:
                if (_where(mirror), _short(exc, timeout)) not in errors:
                    errors.append((_where(mirror), _short(exc, timeout)))
            finally:
                tmp.unlink(missing_ok=True)
    if len({why for _, why in errors}) == 1 and len(errors) > 1:
        tried = f"{', '.join(where for where, _ in errors)} (each: {errors[0][1]})"
    else:
        tried = ", ".join(f"{where} ({why})" for where, why in errors) or "no mirror"
    raise DatasetUnavailable(f"{name}: could not download {fname}; tried {tried}. {how_to_provide(name)}")


def how_to_provide(name: str) -> str:
    return f"Put the {name} files in a folder yourself and pass --data-dir PATH (or set MLXBENCH_DATA_DIR)"


def _where(mirror: str) -> str:
    return mirror.split("://", 1)[-1].rstrip("/")
