"""Virtual environments with the framework versions a saved run recorded (arm A of `mlxbench ab`).

"Is today's MLX slower than the one this baseline was made with?" needs the old MLX beside the new
one. `environment_for(run)` makes (once, then reuses) a virtual environment holding this checkout
of mlxbench and exactly the framework versions in the run's `machine_info.mlxbench.versions`, for
the distributions the backends declare (`Registry.distributions`). It is built in a temporary
folder and renamed into the cache only when complete, so an interrupted build is never reused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Sequence
from pathlib import Path

from mlxbench.runs import BadRun, Run

ROOT = Path(__file__).resolve().parents[2]


def pins(run: Run, distributions: Sequence[str] | None = None) -> list[str]:
    """`name==version` for every framework distribution the run recorded, its local label kept: `torch==2.13.0+cpu`
    is the CPU build the run measured, where `torch==2.13.0` would install PyPI's CUDA build on Linux."""
    if distributions is None:
        from mlxbench.registry import Registry

        distributions = Registry.load().distributions
    versions = run.facts.get("versions") or {}
    found = [f"{d}=={versions[d]}" for d in distributions if versions.get(d)]
    if not found:
        raise BadRun(f"{run.path} records no framework versions (machine_info.mlxbench.versions): nothing to pin")
    return found


def cache_root() -> Path:
    from mlxbench.datasets import default_cache_dir

    return default_cache_dir() / "envs"


def python_of(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def environment_for(
    run: Run,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
    install: Callable[[list[str]], subprocess.CompletedProcess] | None = None,
) -> Path:
    """The interpreter of a cached environment with `run`'s framework versions and this mlxbench."""
    return environment(pins(run), cache, log, install)


def installer() -> list[str] | None:
    """`uv` (seconds per environment where pip takes minutes) when it is on PATH or installed here; None: pip."""
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # type: ignore[import-not-found]

        return [uv.find_uv_bin()]
    except (ImportError, FileNotFoundError, AttributeError):
        return None


def suite_pins(leave_out: Sequence[str] = ()) -> list[str]:
    """`name==version` of this interpreter's versions of mlxbench's own requirements (numpy, pytest,
    pytest-benchmark, ...), so that an environment differs from this one only in what it is made for."""
    from importlib import metadata

    try:
        requires = metadata.distribution("mlxbench").requires or []
    except metadata.PackageNotFoundError:
        return []
    out = []
    for req in requires:
        if "extra ==" in req:
            continue
        name = re.split(r"[ <>=!~;\[(]", req, maxsplit=1)[0]
        if not name or _canonical(name) in {_canonical(d) for d in leave_out}:
            continue
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def environment(
    wanted: Sequence[str],
    cache: Path | None = None,
    log: Callable[[str], None] = print,
    install: Callable[[list[str]], subprocess.CompletedProcess] | None = None,
    tool: list[str] | None = None,
) -> Path:
    """The interpreter of a cached environment holding `wanted` (requirements) and this checkout of mlxbench,
    built once (uv when there is one, else pip) and reused; an interrupted build is never reused."""
    tag = f"py{sys.version_info.major}.{sys.version_info.minor}|{ROOT}|" + "|".join(sorted(wanted))
    env = (cache or cache_root()) / hashlib.sha256(tag.encode()).hexdigest()[:16]
    if (env / "mlxbench-env.txt").exists():
        log(f"mlxbench: reusing {env} ({', '.join(wanted)})")
        return python_of(env)
    tmp = env.with_name(env.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)  # an interrupted earlier build: never reused
    tool = installer() if tool is None else tool
    labelled = [w for w in wanted if "+" in w.partition("==")[2]]  # a build of its own index: PyTorch's +cpu, ...
    if labelled:  # found where pip's configuration says (an extra index, find-links); uv does not read it
        tool = []
    log(f"mlxbench: creating {env} with {', '.join(wanted)} ({'uv' if tool else 'pip'}; once, later runs reuse it)")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if tool:
        py = str(python_of(tmp))
        steps = [
            [*tool, "venv", "-q", "--python", sys.executable, str(tmp)],
            [*tool, "pip", "install", "-q", "--python", py, *wanted, "-e", str(ROOT)],
        ]
    else:
        venv.create(tmp, with_pip=True)
        steps = [[str(python_of(tmp)), "-m", "pip", "install", "-q", *wanted, "-e", str(ROOT)]]
    for cmd in steps:
        proc = (install or _run)(cmd)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            hint = (
                f"; {', '.join(labelled)} is a build with a local label, served by its maker's own index: give pip "
                "that index (for PyTorch's CPU builds: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu)"
                if labelled
                else ""
            )
            raise BadRun(f"could not install {' '.join(wanted)}: {install_error(proc)}{hint}")
    (tmp / "mlxbench-env.txt").write_text("\n".join([tag, *wanted]) + "\n")
    tmp.rename(env)
    return python_of(env)


def install_error(proc: subprocess.CompletedProcess) -> str:
    """The installer's own words for why, in one line (its last error line, else its last line)."""
    lines = [x.strip() for x in ((proc.stderr or "") + "\n" + (proc.stdout or "")).splitlines() if x.strip()]
    errors = [x for x in lines if x.lower().startswith(("error", "×", "╰", "because", "hint"))]
    chosen = " ".join((errors or lines or [f"exit {proc.returncode}"])[:3])
    return chosen[:400]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


PREFLIGHT = "import mlxbench.plugin, pytest, pytest_benchmark, numpy"


def arm_problem(arm: str, python: str, env: dict[str, str]) -> str | None:
    """Why an arm's interpreter cannot run the suite (missing, or lacking a module), in one line with the
    command that fixes it; None when it can."""
    try:
        proc = subprocess.run(
            [python, "-c", PREFLIGHT], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
        )
    except OSError as exc:
        why = exc.strerror or exc
        return f"arm {arm}: cannot start {python} ({why}); give an existing interpreter with --{arm.lower()}"
    except subprocess.TimeoutExpired:
        return f"arm {arm}: {python} did not import the suite within 120 s"
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit {proc.returncode}"
    return (
        f"arm {arm}: {python} cannot run the suite ({last[:200]}); install it there: "
        f"{python} -m pip install -e {Path.cwd()}"
    )
