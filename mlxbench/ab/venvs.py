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
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Sequence
from pathlib import Path

from mlxbench.runs import BadRun, Run

ROOT = Path(__file__).resolve().parents[2]


def pins(run: Run, distributions: Sequence[str] | None = None) -> list[str]:
    """`name==version` for every framework distribution the run recorded (local labels such as
    `+cpu` dropped: the index serves the platform's build of that version)."""
    if distributions is None:
        from mlxbench.registry import Registry

        distributions = Registry.load().distributions
    versions = run.facts.get("versions") or {}
    found = [f"{d}=={str(versions[d]).split('+')[0]}" for d in distributions if versions.get(d)]
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
    wanted = pins(run)
    tag = f"py{sys.version_info.major}.{sys.version_info.minor}|{ROOT}|" + "|".join(sorted(wanted))
    env = (cache or cache_root()) / hashlib.sha256(tag.encode()).hexdigest()[:16]
    if (env / "mlxbench-env.txt").exists():
        log(f"mlxbench: reusing {env} ({', '.join(wanted)})")
        return python_of(env)
    tmp = env.with_name(env.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)  # an interrupted earlier build: never reused
    log(f"mlxbench: creating {env} with {', '.join(wanted)} (once; later runs reuse it)")
    venv.create(tmp, with_pip=True)
    cmd = [str(python_of(tmp)), "-m", "pip", "install", "-q", *wanted, "-e", str(ROOT)]
    proc = (install or _run)(cmd)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (proc.stdout or "")[-1500:] + (proc.stderr or "")[-1500:]
        raise BadRun(f"could not build the baseline's environment ({' '.join(wanted)}): pip said:\n{tail.strip()}")
    (tmp / "mlxbench-env.txt").write_text("\n".join([tag, *wanted]) + "\n")
    tmp.rename(env)
    return python_of(env)


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
