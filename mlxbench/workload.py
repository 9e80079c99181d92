"""What a workload gives the harness: the contract between `workloads/` and `mlxbench/`.

A workload is written once: a frozen spec per profile (sizes, hyperparameters, gate thresholds,
each with its reason), NumPy data, metrics; plus one implementation per framework that satisfies
the typed interface the workload declares (`Workload.interface`, a `typing.Protocol`). The harness

1. asks the workload for its spec (`spec(profile, seed)`),
2. loads the implementation for the backend's framework and checks it against the interface,
3. asks the workload to `prepare` a callable (transfers, compilation and first-call costs happen
   there, untimed),
4. times that callable through the backend's synced call,
5. hands the very result it timed, and what it measured (`Measured`), to `metrics`, and checks
   `gates`.

Data flows one way: the harness never writes into what a workload gave it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from mlxbench.backends import Backend

PROFILES: tuple[str, ...] = ("seed", "ci")
"""`seed`: the sizes the seed documents ran (the default). `ci`: same code, smaller counts."""

SpecT = TypeVar("SpecT")
StateT = TypeVar("StateT")


class Unsupported(Exception):
    """This workload/variant does not apply to this backend (becomes a skip with the message)."""


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
class Prepared(Generic[StateT]):
    """A callable ready to be timed, and how to time it. Written by the workload, read by the harness.

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
    state:      the workload's own object for its `metrics` (typed by the workload).
    """

    run: Callable[[], Any]
    rounds: int
    state: StateT
    warmup_rounds: int = 1
    setup: Callable[[], None] | None = None
    work_per_round: float | None = None
    work_unit: str = "it"
    cumulative: bool = False
    collect: Callable[[Any], Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measured:
    """What the harness measured, handed to `metrics`: per-round seconds (empty when timing was off)."""

    round_times: tuple[float, ...] = ()


class Context(Protocol):
    """What a workload may ask of the session while preparing."""

    data_dir: str | None

    def dataset(self, key: Any, load: Callable[[], Any]) -> Any:
        """`load()`'s result, read and verified once per session."""
        ...


class Workload(Protocol[SpecT, StateT]):
    """A workload. `interface` is the Protocol its per-framework implementations satisfy, or None
    when it runs on the backend's own contract alone (asarray, force, execution) on every backend."""

    name: str
    variants: Sequence[str]
    interface: type | None
    regression_threshold: float | None  # smallest slowdown its verdicts count (None: the harness default)

    def spec(self, profile: str, seed: int | None = None) -> SpecT: ...

    def prepare(self, backend: Backend, spec: SpecT, variant: str, context: Context, impl: Any) -> Prepared[StateT]: ...

    def metrics(
        self, spec: SpecT, variant: str, result: Any, prepared: Prepared[StateT], measured: Measured
    ) -> dict[str, float]: ...

    def gates(self, spec: SpecT, variant: str) -> Sequence[Gate]: ...


class ProfiledWorkload:
    """Base for workloads whose specs are a `profiles` dict of frozen dataclasses keyed by profile.

    `spec(profile, seed)` replaces the spec's `seed` field; a spec without one cannot vary it.
    """

    name: str
    variants: Sequence[str]
    profiles: Mapping[str, Any]
    interface: type | None = None
    regression_threshold: float | None = None

    def spec(self, profile: str, seed: int | None = None) -> Any:
        spec = self.profiles[profile]
        if seed is None:
            return spec
        if not any(f.name == "seed" for f in dataclasses.fields(spec)):
            raise Unsupported(f"{self.name} has no seed to vary (--seed)")
        return dataclasses.replace(spec, seed=seed)


Cadence = Literal["step", "end"]
"""Where a training workload forces evaluation: after every `step` (`Backend.force` of the state),
or once at the `end` of the measured call (the harness's sync of its result)."""

CADENCES: tuple[Cadence, ...] = ("step", "end")


def training_variants(modes: Sequence[str] = ("eager", "compiled")) -> tuple[str, ...]:
    """`eager-step`, `eager-end`, `compiled-step`, ...: each execution mode at each cadence."""
    return tuple(f"{mode}-{cadence}" for mode in modes for cadence in CADENCES)


def _no_force(out: Any) -> None:
    pass


def split_variant(variant: str) -> tuple[str, Cadence]:
    """(mode, cadence) of a training variant `<mode>-<cadence>`, e.g. ("compiled", "end")."""
    mode, _, cadence = variant.rpartition("-")
    if cadence not in CADENCES:
        raise ValueError(f"{variant!r} is not <mode>-<cadence> with a cadence of {', '.join(CADENCES)}")
    return mode, cadence  # type: ignore[return-value]


def step_forcer(backend: Backend, variant: str) -> Callable[[Any], None]:
    """What a training step calls on its state at the variant's cadence: `backend.force` at `step`,
    nothing at `end` (the harness forces the measured call's result).

    On an eager backend the cadence changes nothing (every op has finished when it returns), so
    `end` is a skip that says so, not a duplicate benchmark."""
    mode, cadence = split_variant(variant)
    if cadence == "step":
        return backend.force
    if backend.execution == "eager":
        raise Unsupported(
            f"{backend.framework} on {backend.device} executes eagerly: every op has finished when it returns, so "
            f"one force at the end measures the same as one per step (see {mode}-step)"
        )
    return _no_force


def compiled_variant(backend: Backend, variant: str) -> bool:
    """Whether `variant` asks for the framework's compiler; Unsupported when the backend has none."""
    if variant != "compiled":
        return False
    if backend.compiler is None:
        raise Unsupported(f"{backend.framework} has no compiler ('compiled' applies to mx.compile, torch.compile, ...)")
    return True
