"""A benchmark's evidence as measured (`Timings`): the one type every design hands to the verdicts, from the
worker's times to the printed verdict.

Evidence comes in independent units, each with the per-call times of its rounds in round order (`Unit`):

- `pairs` (the time-paired A/B): a unit is one pair of workers; round i of A and round i of B ran next to each
  other in time, so a unit holds both arms' rounds and its log ratios are matched by round (`Unit.log_ratios`);
- `processes` (the processes A/B): a unit is one fresh process of one arm;
- `runs` (the regression gate): arm A's units are the machine's saved runs of the benchmark (one process each,
  oldest first), arm B's one unit is the current run.

Every design's statistic (mlxbench.verdicts: `paired`, `evidence`, `history`, `levels`, `allocation`) reads this
type, and the A/B report's plot of rounds too; pair files (mlxbench.measure.pairfile), saved runs and a live
session's rounds are turned into it where they are read. A contract between the measuring and the judging, so
below both, with NumPy and nothing else.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

DESIGNS = ("pairs", "processes", "runs")
SMALL = 64  # rounds up to which a median is taken without NumPy (faster for a unit of a few rounds)
FIRST_ROUNDS_LEFT_OUT = 1  # of each pair's rounds of a benchmark, per arm (see Unit.log_ratios)


def _times(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False  # cached on its unit and handed to every caller: none may change it
    return values


@dataclass(frozen=True)
class Unit:
    """One independent unit of evidence (a pair of workers, a process, a saved run): per arm, the per-call times
    of its rounds in round order; an arm it did not run holds none."""

    number: int  # 1-based: the pair's pair-NN folder, the process's place in its arm, the saved run's place
    A: tuple[float, ...] = ()
    B: tuple[float, ...] = ()
    draws: tuple[int, ...] = ()  # pairs: the round (0-based, per arm) at which each preparation after the first began

    def arm(self, arm: str) -> tuple[float, ...]:
        """The rounds of `arm` ("A" or "B")."""
        return self.A if arm == "A" else self.B

    def usable(self, arm: str) -> np.ndarray:
        """The rounds of `arm` that are times: positive and finite (read-only)."""
        return self._usable[arm]

    # A unit is frozen, and the statistics read the same arrays of it many times (each look, each interim
    # level, the levels' tests, the allocation): computed once per unit, kept read-only.
    @cached_property
    def _usable(self) -> dict[str, np.ndarray]:
        out = {}
        for arm in ("A", "B"):
            values = np.asarray(self.arm(arm), dtype=float)
            out[arm] = _frozen(values[np.isfinite(values) & (values > 0)])
        return out

    def median(self, arm: str) -> float:
        """The median of `arm`'s usable rounds (NaN where it has none)."""
        rounds = self.arm(arm)
        if len(rounds) > SMALL:
            values = self.usable(arm)
            return float(np.median(values)) if values.size else math.nan
        kept = [t for t in rounds if t > 0 and math.isfinite(t)]  # a few rounds: no array to build
        return statistics.median(kept) if kept else math.nan

    def bounds(self, n: int) -> list[tuple[int, int]]:
        """The rounds of each preparation among `n` rounds, as (start, end): one preparation unless `draws`."""
        starts = [0, *(d for d in self.draws if 0 < d < n)]
        return list(zip(starts, [*starts[1:], n], strict=True)) if n else []

    def kept(self, n: int) -> np.ndarray:
        """Which of `n` rounds count: all but the first of each preparation (`draws`) that has 2 rounds or more,
        where 3 or more rounds are there in all."""
        keep = np.ones(n, dtype=bool)
        if n >= 3:
            for start, end in self.bounds(n):
                if end - start >= 2:
                    keep[start : start + FIRST_ROUNDS_LEFT_OUT] = False
        return keep

    def blocks(self) -> list[np.ndarray]:
        """`log_ratios` split by preparation (read-only): round noise is the spread inside one preparation, not
        across them."""
        return self._blocks

    @cached_property
    def _blocks(self) -> list[np.ndarray]:
        a, b = self.usable("A"), self.usable("B")
        n = min(a.size, b.size)
        logs, keep = np.log(b[:n] / a[:n]), self.kept(n)
        return [_frozen(logs[s:e][keep[s:e]]) for s, e in self.bounds(n)]

    def log_ratios(self) -> np.ndarray:
        """log(B_i / A_i) of the rounds of one pair of workers, matched by round (adjacent in time). The first
        round of each arm is left out where 3 or more are matched: it is the only one whose position differs by
        arm (one arm's comes straight after its own preparation, the other's after the first arm's round), and
        under load it read B/A x1.106 over 60 A/A rounds against x1.000 for the middle rounds. Where the pair
        prepared the benchmark again (`draws`), the first round after each preparation is left out as well
        (read-only: the `blocks` together)."""
        return self._log_ratios

    @cached_property
    def _log_ratios(self) -> np.ndarray:
        return _frozen(np.concatenate(self.blocks()) if self.blocks() else np.empty(0))

    def arm_logs(self, arm: str) -> np.ndarray:
        """An arm's round log times, the first round of each preparation left out as `log_ratios` leaves it out
        (read-only)."""
        return self._arm_logs[arm]

    @cached_property
    def _arm_logs(self) -> dict[str, np.ndarray]:
        out = {}
        for arm in ("A", "B"):
            values = self.usable(arm)
            out[arm] = _frozen(np.log(values)[self.kept(values.size)])
        return out


