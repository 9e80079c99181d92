"""pair.json: what one pair of workers of a time-paired A/B measured (`PairResult`): its name (`FILE`,
`GLOB`), its bytes (`dumps`) and its reader (`read`, checked field by field); the one place that knows the
file's fields.

`mlxbench ab` writes one per pair (mlxbench.ab.engine, through the session's atomic writer, with the pair's
allocation beside these fields); `mlxbench ab merge`, the replay tool and the A/B report read them. Here in
`measure`, below the reports and the A/B command, so that every reader imports the same reader. A file that is
damaged (cut short, a number where a list belongs, a time that is not a positive number of seconds) or is not a
pair file at all is refused with mlxbench.runs.BadRun naming the file and what is wrong. Files written before a
field existed (`round_facts`, `rounds`, `clock`, `launched`, `draws`, ...) read with that field empty (0 for a time).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlxbench.runs import BadRun
from mlxbench.samples import parse
from mlxbench.timings import Timings, Unit

ARMS = ("A", "B")
FILE = "pair.json"  # in each pair's folder of an A/B (pair-01, pair-02, ...)
GLOB = f"pair-*/{FILE}"  # an A/B folder's pair files
DAY_S = 86400.0  # a time per call of a day or more is no measurement: the file is damaged


@dataclass
class PairResult:
    """What one pair of workers measured: per benchmark, each arm's per-call times in round order; per round, in
    time order, who timed it when (`rounds`) and what its worker read right after it (`round_facts`,
    mlxbench.measure.roundfacts: the CPU, the worker's age, the GPU's clocks and temperature)."""

    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    clock: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # each round's end (s from the run's start)
    spans: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # each round's go-to-done seconds
    calls: dict[str, int] = field(default_factory=dict)  # calls per round
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # planned rounds, cumulative, threshold
    draws: dict[str, list[int]] = field(default_factory=dict)  # per benchmark: the round of each re-preparation
    order: list[tuple[str, str]] = field(default_factory=list)  # (arm, nodeid) of every round, in time order
    rounds: list[tuple[str, str, float, float]] = field(default_factory=list)  # (arm, nodeid, go, done): epoch s
    round_facts: list[dict[str, Any]] = field(default_factory=list)  # each of `rounds`' facts (cpu, uptime, GPU)
    exit_codes: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0  # seconds from the pair's turn (its workers let go, or started) to both exiting
    launched: float = 0.0  # epoch s its workers were started (before the pair's turn where the A/B pipelines)
    released: float = 0.0  # epoch s both were let go at START: the first moment either could touch the device
    ended: float = 0.0  # epoch s both had exited

    @property
    def preparations(self) -> int:
        """Preparations per benchmark in this pair (--draws), as its `draws` show them: 1 where there were none."""
        return 1 + max((len(starts) for starts in self.draws.values()), default=0)

    @property
    def timed(self) -> float:
        """Seconds spent inside timed rounds, both arms."""
        return sum(s * self.calls.get(n, 1) for n, arms in self.times.items() for t in arms.values() for s in t)

    @classmethod
    def of(
        cls,
        times: dict[str, dict[str, list[float]]],
        facts: dict[str, dict[str, Any]] | None = None,
        draws: dict[str, list[int]] | None = None,
    ) -> PairResult:
        """A pair made up of its times, facts and re-preparations (in replays and tests)."""
        return cls(times=times, facts=facts or {}, draws=draws or {})

    def as_dict(self) -> dict:
        """The pair as pair.json holds it (`read` reads it back)."""
        return {
            "times": self.times,
            "clock": self.clock,
            "spans": self.spans,
            "calls": self.calls,
            "facts": self.facts,
            "draws": self.draws,
            "order": self.order,
            "rounds": self.rounds,
            "round_facts": self.round_facts,
            "exit_codes": self.exit_codes,
            "wall": round(self.wall, 3),
            "timed": round(self.timed, 3),
            "launched": round(self.launched, 6),
            "released": round(self.released, 6),
            "ended": round(self.ended, 6),
        }

    def dumps(self, **beside: Any) -> bytes:
        """The bytes of the pair's file, with `beside` (the A/B's allocation for this pair) next to its own fields;
        `read` reads them back."""
        return json.dumps({**self.as_dict(), **beside}).encode()

    @classmethod
    def read(cls, path: Path) -> PairResult:
        """One pair.json, checked field by field; BadRun naming the file and what is wrong when it is damaged or
        not a pair file."""
        try:
            doc = parse(path.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise BadRun(f"{path}: not a readable pair file ({exc}); leave it out or run the A/B again") from None
        try:
            return cls.from_dict(doc)
        except Damaged as exc:
            raise BadRun(f"{path}: {exc}; leave it out or run the A/B again") from None

    @classmethod
    def from_dict(cls, doc: Any) -> PairResult:
        """The pair a parsed pair.json holds; Damaged saying what is wrong."""
        if not isinstance(doc, dict) or not isinstance(doc.get("times"), dict):
            raise Damaged("not a pair file (no 'times' of benchmarks and arms)")
        times = per_arm(doc["times"], "times")
        for name, arms in times.items():
            for arm, values in arms.items():
                if any(not (0 < v < DAY_S) for v in values):
                    raise Damaged(f"{name} arm {arm} holds a time that is not a positive number of seconds")
        rounds = [entry(r, "rounds", 2) for r in listed(doc, "rounds")]
        round_facts = listed(doc, "round_facts")
        if not all(isinstance(f, dict) for f in round_facts):
            raise Damaged("'round_facts' holds something other than one object per round")
        if round_facts and len(round_facts) != len(rounds):
            raise Damaged(f"'round_facts' holds {len(round_facts)} rounds' facts for {len(rounds)} rounds")
        facts = mapping(doc, "facts")
        if not all(isinstance(f, dict) for f in facts.values()):
            raise Damaged("'facts' holds something other than one object per benchmark")
        draws = {str(k): v for k, v in mapping(doc, "draws").items()}
        for name, starts in draws.items():
            rounds = isinstance(starts, list) and all(type(x) is int and x > 0 for x in starts)
            if not rounds or starts != sorted(set(starts)):
                raise Damaged(f"'draws' of {name} is not a rising list of round numbers")
        return cls(
            times=times,
            clock=per_arm(mapping(doc, "clock"), "clock"),
            spans=per_arm(mapping(doc, "spans"), "spans"),
            calls={str(k): count(v, "calls") for k, v in mapping(doc, "calls").items()},
            facts=facts,
            draws=draws,
            order=[entry(r, "order", 0) for r in listed(doc, "order")],
            rounds=rounds,
            round_facts=round_facts,
            exit_codes={str(k): count(v, "exit_codes", low=-255) for k, v in mapping(doc, "exit_codes").items()},
            wall=number(doc.get("wall", 0.0), "wall"),
            **{key: number(doc.get(key, 0.0), key) for key in ("launched", "released", "ended")},
        )


def timings(pairs: Sequence[PairResult], numbers: Sequence[int] | None = None) -> dict[str, Timings]:
    """Each benchmark's evidence (mlxbench.timings, design `pairs`): one unit per pair of workers that ran it,
    numbered as the pairs are (1, 2, ... in the order given, or `numbers`)."""
    units: dict[str, list[Unit]] = {}
    for number, pair in zip(numbers or range(1, len(pairs) + 1), pairs, strict=True):
        for name, times in pair.times.items():
            a, b, starts = tuple(times.get("A", ())), tuple(times.get("B", ())), tuple(pair.draws.get(name, ()))
            units.setdefault(name, []).append(Unit(number, a, b, starts))
    return {name: Timings(name, "pairs", tuple(found)) for name, found in units.items()}


class Damaged(ValueError):
    """What is wrong with a pair file's contents (PairResult.read adds the file's name)."""


def shown(value: Any) -> str:
    """A value as the file holds it, cut short: what a message quotes."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Damaged(f"'{where}' holds {shown(value)} where a number belongs")
    return float(value)


