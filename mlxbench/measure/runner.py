"""Arrange and time: how one workload runs on one backend inside a pytest-benchmark test (`Bench`, the `bench`
fixture). What it measured is judged by mlxbench.measure.judging (the accuracy gates, the regression gate);
how a round is timed is mlxbench.measure.timing's."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from mlxbench.backends import Backend, MemoryReading
from mlxbench.datasets import ChecksumError, DatasetUnavailable
from mlxbench.implementations import ImplementationError
from mlxbench.measure.judging import check_accuracy, check_regression
from mlxbench.measure.pointguard import CALIBRATION_CALLS, BadBudget
from mlxbench.measure.timing import MICRO_CALL_S, iterations_for, synced
from mlxbench.registry import Registry
from mlxbench.workload import Context, Measured, Prepared, Size, Unsupported, Workload, size_of


class Session(Context, Protocol):
    """What timing asks of the session (mlxbench.session.context.RunContext is the one there is): its
    settings, the regression gate, the progress ticker, the A/B baton, and the sweep points' guard."""

    settings: Any
    gate: Any
    watch: Callable[[Prepared, str], Callable[[], None]] | None
    baton: Any
    points: Any

    @property
    def profile(self) -> str: ...

    def point_skip(self, workload: str, size: Size, backend: Backend) -> str | None: ...


