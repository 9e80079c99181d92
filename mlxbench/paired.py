"""Verdicts from time-paired rounds (mlxbench.baton), and how many worker pairs a run spends.

Within one pair of workers, round i of A and round i of B ran next to each other in time, so their
log ratio is free of the machine's drift; it still carries the two processes' own states (memory
layout, core placement), which every round of that pair shares. So the unit of evidence is the pair
of workers: its mean log ratio over its rounds is one sample, and a benchmark's estimate is the mean
over P pairs with a t interval on P - 1 degrees of freedom (mlxbench.evidence.judge turns it into a
verdict, like every other path).

How many pairs: as many as the time budget holds (the time per pair is measured as the run goes),
at least MIN_PAIRS. The run may stop earlier when every benchmark is decided: after each pair from
MIN_PAIRS on, an interim look judges at level alpha * INTERIM_SHARE / MAX_LOOKS; the final look at
alpha * (1 - INTERIM_SHARE). By the union bound over at most MAX_LOOKS + 1 looks, unchanged code
reports a change in at most alpha of runs, however the run stops (a group-sequential design with
Bonferroni-split alpha: simple to state and exactly conservative; a stop decided by the time budget
alone does not look at the data at all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from mlxbench.baton import PairResult
from mlxbench.evidence import Estimate, welch_estimate

MIN_PAIRS = 3  # the fewest pairs a t interval over pairs can use (2 degrees of freedom)
INTERIM_SHARE = 0.1  # of alpha, spent on the interim looks together
MAX_LOOKS = 10  # interim looks at most (one after each pair from MIN_PAIRS on)


def pair_log_ratios(times: Mapping[str, Sequence[float]]) -> np.ndarray:
    """log(B_i / A_i) of the rounds of one pair of workers, matched by round (adjacent in time)."""
    a = np.asarray([t for t in times.get("A", []) if t > 0 and math.isfinite(t)], dtype=float)
    b = np.asarray([t for t in times.get("B", []) if t > 0 and math.isfinite(t)], dtype=float)
    n = min(a.size, b.size)
    return np.log(b[:n] / a[:n])


def paired_estimate(pairs: Sequence[Mapping[str, Sequence[float]]]) -> Estimate | str:
    """The estimate of log(B / A) over pairs of workers (each: {"A": times, "B": times}), or why none."""
    means = [r.mean() for r in (pair_log_ratios(p) for p in pairs) if r.size]
    if len(means) < MIN_PAIRS:
        return f"need >= {MIN_PAIRS} pairs of workers that both ran it ({len(means)} did)"
    d = np.asarray(means)
    spread = float(d.std(ddof=1))
    a = [t for p in pairs for t in p.get("A", [])]
    b = [t for p in pairs for t in p.get("B", [])]
    return Estimate(
        float(d.mean()), spread / math.sqrt(d.size), float(d.size - 1), float(np.median(a)), float(np.median(b)),
        (d.size, d.size), spread, "pairs of workers alternating rounds, t on mean log ratios",
    )  # fmt: skip


def by_benchmark(results: Sequence[PairResult]) -> dict[str, list[dict[str, list[float]]]]:
    """nodeid -> one {"A": times, "B": times} per pair of workers that ran it."""
    out: dict[str, list[dict[str, list[float]]]] = {}
    for pair in results:
        for nodeid, times in pair.times.items():
            out.setdefault(nodeid, []).append(times)
    return out


def estimates(results: Sequence[PairResult]) -> dict[str, Estimate | str]:
    return {name: paired_estimate(pairs) for name, pairs in sorted(by_benchmark(results).items())}


def process_estimates(results: Sequence[PairResult]) -> dict[str, Estimate | str]:
    """The same workers judged as the process design judges: each worker's median is one sample,
    A's against B's (Welch): what pairing buys, measured on the very same processes."""
    out: dict[str, Estimate | str] = {}
    for name, pairs in sorted(by_benchmark(results).items()):
        a = [float(np.median(p["A"])) for p in pairs if p.get("A")]
        b = [float(np.median(p["B"])) for p in pairs if p.get("B")]
        out[name] = welch_estimate(a, b)
    return out


def spreads(results: Sequence[PairResult]) -> dict[str, dict[str, float]]:
    """Per benchmark: the sd of a worker's log median (process spread), of a pair's mean log ratio
    (pair spread), and of one round's log ratio inside a pair (round spread)."""
    out = {}
    for name, pairs in by_benchmark(results).items():
        medians = [math.log(np.median(p[arm])) for p in pairs for arm in ("A", "B") if p.get(arm)]
        ratios = [pair_log_ratios(p) for p in pairs]
        means = [r.mean() for r in ratios if r.size]
        within = [float(r.std(ddof=1)) for r in ratios if r.size > 1]
        out[name] = {
            "process": float(np.std(medians, ddof=1)) if len(medians) > 1 else math.nan,
            "pair": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
            "round": float(np.median(within)) if within else math.nan,
        }
    return out


def interim_alpha(alpha: float) -> float:
    return alpha * INTERIM_SHARE / MAX_LOOKS


def final_alpha(alpha: float, looked: bool) -> float:
    """The level of the last look: all of alpha when no interim look was taken."""
    return alpha * (1 - INTERIM_SHARE) if looked else alpha


def more_pairs(done: int, elapsed: float, budget: float, max_pairs: int | None) -> bool:
    """Whether another pair fits: at least MIN_PAIRS; then while the mean time per pair so far still
    fits in what is left of the budget, up to `max_pairs`."""
    if max_pairs is not None and done >= max_pairs:
        return False
    if done < MIN_PAIRS:
        return True
    return elapsed + elapsed / done <= budget
