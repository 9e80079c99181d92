"""Progress lines for long benchmarks: `mnist_mlp[eager] on mlx-cpu: round 3/10, ~42 s left`.

The harness asks `Progress.watch` for a ticker per benchmark (`RunContext.watch`) and ticks it from
its untimed per-round hook, before each warm-up and measured round: nothing runs inside the clock.
Once a benchmark has run longer than `every` seconds, at most one line per `every` seconds is written
through pytest's terminal (capture disabled). Off when stdout is not a terminal, unless forced
(`--mlxbench-progress`, for CI logs). Calls under a millisecond are timed many to a round with no
per-round hook; such benchmarks end long before a line would be due.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from mlxbench.workload import Prepared

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
    """Rounds of one benchmark begun so far (warm-up first): where it stands and what is left."""

    label: str
    warmup: int
    rounds: int
    started: float | None = None  # when the first round began
    begun: int = 0

    @property
    def total(self) -> int:
        return self.warmup + self.rounds

    def line(self, now: float) -> str:
        done = self.begun - 1  # the rounds before the one now running
        left = (now - self.started) / done * (self.total - done) if done > 0 and self.started is not None else None
        if self.begun > self.warmup:
            where = f"round {self.begun - self.warmup}/{self.rounds}"
        else:
            where = f"warm-up {self.begun}/{self.warmup}"
        return f"  {self.label}: {where}" + (f", ~{duration(left)} left" if left is not None else "")


class Progress:
    """Tickers for benchmarks; `write` receives each progress line (the plugin's terminal writer)."""

    def __init__(
        self, write: Callable[[str], None], every: float = EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.write, self.every, self.clock = write, every, clock
        self.last_line = -float("inf")

    def watch(self, prepared: Prepared, label: str, disabled: bool = False) -> Callable[[], None]:
        """A ticker for one benchmark: call it before each of its rounds, outside the timed call."""
        if disabled:  # --benchmark-disable: one call, or every round of a cumulative workload
            counter = Counter(label, 0, prepared.rounds if prepared.cumulative else 1)
        else:
            counter = Counter(label, prepared.warmup_rounds, prepared.rounds)
        return lambda: self.tick(counter)

    def tick(self, counter: Counter) -> None:
        now = self.clock()
        counter.begun += 1
        if counter.started is None:
            counter.started = now
        if now - counter.started < self.every or now - self.last_line < self.every:
            return
        self.last_line = now
        self.write(counter.line(now))
