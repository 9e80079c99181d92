"""What a session knows, as workloads and the harness see it: settings, the gate, loaded datasets, the
sweep points measured so far, and the A/B baton when this session is one arm's worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlxbench.backends import Backend
from mlxbench.measure.pointguard import CALIBRATION_CALLS, PointGuard, does_not_fit
from mlxbench.session.settings import Settings
from mlxbench.workload import Prepared, Size


@dataclass
class RunContext:
    """The session as workloads and the harness see it: settings, the gate, loaded datasets."""

    settings: Settings = field(default_factory=Settings)
    gate: Any = None  # mlxbench.verdicts.gate.RegressionGate with --regression-gate and a baseline
    not_gating: str | None = None  # why this machine's timings are recorded but never gate
    no_baseline: str | None = None  # why nothing was compared, when nothing was
    threads: Any = None  # mlxbench.measure.threads.ThreadPolicy in force for the session
    watch: Callable[[Prepared, str], Callable[[], None]] | None = None  # a per-round ticker (mlxbench.measure.progress)
    datasets: dict[Any, Any] = field(default_factory=dict)  # loaded once per session, see dataset()
    points: PointGuard | None = None  # sweep points measured this session (made on first use, see point_skip)
    baton: Any = None  # mlxbench.measure.baton.Baton when this session is one arm's worker of a paired A/B

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
