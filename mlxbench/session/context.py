"""What a session knows, in one object reached one way (`RunContext.of(config)`): settings, the registry,
the gate, loaded datasets, the sweep points measured so far, the A/B baton when this session is one
arm's worker, the saved runs read at configure, and what it wrote, kept or could not save."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlxbench.backends import Backend
from mlxbench.measure.pointguard import CALIBRATION_CALLS, PointGuard, does_not_fit
from mlxbench.session.settings import Settings
from mlxbench.workload import Prepared, Size

if TYPE_CHECKING:  # types only: the session's context is made before any of these is needed
    from mlxbench.measure.baton import Baton
    from mlxbench.measure.threads import ThreadPolicy
    from mlxbench.registry import Registry
    from mlxbench.runs import BadRun, Run
    from mlxbench.verdicts.gate import RegressionGate


@dataclass
class RunContext:
    """The session as workloads and the harness see it: settings, the gate, loaded datasets; and what
    the plugin learns along the way (saved runs, files written), read by its closing words."""

    settings: Settings = field(default_factory=Settings)
    gate: RegressionGate | None = None  # with --regression-gate and a baseline
    not_gating: str | None = None  # why this machine's timings are recorded but never gate
    no_baseline: str | None = None  # why nothing was compared, when nothing was
    baseline: Run | None = None  # the saved run --benchmark-compare compares with, read at configure
    reference: Run | None = None  # another host's last run of this machine type, shown beside this one, not judged
    threads: ThreadPolicy | None = None  # the thread policy in force for the session
    watch: Callable[[Prepared, str], Callable[[], None]] | None = None  # a per-round ticker (mlxbench.measure.progress)
    datasets: dict[Any, Any] = field(default_factory=dict)  # loaded once per session, see dataset()
    points: PointGuard | None = None  # sweep points measured this session (made on first use, see point_skip)
    baton: Baton | None = None  # when this session is one arm's worker of a paired A/B
    registry: Registry | None = None  # backends, workloads, implementations
    saved: list[Run] = field(default_factory=list)  # the saved runs read at configure (when something is compared)
    unreadable: list[BadRun] = field(default_factory=list)  # saved runs that could not be read (named at start)
    notes: list[str] = field(default_factory=list)  # one line each, said when the session starts
    written: list[str] = field(default_factory=list)  # one line per run file this session wrote or kept
    diverted: tuple[int | None, list[Path]] = (None, [])  # (exit status, where an incomplete run's data went)
    interrupted: bool = False  # a KeyboardInterrupt reached pytest during this session
    signal: int | None = None  # SIGTERM or SIGHUP ended it (mlxbench.cancel): its exit is 128 + this
    failed: set[str] = field(default_factory=set)  # node ids of the tests that failed, in any phase
    benchmarks: set[str] = field(default_factory=set)  # node ids of the collected tests that use `bench`
    undo: list[Callable[[], None]] = field(default_factory=list)  # globals put back at unconfigure, last first
    compared: tuple | None = None  # (baseline, verdicts, why none, not judged), computed once at the end
    current: list[dict] | None = None  # this session's benchmarks as saved, serialized once at the end

    @staticmethod
    def of(config: pytest.Config) -> RunContext | None:
        """The session's context (None before the plugin configured, or without it)."""
        return config.stash.get(context_key, None)

    def attach(self, config: pytest.Config) -> None:
        config.stash[context_key] = self

    def runtime_facts(self) -> dict:
        """BLAS libraries and thread counts, with each selected backend's BLAS once its framework is loaded."""
        from mlxbench.measure import machine

        facts = machine.runtime_facts()
        for name in self.settings.backends if self.registry else ():
            backend = self.registry.backends[name]
            if backend.framework in facts["blas"] or (backend.framework not in sys.modules):
                continue
            try:
                facts["blas"][backend.framework] = backend.blas()
            except Exception as exc:  # a fact must never lose a run
                facts["blas"][backend.framework] = f"unknown ({type(exc).__name__})"
        return facts

    @property
    def profile(self) -> str:
        return self.settings.profile

    @property
    def data_dir(self) -> str | None:
        return self.settings.data_dir

    def dataset(self, key: Any, load: Callable[[], Any]) -> Any:
        """`load()`'s result, read and verified once per session (MNIST: 1.5 s per load here)."""
        if key not in self.datasets:
            self.datasets[key] = load()
        return self.datasets[key]

    def point_skip(self, workload: str, size: Size, backend: Backend) -> str | None:
        """Why a sweep point is skipped before it allocates (memory, then predicted time), or None."""
        if self.points is None:
            self.points = PointGuard()  # BadBudget for a bad MLXBENCH_POINT_BUDGET
        return does_not_fit(backend, size) or self.points.too_slow(
            workload, size, backend.name, size.calls + CALIBRATION_CALLS
        )


context_key = pytest.StashKey[RunContext]()
