"""Who ran this: a machine identity that tells an M1 from an M3 and a CPU-only box from a GPU one,
and the environment facts that explain a number (versions, BLAS, threads).

Nothing here imports MLX or PyTorch: facts about frameworks are read from those already imported.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mlxbench.backends.base import loaded_blas_libraries

MACHINE_ID_ENV = "MLXBENCH_MACHINE_ID"
HOST_ENV = "MLXBENCH_HOST"


def _run(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@cache  # the hardware does not change during a process; every call returns the same answer
def cpu_model() -> str:
    if sys.platform == "darwin":
        return _run("sysctl", "-n", "machdep.cpu.brand_string") or platform.processor() or "unknown-cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown-cpu"


@cache
def gpu_names() -> tuple[str, ...]:
    """GPUs as their vendors name them; on Apple silicon the GPU is part of the chip."""
    if sys.platform == "darwin":
        if platform.machine() == "arm64":
            return (cpu_model(),)
        return ()
    names = [n for n in _run("nvidia-smi", "--query-gpu=name", "--format=csv,noheader").splitlines() if n.strip()]
    if not names:
        for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
            m = re.search(r"^Model:\s*(.+)$", info.read_text(), re.M)
            if m:
                names.append(m.group(1).strip())
    return tuple(names)


@cache
def is_virtual_apple_gpu() -> bool:
    """True on a macOS VM (GitHub-hosted arm64 runners): a paravirtual GPU whose timings don't gate."""
    if sys.platform != "darwin":
        return False
    if _run("sysctl", "-n", "kern.hv_vmm_present") == "1":
        return True
    return "paravirtual" in _run("system_profiler", "SPDisplaysDataType").lower()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")


def machine_id() -> str:
    """Folder name for this machine's baselines, e.g. `Linux-x86_64-AMD_EPYC-2c-nogpu-CPython-3.11`.

    Set MLXBENCH_MACHINE_ID to override (a fleet of identical runners sharing one baseline folder).
    """
    if os.environ.get(MACHINE_ID_ENV):
        return _slug(os.environ[MACHINE_ID_ENV])
    return detected_machine_id()


def set_by_hand_note() -> str | None:
    """One line when MLXBENCH_MACHINE_ID names another machine than this one (runs go into its folder)."""
    given = os.environ.get(MACHINE_ID_ENV)
    if not given:
        return None
    mine, theirs = detected_machine_id(), _slug(given)
    if theirs == mine:
        return None
    fields = id_fields(theirs)
    clash = fields is not None and (fields["OS"], fields["architecture"]) != (platform.system(), platform.machine())
    return (
        f"mlxbench: machine id set by hand ({MACHINE_ID_ENV}={given}): runs are saved into and compared with "
        f"{theirs}'s folder; this machine's own id is {mine}"
        + (" (another operating system or architecture: its numbers are not this machine's)" if clash else "")
    )


def detected_machine_id() -> str:
    """This machine's id from its hardware and Python, whatever MLXBENCH_MACHINE_ID says."""
    gpus = gpu_names()
    if sys.platform == "darwin" and platform.machine() == "arm64":
        gpu = "virtualgpu" if is_virtual_apple_gpu() else ""  # the chip already names the GPU
    else:
        gpu = "+".join(_slug(g) for g in gpus) if gpus else "nogpu"
    parts = [
        platform.system(),
        platform.machine(),
        _slug(cpu_model()),
        f"{os.cpu_count()}c",
        gpu,
        platform.python_implementation(),
        ".".join(platform.python_version_tuple()[:2]),
    ]
    return "-".join(p for p in parts if p)


