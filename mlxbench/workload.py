"""What a workload gives the harness: the contract between `workloads/` and `mlxbench/`.

A workload is written once: a frozen spec per profile (sizes, hyperparameters, gate thresholds,
each with its reason), NumPy data, metrics; plus one `impl_<framework>.py` per framework. The
harness asks it to `prepare` a callable for one backend and variant (all transfers, compilation
and first-call costs happen there, untimed), times that callable through the backend's synced
call, then hands the very result it timed back to `metrics` and checks `gates`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, Protocol

PROFILES: tuple[str, ...] = ("seed", "ci")
"""`seed`: the sizes the seed documents ran (the default). `ci`: same code, smaller counts."""


class Unsupported(Exception):
    """Raised by `prepare`: this workload/variant does not apply to this backend (becomes a skip)."""


@dataclass(frozen=True)
class Gate:
    """One accuracy threshold: `metric` must be `<= limit` (kind "max") or `>= limit` ("min").

    `tolerance`: how much worse than the baseline's value the metric may get before the regression
    gate calls it an accuracy regression (default: see mlxbench.verdict.accuracy_regressions).
    """

    metric: str
    limit: float
    kind: Literal["max", "min"]
    why: str
    tolerance: float | None = None

    def passes(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        return value <= self.limit if self.kind == "max" else value >= self.limit

    def describe(self, value: float) -> str:
        op = "<=" if self.kind == "max" else ">="
        return f"{self.metric} = {value:.6g}, needs {op} {self.limit:.6g} ({self.why})"


@dataclass
class Prepared:
    """A callable ready to be timed, and how to time it.

    run:        the measured call; returns the backend-native result (the harness syncs it).
    rounds:     measured rounds; each calls `run` once.
    warmup_rounds: untimed calls before the measured ones (compilation, caches).
    setup:      optional untimed hook before each round (e.g. record validation accuracy).
    work_per_round / work_unit: for throughput in extra_info, e.g. 10_000 "it" -> it/s.
    cumulative: rounds build on each other (training epochs): all of them run even when timing
                is disabled, so the accuracy gate judges the same model.
    collect:    after timing, maps the last timed output to the result to check (default: itself);
                e.g. a lazily built graph that the clock deliberately did not evaluate.
    info:       descriptive labels for the run JSON (strings), e.g. what a variant measures.
    state:      anything the workload's `metrics` needs besides the result.
    """

    run: Callable[[], Any]
    rounds: int
    warmup_rounds: int = 1
    setup: Callable[[], None] | None = None
    work_per_round: float | None = None
    work_unit: str = "it"
    cumulative: bool = False
    collect: Callable[[Any], Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)  # labels saved in extra_info (e.g. execution model)
    round_times: list[float] = field(default_factory=list)  # filled by the harness after timing
    state: dict[str, Any] = field(default_factory=dict)


class Workload(Protocol):
    name: str
    variants: Sequence[str]

    def spec(self, profile: str) -> Any: ...

    def prepare(self, backend: Any, spec: Any, variant: str, context: Any) -> Prepared: ...

    def metrics(self, spec: Any, variant: str, result: Any, prepared: Prepared) -> dict[str, float]: ...

    def gates(self, spec: Any, variant: str) -> Sequence[Gate]: ...


def load_impl(package: str, framework: str, variant: str = "") -> ModuleType:
    """Import `<package>.impl_<framework>`; a missing module means the framework is unsupported.

    A `compiled` variant also needs the module to declare `HAS_COMPILER = True`.
    """
    name = f"{package}.impl_{framework}"
    try:
        impl = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise Unsupported(f"{package} has no {framework} implementation ({name})") from None
    if variant == "compiled" and not getattr(impl, "HAS_COMPILER", False):
        raise Unsupported(f"{framework} has no compiler; 'compiled' applies to mx.compile and torch.compile")
    return impl


class Profiled:
    """Mixin for workloads whose specs are a `profiles` dict keyed by profile name."""

    profiles: dict[str, Any]

    def spec(self, profile: str) -> Any:
        return self.profiles[profile]
