"""Saved runs (pytest-benchmark JSON): loading with clear errors, and telling like from unlike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlxbench import samples

HARDWARE_KEYS = ("machine_id", "cpu_model", "cpu_count", "gpus", "virtual_gpu")


class BadRun(Exception):
    """Bad input (a run file, a run id, an output folder) that cannot be used; the message names it and
    says what to do, on one line."""


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

    @cached_property
    def benchmarks(self) -> dict[str, dict]:  # built once: tables look up every benchmark's median in it
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

    def median(self, name: str) -> float:
        """Benchmark `name`'s median in seconds; NaN when the run has none that is a positive finite time."""
        value = ((self.benchmarks.get(name) or {}).get("stats") or {}).get("median")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
        return float(value) if ok else math.nan

    @property
    def host(self) -> str | None:
        """The host that made this run (mlxbench.measure.machine.host_id); None for runs saved before
        hosts were recorded."""
        host = (self.data.get("mlxbench") or {}).get("host")
        return host if isinstance(host, str) else None


DAMAGED = "the file is damaged: restore it from version control or rerun the benchmarks to make a new one"


def load_run(path: str | Path) -> Run:
    path = Path(path)
    if path.name.endswith(".partial"):
        raise BadRun(
            f"{path} is what an interrupted or failed session kept for inspection, not a complete run: nothing "
            "compares with it or reports it. Name a saved run (NNNN_*.json), or rerun the benchmarks."
        )
    if path.is_dir():
        raise BadRun(f"{path} is a folder, not a run file: name one of the JSON runs in it, or a saved run id.")
    if not path.is_file():
        raise BadRun(
            f"{path}: no such run file. Pass a pytest-benchmark JSON file, or a saved run id "
            f"(e.g. 0001) that exists under the baseline folder."
        )
    try:
        data = samples.loads(path.read_bytes())  # millions of samples: bounded memory
    except OSError as exc:
        raise BadRun(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions.") from None
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
    seen: set[str] = set()
    for b in data["benchmarks"]:
        if not isinstance(b, dict) or not isinstance(b.get("fullname"), str) or "stats" not in b:
            raise BadRun(f"{path}: a benchmark entry lacks 'fullname' or 'stats'; {DAMAGED}.")
        if b["fullname"] in seen:
            raise BadRun(f"{path}: benchmark {b['fullname']!r} appears twice; {DAMAGED}.")
        seen.add(b["fullname"])
        problem = samples.stats_problem(b["stats"]) or info_problem(b.get("extra_info"))
        if problem:
            raise BadRun(f"{path}: benchmark {b['fullname']!r}: {problem}; {DAMAGED}.")
    problem = facts_problem(data)
    if problem:
        raise BadRun(f"{path}: {problem}; {DAMAGED}.")
    return Run(path, data)


# Every field the suite reads from a run as a container, with the type it must have (it may be absent or
# null). `extra_info.size` is left out: runs before the sweep profile saved it as a number, which the
# sweep reader skips.
INFO_FIELDS = {"metrics": dict, "gates": list, "peak_memory": dict, "verdict": dict}
MLXBENCH_FIELDS = {"environment": dict, "threads": dict, "backends": list, "host": str}
FACT_FIELDS = {"versions": dict, "gpus": list, "thread_env": dict, "blas": dict}


def _wrong(where: str, value: Any, kind: type) -> str | None:
    if value is None or isinstance(value, kind):
        return None
    return f"{where} is a {type(value).__name__}, not a {'mapping' if kind is dict else kind.__name__}"


def info_problem(info: Any) -> str | None:
    """Why a benchmark's extra_info cannot be read (a wrong type where the suite looks), or None."""
    if info is None:
        return None
    if not isinstance(info, dict):
        return _wrong("'extra_info'", info, dict)
    for key, kind in INFO_FIELDS.items():
        if problem := _wrong(f"'extra_info.{key}'", info.get(key), kind):
            return problem
    if any(not isinstance(g, dict) for g in info.get("gates") or []):
        return "an entry of 'extra_info.gates' is not a mapping"
    return None


def facts_problem(data: dict) -> str | None:
    """Why the run's machine facts or mlxbench block cannot be read, or None."""
    machine_info, block = data.get("machine_info"), data.get("mlxbench")
    if problem := _wrong("'machine_info'", machine_info, dict) or _wrong("the 'mlxbench' block", block, dict):
        return problem
    stable = (machine_info or {}).get("mlxbench")
    if problem := _wrong("'machine_info.mlxbench'", stable, dict):
        return problem
    for key, kind in FACT_FIELDS.items():
        if problem := _wrong(f"'machine_info.mlxbench.{key}'", (stable or {}).get(key), kind):
            return problem
    for key, kind in MLXBENCH_FIELDS.items():
        if problem := _wrong(f"'mlxbench.{key}'", (block or {}).get(key), kind):
            return problem
    if problem := _wrong("'mlxbench.profile'", (block or {}).get("profile"), str):
        return problem
    return None


SAVED_RUN_GLOB = "[0-9][0-9][0-9][0-9]_*.json"  # what --benchmark-save/--benchmark-autosave write


def load_folder(folder: Path) -> tuple[list[Run], list[BadRun]]:
    """Every saved run in `folder`, oldest first, each file read once; the unreadable ones as errors."""
    runs, bad = [], []
    if not folder.is_dir():
        return runs, bad
    for path in sorted(folder.glob(SAVED_RUN_GLOB)):
        try:
            runs.append(load_run(path))
        except BadRun as exc:
            bad.append(exc)
    return runs, bad


def runs_before(run: Run, saved: Sequence[Run]) -> list[Run]:
    """`run`'s history: the saved runs of its folder made before it (saved names start with a run number)
    by the same host (another host of the same machine type is not the history of this one's changes)."""
    folder = run.path.parent.resolve()
    return [
        r for r in saved if r.path.parent.resolve() == folder and r.path.name < run.path.name and r.host == run.host
    ]


def split_by_host(saved: Sequence[Run], host: str) -> tuple[list[Run], list[Run]]:
    """(the runs `host` made, the runs other hosts of this machine type made), each oldest first."""
    return [r for r in saved if r.host == host], [r for r in saved if r.host != host]


def resolve(ref: str, folder: Path) -> Path:
    """A run given as a path, or as a saved id (`0003` or `0003_name`) under `folder`."""
    if not ref.strip():
        raise BadRun("an empty run name: give a run file or a saved run id (such as 0003).")
    candidate = Path(ref)
    if candidate.is_file():
        return candidate
    saved = sorted(folder.glob("*.json")) if folder.is_dir() else []
    bare = bool(ref) and not candidate.is_absolute() and len(candidate.parts) == 1 and candidate.suffix != ".json"
    matches = [p for p in saved if p.name.startswith(ref)] if bare else []  # a prefix, never a glob pattern
    if len(matches) > 1:
        raise BadRun(f"{ref!r} matches several runs in {folder}: {listed(matches)}.")
    if matches:
        return matches[0]
    if candidate.is_dir() and (any(candidate.glob("pair-*")) or (candidate / "A").is_dir()):
        raise BadRun(
            f"{ref} is an A/B folder without verdicts.json: that `mlxbench ab` ended before judging (interrupted or "
            "failed); its samples are kept there, nothing was judged. Run `mlxbench ab` again for verdicts."
        )
    if candidate.is_dir():
        runs = sorted(p.name for p in candidate.glob("*.json"))[:3]
        example = f" (it holds {', '.join(runs)})" if runs else " (it holds no .json file)"
        raise BadRun(f"{ref} is a folder, not a run: name one JSON run file in it{example}, or a saved run id.")
    if candidate.suffix == ".json":
        return candidate  # load_run says that it does not exist
    if not bare:
        raise BadRun(f"{ref!r}: no such run file, and not a saved run id (such as 0003) either.")
    raise BadRun(f"no saved run {ref!r} in {folder}. Saved runs there: {listed(saved)}.")


def listed(paths: Sequence[Path], shown: int = 3) -> str:
    """Run files as a message names them: all of a few; of many, how many, the first and the last few."""
    if not paths:
        return "none"
    if len(paths) <= shown + 1:
        return ", ".join(p.stem for p in paths)
    last = ", ".join(p.stem for p in paths[-shown:])
    return f"{len(paths)}, from {paths[0].stem} to {last}"


def baseline_run(ref: str, folder: Path, saved: Sequence[Run]) -> Run:
    """The run `ref` names (a path or a saved id under `folder`), taken from the runs already read when
    it is one of them, else read now."""
    path = resolve(ref, folder).resolve()
    return next((r for r in saved if r.path.resolve() == path), None) or load_run(path)


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
