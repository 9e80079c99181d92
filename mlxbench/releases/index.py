"""Which releases of a framework the package index holds, and the requirement that installs each one.

`mlx` on Linux is two distributions (`mlx` and its CPU or CUDA library, `mlx-cpu`, `mlx-cuda-13`, ...):
a release is installed as `mlx[cpu]==V` (the extra this interpreter's MLX was installed with), so the
environment holds the same build of MLX this machine runs. The release list comes from
`python -m pip index versions`, which reads the index and the local wheel folders pip is configured
with; final releases only, oldest first.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

from packaging.version import InvalidVersion, Version

from mlxbench.runs import BadRun


@dataclass(frozen=True)
class Framework:
    name: str  # what the user types: mlx, torch, numpy
    dist: str  # the distribution whose releases are walked
    extra: str = ""  # installed as dist[extra]==V

    def requirement(self, version: str) -> str:
        return f"{self.dist}[{self.extra}]=={version}" if self.extra else f"{self.dist}=={version}"

    def installed(self) -> str | None:
        try:
            return metadata.version(self.dist)
        except metadata.PackageNotFoundError:
            return None


MLX_EXTRAS = {"mlx-cpu": "cpu", "mlx-cuda-12": "cuda12", "mlx-cuda-13": "cuda13", "mlx-cuda": "cuda"}
KNOWN = ("mlx", "torch", "numpy")


def framework(name: str) -> Framework:
    """The framework named on the command line, with the build (extra) this interpreter has."""
    if name not in KNOWN:
        raise BadRun(f"framework {name!r}: give one of {', '.join(KNOWN)}")
    if name != "mlx":
        return Framework(name, name)
    for dist, extra in MLX_EXTRAS.items():
        try:
            metadata.version(dist)
            return Framework("mlx", "mlx", extra)
        except metadata.PackageNotFoundError:
            continue
    return Framework("mlx", "mlx", "cpu" if sys.platform.startswith("linux") else "")


def parse_versions(text: str) -> list[str]:
    """The versions of `pip index versions` output ("Available versions: 0.32.4, 0.32.3, ..."), oldest first."""
    for line in text.splitlines():
        if line.strip().startswith("Available versions:"):
            found = [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
            return sorted(set(found), key=Version)
    return []


def pip_versions(dist: str) -> str:
    cmd = [sys.executable, "-m", "pip", "index", "versions", dist, "--disable-pip-version-check"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise BadRun(f"the package index did not answer within 120 s ({' '.join(cmd)}); check the network") from None
    if proc.returncode != 0:
        last = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith("WARNING")][-1:] or ["no output"]
        raise BadRun(f"cannot list the releases of {dist} ({last[0].strip()[:200]}); check the network and pip's index")
    return proc.stdout


def releases(
    fw: Framework,
    start: str | None = None,
    stop: str | None = None,
    newest: int | None = None,
    lister: Callable[[str], str] | None = None,
) -> list[str]:
    """The final releases of `fw` from `start` to `stop` (inclusive; either may be left out), oldest first; with
    `newest`, only the last that many of them."""
    found = [v for v in parse_versions((lister or pip_versions)(fw.dist)) if not Version(v).is_prerelease]
    if not found:
        raise BadRun(f"the package index lists no release of {fw.dist}")
    bounds = {}
    for option, value in (("--from", start), ("--to", stop)):
        if value is None:
            continue
        try:
            bounds[option] = Version(value)
        except InvalidVersion:
            raise BadRun(f"{option} {value}: not a version; give one such as {found[-1]}") from None
    low, high = bounds.get("--from"), bounds.get("--to")
    chosen = [v for v in found if (low is None or Version(v) >= low) and (high is None or Version(v) <= high)]
    if newest is not None:
        chosen = chosen[-newest:]
    if len(chosen) < 2:
        shown = ", ".join(found[-8:])
        raise BadRun(
            f"{len(chosen)} release{'s' if len(chosen) != 1 else ''} of {fw.dist} in that range: a history needs "
            f"2 or more; the index holds {len(found)} (newest: {shown})"
        )
    return chosen


def between(fw: Framework, good: str, bad: str, lister: Callable[[str], str] | None = None) -> list[str]:
    """The releases from `good` to `bad`, both included and both on the index, oldest first."""
    listed = releases(fw, good, bad, lister=lister)
    for name, v in (("GOOD", good), ("BAD", bad)):
        if Version(v) not in {Version(x) for x in listed}:
            raise BadRun(f"{name} {v}: no such release of {fw.dist} on the index (in that range: {', '.join(listed)})")
    return listed


def ordered(versions: Sequence[str]) -> list[str]:
    return sorted(versions, key=Version)