@dataclass
class Bench:
    """What the `bench` fixture gives a benchmark test: one backend, the session, the clock."""

    backend: Backend
    request: Any  # the test's pytest FixtureRequest
    context: Session
    registry: Registry
    redraw: bool = False  # the A/B coordinator asked for the benchmark to be prepared again (measure_paired)

    @property
    def benchmark(self) -> Any:
        """pytest-benchmark's fixture, requested on first use so that a skip leaves it unused silently."""
        return self.request.getfixturevalue("benchmark")

    @property
    def profile(self) -> str:
        return self.context.profile

    def run(self, workload: Workload, variant: str) -> dict[str, float]:
        """Prepare (untimed), time through the backend's synced call, then gate the timed result."""
        __tracebackhide__ = True
        backend, settings = self.backend, self.context.settings
        with backend.activate():
            prepared, spec, size, impl = self.prepare(workload, variant)
            info = self.benchmark.extra_info
            self.benchmark.group = workload.name  # pytest-benchmark's table: one group per workload
            info.update(workload=workload.name, variant=variant, backend=backend.name, profile=self.profile)
            info.update(prepared.info)
            if workload.regression_threshold is not None:
                info["regression_threshold"] = workload.regression_threshold  # offline compare uses it too
            if settings.seed is not None:
                info["seed"] = settings.seed
            if size is not None:
                info["size"] = size.as_info()
            watch, label = self.context.watch, f"{workload.name}[{variant}] on {backend.name}"
            result, measured = self.measure(prepared, watch(prepared, label) if watch is not None else None)
            while self.redraw:  # a paired A/B's --draws: prepare again (untimed, the other arm too), more rounds
                prepared = result = None
                gc.collect()  # the last preparation's arrays go before the next one's are made
                # the same spec and implementation, past the checks the first preparation passed (a sweep point's
                # memory guard would read the freed arrays, still in a framework's cache, as taken)
                prepared = workload.prepare(backend, spec, variant, self.context, impl)
                result, more = self.measure(prepared)
                measured = Measured((*measured.round_times, *more.round_times))
            paired = self.context.baton is not None  # the times went to the A/B coordinator
            if size is not None and measured.round_times and self.context.points is not None and not paired:
                self.context.points.record(workload.name, size, backend.name, self.benchmark.stats.stats.median)
            if prepared.collect is not None:
                result = prepared.collect(result)
            info["backend_facts"] = backend.facts()
            label = f"{workload.name}[{variant}] on {backend.name}"
            metrics = workload.metrics(spec, variant, backend.to_numpy(result), prepared, measured)
            check_accuracy(info, metrics, workload.gates(spec, variant), label)
            threshold, sync = workload.regression_threshold, backend.sync
            check_regression(self.context.gate, self.benchmark, prepared, measured, threshold, label, sync)
        return metrics

    def prepare(self, workload: Workload, variant: str) -> tuple[Prepared, Any, Size | None, Any]:  # type: ignore[return]
        """The prepared call, the workload's spec, the variant's size on a sweep axis and the implementation;
        a skip (or failure) that says why. A sweep point that cannot fit, or would take longer than the
        per-point budget, is skipped here, before it allocates anything."""
        __tracebackhide__ = True
        settings, backend = self.context.settings, self.backend
        failure = None
        try:
            spec = workload.spec(self.profile, settings.seed)
            impl = self.registry.implementation(workload, backend.framework)
            size = size_of(workload, spec, variant)
            unaffordable = self.context.point_skip(workload.name, size, backend) if size is not None else None
            if unaffordable is None:
                return workload.prepare(backend, spec, variant, self.context, impl), spec, size, impl
            skip = f"{workload.name}[{variant}] on {backend.name} skipped: {unaffordable}"
        except BadBudget as exc:
            failure = str(exc)
        except Unsupported as exc:
            skip = f"{workload.name}[{variant}] does not apply to {backend.name}: {exc}"
        except ImplementationError as exc:
            failure = str(exc)
        except ChecksumError as exc:  # a file in --data-dir that is not the published one: fix it, no traceback
            failure = f"{workload.name}: {exc}"
        except DatasetUnavailable as exc:
            if settings.strict_data:
                failure = f"{workload.name}: dataset unavailable (--strict-data): {exc}"
            skip = f"{workload.name}: dataset unavailable: {exc}"
        if failure:  # outside the except blocks: the message alone, no chained traceback
            pytest.fail(failure, pytrace=False)
        pytest.skip(skip)

    def measure(self, prepared: Prepared, tick: Callable[[], None] | None = None) -> tuple[Any, Measured]:
        """Time `prepared.run` with completion forced inside the clock: the last result, and the times.
        `tick` (progress) is called before each round, outside the clock."""
        sync = self.backend.sync
        gc.collect()  # arrays of earlier benchmarks caught in reference cycles must not count in this one's memory
        if getattr(self.context, "baton", None) is not None:
            return self.measure_paired(prepared)
        timed = synced(prepared.run, sync)
        window = MemoryWindow(self.backend, prepared, tick)
        setup = window.before_round
        per_call = self.backend.peak_memory_per_call

        disabled = getattr(self.benchmark, "disabled", False)
        self.benchmark.extra_info["rounds_planned"] = prepared.rounds  # a run saved with fewer is not complete
        iterations = 1 if disabled else self.calibrate(prepared, timed)
        over = "one measured call (the largest of all rounds, warm-up included)"
        if not per_call:
            over = (
                "all rounds in one window (the process's peak is not reset between timed calls: a reset hands "
                "freed pages back, and the next timed call would pay to fault them in again)"
            )
        if iterations > 1:  # pytest-benchmark allows no per-round setup here: one memory window for all
            over = f"all {iterations:,} calls of every round in one window (calls under a millisecond)"
            setup()
            result = self.benchmark.pedantic(
                timed, rounds=prepared.rounds, warmup_rounds=prepared.warmup_rounds, iterations=iterations
            )
        else:
            result = self.benchmark.pedantic(
                timed, setup=setup, rounds=prepared.rounds, warmup_rounds=prepared.warmup_rounds, iterations=1
            )
        if disabled:
            # --benchmark-disable calls the target once; a workload whose rounds build on each other
            # (training epochs) still needs all of them for its accuracy gate to mean the same thing.
            for _ in range(prepared.rounds - 1 if prepared.cumulative else 0):
                setup()
                result = timed()
            window.close(self.benchmark.extra_info, over)
            return result, Measured()
        window.close(self.benchmark.extra_info, over)
        stats = self.benchmark.stats.stats
        if prepared.work_per_round:
            self.benchmark.extra_info[f"{prepared.work_unit}_per_s"] = prepared.work_per_round / stats.median
        return result, Measured(tuple(stats.data))

    def measure_paired(self, prepared: Prepared) -> tuple[Any, Measured]:
        """One arm's rounds in a time-paired A/B (mlxbench.measure.baton): each round starts when the coordinator
        says so, with the calls per round it names (the same in both arms); the times go to the coordinator,
        not to pytest-benchmark. `redraw` says whether the coordinator asked for another preparation."""
        import os

        from mlxbench.measure.baton import REWARM_ENV, measure_paired

        call = self.calibration_call(prepared, synced(prepared.run, self.backend.sync))
        threshold = self.benchmark.extra_info.get("regression_threshold")
        result, times, self.redraw = measure_paired(
            self.context.baton,
            self.request.node.nodeid,
            prepared.run,
            self.backend.sync,
            planned=prepared.rounds,
            warmup_rounds=prepared.warmup_rounds,
            call=call,
            setup=prepared.setup,
            cumulative=prepared.cumulative,
            rewarm=0 if prepared.cumulative else int(os.environ.get(REWARM_ENV, "0") or 0),
            threshold=threshold,
        )
        return result, Measured(tuple(times))

    def calibrate(self, prepared: Prepared, timed: Callable[[], Any]) -> int:
        """Calls per round (mlxbench.measure.timing.iterations_for), so that a sub-millisecond call is timed over
        >= ROUND_TARGET_S per round and timer and scheduler granularity do not dominate (the figure stays per
        call); recorded."""
        n = iterations_for(self.calibration_call(prepared, timed))
        if n > 1 or not (prepared.cumulative or prepared.setup is not None):
            self.benchmark.extra_info["inner_iterations"] = n
            prepared.info["inner_iterations"] = n  # the gate's re-measure uses the same count
        return n

    def calibration_call(self, prepared: Prepared, timed: Callable[[], Any]) -> float | None:
        """The fastest of up to three untimed calls (one, if it already takes >= MICRO_CALL_S); None for
        rounds that build on each other or need a hook between calls (one call each)."""
        if prepared.cumulative or prepared.setup is not None:
            return None
        calls: list[float] = []
        while len(calls) < CALIBRATION_CALLS and (not calls or min(calls) < MICRO_CALL_S):  # one settles a slow call
            t0 = time.perf_counter()
            timed()
            calls.append(time.perf_counter() - t0)
        return min(calls)


