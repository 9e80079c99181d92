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

PROFILES: tuple[str, ...] = ("seed", "ci", "sweep")
"""`seed`: the sizes the seed documents ran (the default). `ci`: same code, smaller counts. `sweep`:
each workload along a size axis (variants carry the size, e.g. `eager-step-f1000`), see `Size`."""

SpecT = TypeVar("SpecT")
StateT = TypeVar("StateT")


class Unsupported(Exception):
    """This workload/variant does not apply to this backend (becomes a skip with the message)."""


@dataclass(frozen=True)
class Gate:
    """One accuracy threshold: `metric` must be `<= limit` (kind "max") or `>= limit` ("min").

    `tolerance`: how much worse than the baseline's value the metric may get before the regression
    gate calls it an accuracy regression (default: see mlxbench.verdicts.verdict.accuracy_regressions).
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
class Size:
    """Where a variant sits on its workload's size axis; given before anything is allocated.

    series: the variant with its size left out (`eager-step` for `eager-step-f1000`): points of one
            series on one backend form a line, and lines of one series are compared across backends.
    axis, value: the size users choose (`features`, 1000). work: what one measured call does, in
            `work_unit` (flops, elements), for scaling exponents and throughput.
    device_bytes: what the point holds on the backend's device; host_bytes: what it holds on the host
            besides (NumPy data, the float64 reference). The harness skips a point that does not fit.
    calls: the calls of the prepared function a point makes (warm-up and measured rounds), for its
            predicted time.
    """

    series: str
    axis: str
    value: int
    work: float
    work_unit: str
    device_bytes: int
    host_bytes: int = 0
    calls: int = 1

    def as_info(self) -> dict[str, Any]:
        """extra_info["size"] of the benchmark."""
        return {
            "series": self.series,
            "axis": self.axis,
            "value": self.value,
            "work": self.work,
            "unit": self.work_unit,
        }


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


def variants_for(workload: Any, profile: str) -> Sequence[str]:
    """The variants `workload` runs under `profile`: its `variants_for(profile)` where it has one (a sweep
    profile's size points), else its `variants` (the same for every profile, as before)."""
    method = getattr(workload, "variants_for", None)
    return tuple(method(profile)) if callable(method) else tuple(workload.variants)


def size_of(workload: Any, spec: Any, variant: str) -> Size | None:
    """The variant's place on a size axis (`workload.size(spec, variant)`), or None for a workload or
    variant without one."""
    method = getattr(workload, "size", None)
    return method(spec, variant) if callable(method) else None


class ProfiledWorkload:
    """Base for workloads whose specs are a `profiles` dict of frozen dataclasses keyed by profile.

    `spec(profile, seed)` replaces the spec's `seed` field; a spec without one cannot vary it; a
    profile the workload has no spec for is `Unsupported` (a skip). A workload with a size axis sets
    `sweep_variants` (the `sweep` profile's variants) and overrides `size`.
    """

    name: str
    variants: Sequence[str]
    profiles: Mapping[str, Any]
    interface: type | None = None
    regression_threshold: float | None = None
    sweep_variants: Sequence[str] = ()

    def variants_for(self, profile: str) -> Sequence[str]:
        """`sweep_variants` under the `sweep` profile (when the workload has any), else `variants`."""
        return self.sweep_variants if profile == "sweep" and self.sweep_variants else self.variants

    def size(self, spec: Any, variant: str) -> Size | None:
        """Where `variant` sits on a size axis (sweep variants), else None."""
        return None

    def spec(self, profile: str, seed: int | None = None) -> Any:
        if profile not in self.profiles:
            raise Unsupported(f"{self.name} has no {profile!r} profile (it has {', '.join(self.profiles)})")
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


def cadence_info(backend: Backend, cadence: Cadence, end: str) -> dict[str, str]:
    """The labels a training benchmark records: execution model, cadence and what the number measures;
    `end` says where the one force of `end` cadence happens (e.g. "after all 10,000 steps")."""
    step = "a force after every step" if backend.execution != "eager" else "eager: every step completes"
    measures = step if cadence == "step" else f"one force {end}"
    return {"execution": backend.execution, "cadence": cadence, "measures": measures}


def compiled_variant(backend: Backend, variant: str) -> bool:
    """Whether `variant` asks for the framework's compiler; Unsupported when the backend has none."""
    if variant != "compiled":
        return False
    if backend.compiler is None:
        raise Unsupported(f"{backend.framework} has no compiler ('compiled' applies to mx.compile, torch.compile, ...)")
    return True