def count(value: Any, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise Damaged(f"'{where}' holds {shown(value)} where a whole number belongs")
    return value


def mapping(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise Damaged(f"'{key}' is not an object")
    return value


def listed(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise Damaged(f"'{key}' is not a list")
    return value


def per_arm(value: dict[str, Any], key: str) -> dict[str, dict[str, list[float]]]:
    """Per benchmark, arms A and B's numbers (an arm not there: none)."""
    out = {}
    for name, arms in value.items():
        if not isinstance(arms, dict) or not all(isinstance(arms.get(arm) or [], list) for arm in ARMS):
            raise Damaged(f"'{key}' of {name} is not a list of numbers per arm")
        out[str(name)] = {arm: [number(x, key) for x in arms.get(arm) or []] for arm in ARMS}
    return out


def entry(value: Any, key: str, times: int) -> tuple[Any, ...]:
    """One entry of `rounds` ([arm, nodeid, go, done]: times=2) or of `order` ([arm, nodeid]: times=0)."""
    if not (isinstance(value, list) and len(value) == 2 + times and value[0] in ARMS and isinstance(value[1], str)):
        shape = "an arm, a benchmark and two clock times" if times else "an arm and a benchmark"
        raise Damaged(f"'{key}' holds {shown(value)} where {shape} belong")
    return (value[0], value[1], *(number(x, key) for x in value[2:]))