@dataclass
class MemoryWindow:
    """The peak memory of the timed calls (pytest-benchmark's path): before each round (`before_round`, untimed)
    the last call's window closes and the next opens where the backend reads a peak per call; else one window
    holds all rounds (a reset hands freed pages back, and the next timed call would pay to fault them in again).
    `close` records the largest peak read, and over what, in the benchmark's extra_info."""

    backend: Backend
    prepared: Prepared
    tick: Callable[[], None] | None = None  # progress, called before each round
    peaks: list[MemoryReading] = field(default_factory=list)
    started: bool = False

    def before_round(self) -> None:
        per_call = self.backend.peak_memory_per_call
        if self.tick is not None:
            self.tick()
        if per_call and self.started and (reading := self.backend.peak_memory()) is not None:
            self.peaks.append(reading)
        if self.prepared.setup is not None:
            self.prepared.setup()
        if per_call or not self.started:
            self.backend.reset_peak_memory()
        self.started = True

    def close(self, info: dict[str, Any], over: str) -> None:
        if self.started and (reading := self.backend.peak_memory()) is not None:
            self.peaks.append(reading)
        if self.peaks:
            top = max(self.peaks, key=lambda r: r.bytes)
            info["peak_memory"] = {"bytes": top.bytes, "kind": top.kind, "source": top.source, "over": over}
