"""Progress lines for long benchmarks: `mnist_mlp[eager] on mlx-cpu: round 3/10, ~42 s left`.

The harness hands every prepared call to `Progress.watch` before timing it (`RunContext.watch`);
the returned copy counts calls of `run` and, once a benchmark has run longer than `every` seconds,
writes at most one line per `every` seconds through pytest's terminal (capture disabled). Off when
stdout is not a terminal, unless forced (`--mlxbench-progress`, for CI logs).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from mlxbench.workload import Prepared

CALIBRATION_CALLS = 3  # untimed calls the harness makes to size a round (mlxbench.runner.Bench.calibrate)
EVERY_S = 5.0  # the first line after this long, then at most one line per this long


def duration(seconds: float) -> str:
    """`42 s`, `3 min 5 s`, `1 h 2 min`: a time left, rounded for a human."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclasses.dataclass
class Counter:
    """Calls of one benchmark's measured function: where it stands and what is left."""

    label: str
    warmup: int
    rounds: int
    calibration: int
    started: float
    calls: int = 0

    @property
    def total(self) -> int:
        return self.calibration + self.warmup + self.rounds

    def line(self, now: float) -> str:
        done = min(self.calls, self.total)
        left = (now - self.started) / done * (self.total - done) if done else float("nan")
        measured = done - self.calibration - self.warmup
        if measured > 0:
            where = f"round {measured}/{self.rounds}"
        else:
            where = f"warm-up {max(done, 1)}/{self.calibration + self.warmup}"
        eta = f", ~{duration(left)} left" if left == left else ""
        return f"  {self.label}: {where}{eta}"


class Progress:
    """Wraps prepared calls; `write` receives each progress line (the plugin's terminal writer)."""

    def __init__(
        self, write: Callable[[str], None], every: float = EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.write, self.every, self.clock = write, every, clock
        self.last_line = -float("inf")

    def watch(self, prepared: Prepared, label: str, disabled: bool = False) -> Prepared:
        """A copy of `prepared` whose `run` reports progress (the workload's object is left as is)."""
        calibrated = not disabled and not prepared.cumulative and prepared.setup is None
        if disabled:  # --benchmark-disable: one call, or every round of a cumulative workload
            warmup, rounds = 0, prepared.rounds if prepared.cumulative else 1
        else:
            warmup, rounds = prepared.warmup_rounds, prepared.rounds
        counter = Counter(label, warmup, rounds, CALIBRATION_CALLS if calibrated else 0, self.clock())
        run = prepared.run

        def counted() -> Any:
            out = run()
            counter.calls += 1
            self.tick(counter)
            return out

        return dataclasses.replace(prepared, run=counted)

    def tick(self, counter: Counter) -> None:
        now = self.clock()
        if now - counter.started < self.every or now - self.last_line < self.every:
            return
        if counter.calls >= counter.total:
            return  # finished: pytest's own line follows
        self.last_line = now
        self.write(counter.line(now))