def host_id() -> str:
    """Which host ran this, as opposed to which kind of machine (`machine_id`): two VMs of one type share
    a machine id but not a host id, so one's saved runs are a reference for the other, not its history.

    MLXBENCH_HOST names the host explicitly: identical CI runners that should share one history set it
    to the same name. Otherwise a short hash of the operating system's own install id (/etc/machine-id,
    the Mac's IOPlatformUUID), else of the host name: it tells hosts apart and reveals neither.
    """
    if os.environ.get(HOST_ENV):
        return _slug(os.environ[HOST_ENV])
    seed = ""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            seed = Path(path).read_text().strip()
        except OSError:
            continue
        if seed:
            break
    if not seed and sys.platform == "darwin":
        m = re.search(r'"IOPlatformUUID" = "([^"]+)"', _run("ioreg", "-rd1", "-c", "IOPlatformExpertDevice"))
        seed = m.group(1) if m else ""
    seed = seed or platform.node() or "unknown-host"
    import hashlib

    return "h-" + hashlib.sha256(seed.encode()).hexdigest()[:12]


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def blas_facts() -> dict[str, Any]:
    """The BLAS libraries mapped into this process and their thread pools; each backend adds its own
    framework's BLAS (`Backend.blas`) to this once it has run."""
    facts: dict[str, Any] = {"loaded_libraries": loaded_blas_libraries()}
    try:
        from threadpoolctl import threadpool_info

        facts["threadpools"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture")}
            for d in threadpool_info()
        ]
    except ImportError:
        pass
    return facts


def stable_facts(distributions: Sequence[str] = ()) -> dict[str, Any]:
    """Facts that do not change while a process runs: the same when a run starts and when it is saved,
    so pytest-benchmark's machine_info comparison stays quiet between runs of one machine.

    `distributions`: those whose versions the backends declare as making runs incomparable
    (`Registry.distributions`); their installed versions are recorded, with SciPy's (the verdicts')."""
    versions = {d: _version(d) for d in (*distributions, "scipy")}
    return {
        "machine_id": machine_id(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": list(gpu_names()),
        "virtual_gpu": is_virtual_apple_gpu(),
        "versions": {k: v for k, v in versions.items() if v},
        "thread_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    }


def runtime_facts() -> dict[str, Any]:
    """Facts known once the frameworks are loaded: the BLAS libraries in use and thread counts."""
    return {"blas": blas_facts()}


ID_FIELDS = ("OS", "architecture", "CPU model", "CPU count", "GPU", "Python implementation", "Python version")


def id_fields(mid: str) -> dict[str, str] | None:
    """A machine id split into its parts (see `machine_id`), or None for an id set by hand."""
    parts = mid.split("-")
    count = next((i for i in range(len(parts) - 3, 2, -1) if re.fullmatch(r"\d+c", parts[i])), None)
    if count is None or len(parts) < 6 or not re.fullmatch(r"\d+\.\d+", parts[-1]) or not parts[-2].isalpha():
        return None  # it does not end in the implementation and the version: set by hand, not ours to read
    values = (parts[0], parts[1], "-".join(parts[2:count]), parts[count], "-".join(parts[count + 1 : -2]), *parts[-2:])
    return dict(zip(ID_FIELDS, values, strict=True))


def closest_machine_id(mid: str, candidates: Sequence[str]) -> tuple[str, list[str]] | None:
    """The candidate id most like `mid` (fewest differing parts, then by name), and the parts that
    differ; None without candidates. Ids that do not parse differ in everything."""
    mine = id_fields(mid)
    scored = []
    for other in sorted(set(candidates) - {mid}):
        theirs = id_fields(other)
        if mine is None or theirs is None:
            odd = other if theirs is None else mid
            why = (
                f"{MACHINE_ID_ENV} set by hand"
                if odd == mid and os.environ.get(MACHINE_ID_ENV)
                else "not an mlxbench machine id (pytest-benchmark's name, or one given by hand)"
            )
            diff = [f"machine id ({odd}: {why})"]
            scored.append((len(ID_FIELDS), other, diff))
        else:
            diff = [k for k in ID_FIELDS if mine[k] != theirs[k]]
            scored.append((len(diff), other, diff))
    if not scored:
        return None
    _, best, diff = min(scored)
    return best, diff
