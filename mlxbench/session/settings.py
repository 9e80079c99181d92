"""The suite's options, resolved once when pytest configures, into one typed object.

Every check of a user's value happens here, so a bad value is one usage error that names the
option, the value and what to give instead, before anything runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlxbench.measure.threads import THREADS_ENV, default_threads
from mlxbench.registry import Registry
from mlxbench.verdicts.verdict import threshold_problem
from mlxbench.workload import PROFILES

PROFILE_ENV = "MLXBENCH_PROFILE"
DATA_DIR_ENV = "MLXBENCH_DATA_DIR"


@dataclass(frozen=True)
class Settings:
    profile: str = "seed"
    backends: tuple[str, ...] = ()  # selected backend names, in registry order unless given
    data_dir: str | None = None
    strict_data: bool = False
    seed: int | None = None  # overrides every workload's seed (robustness sweeps)
    regression_gate: bool = False
    regression_threshold: float | None = None  # overrides every workload's own
    allow_version_change: bool = False
    threads: int = 1  # per library (BLAS, OpenMP, PyTorch); see mlxbench.measure.threads

    @classmethod
    def from_config(cls, config: pytest.Config, registry: Registry) -> Settings:
        """The settings of this session; pytest.UsageError for a value that cannot work."""
        profile = config.getoption("profile") or os.environ.get(PROFILE_ENV) or "seed"
        if profile not in PROFILES:
            raise pytest.UsageError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
        return cls(
            profile=profile,
            backends=select_backends(config.getoption("backend"), registry.backend_names),
            data_dir=data_dir(config.getoption("data_dir") or os.environ.get(DATA_DIR_ENV) or None),
            strict_data=bool(config.getoption("strict_data")),
            seed=seed(config.getoption("seed")),
            regression_gate=bool(config.getoption("regression_gate")),
            regression_threshold=threshold(config.getoption("regression_threshold")),
            allow_version_change=bool(config.getoption("allow_version_change")),
            threads=threads(first(config.getoption("threads"), os.environ.get(THREADS_ENV))),
        )


def first(*values):
    """The first value that was given (0 counts as given)."""
    return next((v for v in values if v is not None), None)


def select_backends(raw: list[str] | None, names: list[str]) -> tuple[str, ...]:
    if raw is None:
        return tuple(names)
    chosen: list[str] = []
    for value in raw:
        parts = [n.strip() for n in value.split(",")]
        if not any(parts):
            raise pytest.UsageError(
                f"--backend {value!r} names no backend; give one or more of: {', '.join(names)} "
                "(leave --backend out to run them all)"
            )
        for name in filter(None, parts):
            if name not in names:
                raise pytest.UsageError(f"unknown backend {name!r}; valid backends: {', '.join(names)}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen)


def data_dir(value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(value)
    hint = f"pass --data-dir (or {DATA_DIR_ENV}) pointing at a folder that holds the datasets, or leave it unset"
    if not path.exists():
        raise pytest.UsageError(f"data directory {value!r} does not exist; {hint} to use the download cache")
    if not path.is_dir():
        raise pytest.UsageError(f"data directory {value!r} is a file, not a folder; {hint}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise pytest.UsageError(f"data directory {value!r} cannot be read (permissions); make it readable, or {hint}")
    return value


def threads(value: int | str | None) -> int:
    if value is None or value == "":
        return default_threads()
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(f"--threads {value}: give a whole number of threads, 1 or more (or {THREADS_ENV})")
    return n


def seed(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise pytest.UsageError(f"--seed {value}: a seed is a non-negative integer (NumPy's generators need one)")
    return value


def threshold(value: float | None) -> float | None:
    problem = threshold_problem(value)
    if problem:
        raise pytest.UsageError(f"--regression-threshold: {problem}")
    return value
