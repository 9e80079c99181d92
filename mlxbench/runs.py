"""Saved runs (pytest-benchmark JSON): loading with clear errors, and telling like from unlike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HARDWARE_KEYS = ("machine_id", "cpu_model", "cpu_count", "gpus", "virtual_gpu")


class BadRun(Exception):
    """A run file that cannot be used; the message names the file and what to do."""


# Test ids before one parametrized test ran every workload (runs 0001-0003 of the first machines):
# `benchmarks/test_linreg.py::test_linreg_sgd[mlx-cpu-seed-eager]` is now
# `benchmarks/test_workloads.py::test_workload[linreg-mlx-cpu-seed-eager]`.
LEGACY_TESTS = {
    "benchmarks/test_linreg.py::test_linreg_sgd[": "linreg",
    "benchmarks/test_mnist.py::test_mnist_mlp[": "mnist_mlp",
    "benchmarks/test_lazy_eval.py::test_lazy_eval[": "lazy_eval",
    "benchmarks/test_placement.py::test_placement[": "placement",
}
CURRENT_TEST = "benchmarks/test_workloads.py::test_workload["


def current_name(fullname: str) -> str:
    """A benchmark's name as this version of the suite gives it (old saved runs stay comparable)."""
    for old, workload in LEGACY_TESTS.items():
        if fullname.startswith(old):
            return f"{CURRENT_TEST}{workload}-{fullname.removeprefix(old)}"
    return fullname


@dataclass
class Run:
    path: Path
    data: dict[str, Any]

    def __post_init__(self) -> None:
        for b in self.data.get("benchmarks") or []:  # in memory only: the file is never rewritten
            if isinstance(b, dict) and isinstance(b.get("fullname"), str):
                b["fullname"] = current_name(b["fullname"])

    @property
    def benchmarks(self) -> dict[str, dict]:
        return {b["fullname"]: b for b in self.data["benchmarks"]}

    @property
    def facts(self) -> dict[str, Any]:
        """Machine facts (machine_info.mlxbench) plus the run's BLAS and thread facts."""
        stable = (self.data.get("machine_info") or {}).get("mlxbench") or {}
        runtime = (self.data.get("mlxbench") or {}).get("environment") or {}
        return {**stable, **runtime}

    @property
    def profile(self) -> str | None:
        return (self.data.get("mlxbench") or {}).get("profile")

    @property
    def label(self) -> str:
        return self.path.stem


def load_run(path: str | Path) -> Run:
    path = Path(path)
    if not path.is_file():
        raise BadRun(
            f"{path}: no such run file. Pass a pytest-benchmark JSON file, or a saved run id "
            f"(e.g. 0001) that exists under the baseline folder."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRun(
            f"{path}: not valid JSON ({exc}). The file is corrupt: restore it from version control "
            f"or rerun the benchmarks to make a new one."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or "machine_info" not in data:
        raise BadRun(
            f"{path}: not a pytest-benchmark run (no 'benchmarks' list and 'machine_info'). "
            f"Pass a file written by --benchmark-json or --benchmark-save."
        )
    for b in data["benchmarks"]:
        if not isinstance(b, dict) or "fullname" not in b or "stats" not in b:
            raise BadRun(f"{path}: a benchmark entry lacks 'fullname' or 'stats'; the file is damaged.")
    return Run(path, data)


SAVED_RUN_GLOB = "[0-9][0-9][0-9][0-9]_*.json"  # what --benchmark-save/--benchmark-autosave write


def load_folder(folder: Path) -> tuple[list[Run], list[BadRun]]:
    """Every saved run in `folder`, oldest first, each file read once; the unreadable ones as errors."""
    runs, bad = [], []
    for path in sorted(folder.glob(SAVED_RUN_GLOB)):
        try:
            runs.append(load_run(path))
        except BadRun as exc:
            bad.append(exc)
    return runs, bad


def runs_before(run: Run, saved: list[Run]) -> list[Run]:
    """The saved runs of `run`'s folder made before it (saved names start with a run number)."""
    folder = run.path.parent.resolve()
    return [r for r in saved if r.path.parent.resolve() == folder and r.path.name < run.path.name]


def resolve(ref: str, folder: Path) -> Path:
    """A run given as a path, or as a saved id (`0003` or `0003_name`) under `folder`."""
    candidate = Path(ref)
    if candidate.is_file() or candidate.suffix == ".json":
        return candidate
    matches = sorted(folder.glob(f"{ref}*.json"))
    if not matches:
        raise BadRun(
            f"no saved run {ref!r} in {folder}. Saved runs there: "
            f"{', '.join(p.stem for p in sorted(folder.glob('*.json'))) or 'none'}."
        )
    if len(matches) > 1:
        raise BadRun(f"{ref!r} matches several runs in {folder}: {', '.join(p.stem for p in matches)}.")
    return matches[0]


def differences(
    base: dict[str, Any], cur: dict[str, Any], distributions: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """(hardware differences, framework-version differences) between two runs' mlxbench facts.

    `distributions`: the ones the backends declare (default: `Registry.distributions` of this
    installation); a version that only one run recorded counts as a difference too."""
    if distributions is None:
        from mlxbench.registry import Registry

        distributions = Registry.load().distributions
    hardware = [f"{k}: {base.get(k)!r} vs {cur.get(k)!r}" for k in HARDWARE_KEYS if base.get(k) != cur.get(k)]
    bv, cv = base.get("versions") or {}, cur.get("versions") or {}
    versions = [f"{k} {bv.get(k)} -> {cv.get(k)}" for k in distributions if bv.get(k) != cv.get(k)]
    return hardware, versions


def comparability(
    base: dict[str, Any], cur: dict[str, Any], allow_version_change: bool, distributions: Sequence[str] | None = None
) -> str | None:
    """None when the baseline may gate the current run, else why not (and what to do)."""
    if not base:
        return (
            "the baseline has no mlxbench machine facts (it was not made by mlxbench): nothing to tell like from unlike"
        )
    hardware, versions = differences(base, cur, distributions)
    if hardware:
        return "it comes from different hardware (" + "; ".join(hardware) + "): compare runs of one machine"
    if versions and not allow_version_change:
        return (
            "framework versions differ (" + "; ".join(versions) + "): pass --allow-version-change to gate "
            "across them (what a nightly run checking a new release wants)"
        )
    return None