@dataclass(frozen=True)
class Timings:
    """One benchmark's evidence: its units, and what design measured them (one of DESIGNS)."""

    name: str
    design: str
    units: tuple[Unit, ...] = ()

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"design {self.design!r}: one of {', '.join(DESIGNS)}")

    @classmethod
    def pairs(cls, name: str, pairs: Iterable[tuple[Iterable[float], Iterable[float]]]) -> Timings:
        """Pairs of workers, numbered 1, 2, ... in the order given: each (A's rounds, B's rounds)."""
        return cls(name, "pairs", tuple(Unit(i, _times(a), _times(b)) for i, (a, b) in enumerate(pairs, 1)))

    @classmethod
    def processes(cls, name: str, a: Iterable[Iterable[float]], b: Iterable[Iterable[float]]) -> Timings:
        """Fresh processes, each arm's numbered from 1: each process's rounds (or its median alone)."""
        units = [Unit(i, A=_times(r)) for i, r in enumerate(a, 1)]
        units += [Unit(i, B=_times(r)) for i, r in enumerate(b, 1)]
        return cls(name, "processes", tuple(units))

    @classmethod
    def runs(cls, name: str, saved: Iterable[Iterable[float]], current: Iterable[float] = ()) -> Timings:
        """Saved runs (oldest first, arm A) and the current run's rounds (arm B)."""
        units = [Unit(i, A=_times(r)) for i, r in enumerate(saved, 1)]
        return cls(name, "runs", (*units, Unit(len(units) + 1, B=_times(current))))

    def with_current(self, rounds: Iterable[float]) -> Timings:
        """Design `runs`: the same saved runs, with `rounds` as the current run (arm B's one unit)."""
        saved = tuple(u for u in self.units if not u.B)
        return replace(self, units=(*saved, Unit(len(saved) + 1, B=_times(rounds))))

    def of_arm(self, arm: str) -> list[Unit]:
        """The units that ran `arm`."""
        return [u for u in self.units if u.arm(arm)]

    def times(self, arm: str) -> list[float]:
        """Every round of `arm`, unit after unit."""
        return [t for u in self.units for t in u.arm(arm)]

    def medians(self, arm: str) -> list[float]:
        """Each unit's median of `arm`, where it has usable rounds."""
        return [m for m in (u.median(arm) for u in self.of_arm(arm)) if math.isfinite(m)]

    def without(self, numbers: Sequence[int] | set[int]) -> Timings:
        """The same evidence less the units numbered `numbers` (a stuck worker's pair)."""
        return replace(self, units=tuple(u for u in self.units if u.number not in numbers))

    def matched(self) -> Timings:
        """The pairs whose rounds match at least once (both arms have a usable round)."""
        return replace(self, units=tuple(u for u in self.units if u.log_ratios().size))
