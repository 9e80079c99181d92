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
    """The final releases of `fw` from `start` to `stop` (inclusive, each a release on the index; either may be
    left out), oldest first; with `newest`, only the last that many of them."""
    listed = parse_versions((lister or pip_versions)(fw.dist))
    found = [v for v in listed if not Version(v).is_prerelease]
    if not found:
        raise BadRun(f"the package index lists no release of {fw.dist}")
    low, high = (on_index(fw, option, value, listed) for option, value in (("--from", start), ("--to", stop)))
    if low is not None and high is not None and low > high:
        raise BadRun(f"--from {start} is newer than --to {stop}: give the older release to --from")
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


def version_problem(option: str, value: str, example: str = "0.26.5") -> str | None:
    """Why `value` (given to `option`) is not a version, in one line with an example; None when it is one."""
    try:
        Version(value)
    except InvalidVersion:
        return f"{option} {value or repr(value)}: not a version; give a release such as {example}"
    return None


def nearest(found: Sequence[str], version: Version) -> str:
    """The final releases on either side of `version`: `nearest: 0.29.1 and 0.31.0`, `the newest is 0.32.4`."""
    below = [v for v in found if Version(v) < version]
    above = [v for v in found if Version(v) > version]
    if not below:
        return f"the oldest is {above[0]}"
    if not above:
        return f"the newest is {below[-1]}"
    return f"nearest: {below[-1]} and {above[0]}"


def on_index(fw: Framework, option: str, value: str | None, listed: Sequence[str]) -> Version | None:
    """`value` as a Version when it is a final release of `fw` on the index; BadRun naming the nearest releases
    when it is not one (or is a pre-release)."""
    if value is None:
        return None
    if problem := version_problem(option, value, listed[-1] if listed else "0.26.5"):
        raise BadRun(problem)
    wanted = Version(value)
    found = [v for v in listed if not Version(v).is_prerelease]
    if not found:
        raise BadRun(f"the package index lists no release of {fw.dist}")
    if any(Version(v) == wanted for v in found):
        return wanted
    if any(Version(v) == wanted for v in listed):
        raise BadRun(f"{option} {value}: a pre-release; only final releases are walked ({nearest(found, wanted)})")
    raise BadRun(f"{option} {value}: no such release of {fw.dist} on the index ({nearest(found, wanted)})")


def between(fw: Framework, good: str, bad: str, lister: Callable[[str], str] | None = None) -> list[str]:
    """The final releases from `good` to `bad`, both included and both on the index, oldest first."""
    if problem := order_problem(fw.name, good, bad):
        raise BadRun(problem)
    listed = parse_versions((lister or pip_versions)(fw.dist))
    low, high = on_index(fw, "GOOD", good, listed), on_index(fw, "BAD", bad, listed)
    return [v for v in listed if not Version(v).is_prerelease and low <= Version(v) <= high]


def order_problem(name: str, good: str, bad: str) -> str | None:
    """Why GOOD and BAD cannot be bisected (not versions, the same release, or GOOD the newer), or None."""
    if problem := version_problem("GOOD", good) or version_problem("BAD", bad):
        return problem
    if Version(good) == Version(bad):
        return (
            f"GOOD {good} and BAD {bad} are the same release: bisect searches the releases after a good one up to "
            "a bad one; give an older GOOD"
        )
    if Version(good) > Version(bad):
        return (
            f"GOOD {good} is newer than BAD {bad}: bisect finds the first release after GOOD that made the "
            f"benchmarks slower, so GOOD is the older one (mlxbench bisect {name} {bad} {good}, if {bad} is good)"
        )
    return None


def ordered(versions: Sequence[str]) -> list[str]:
    return sorted(versions, key=Version)
