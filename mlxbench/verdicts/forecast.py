"""What an A/B's budget can see, said after its first look: per benchmark, the smallest change it will likely
see once the budget is spent, and the pairs (and minutes) it would need to see its threshold.

The forecast takes each benchmark's spread of a pair's estimate as measured so far, and its degrees of
freedom growing by one a pair (its prior's, where it has one, kept; in a run of two kinds of spread, the prior's
from MIXED_RUN_PAIRS pairs on, where it is lent from then); the smallest change seen after n pairs
is then that of a t test on n pairs at the final look's per-test level (mlxbench.verdicts.verdict
.minimum_detectable_effect), and a pair costs what the pairs so far cost on average. Both are estimates:
the spread of 3 pairs is itself uncertain (on 2 degrees of freedom, a spread's upper 95% bound is 4.4
times its estimate), and pairs get cheaper as decided benchmarks leave. It is a plan, never a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from mlxbench.verdicts import paired
from mlxbench.verdicts.evidence import Estimate
from mlxbench.verdicts.verdict import DEFAULT_THRESHOLD, minimum_detectable_effect
from mlxbench.verdicts.words import change, sees

MAX_PAIRS = 10_000  # past this many pairs, "the budget that would see it" is said as out of reach


@dataclass(frozen=True)
class Forecast:
    benchmark: str
    sees_now: float  # smallest change seen with the pairs so far (fraction)
    sees_at_end: float  # ... with the pairs the budget still holds
    pairs_at_end: int
    threshold: float
    pairs_needed: int | None  # pairs to see the threshold; None past MAX_PAIRS (no spread: 0 needed)
    minutes_needed: float | None  # at the pairs' cost so far

    def as_dict(self) -> dict:
        return asdict(self)


def sees_after(est: Estimate, pairs: int, level: float, later: float = 0.0) -> float:
    """The smallest change `est`'s benchmark will likely see after `pairs` pairs, at the per-test `level`; `later`:
    the prior's degrees of freedom it borrows from MIXED_RUN_PAIRS pairs on, where it borrows none yet."""
    if pairs < 2 or not math.isfinite(est.spread):
        return math.inf
    extra = max(est.df - (est.units[0] - 1), 0.0)  # a prior's degrees of freedom, kept as pairs are added
    if pairs >= paired.MIXED_RUN_PAIRS:
        extra = max(extra, later)
    return minimum_detectable_effect(est.spread / math.sqrt(pairs), pairs - 1 + extra, level)


def pairs_for(est: Estimate, threshold: float, level: float, later: float = 0.0) -> int | None:
    """The fewest pairs whose smallest change seen is at most `threshold` (None: more than MAX_PAIRS)."""
    if sees_after(est, MAX_PAIRS, level, later) > threshold:
        return None
    low, high = 2, MAX_PAIRS
    while low < high:  # the smallest change seen falls as pairs are added
        mid = (low + high) // 2
        if sees_after(est, mid, level, later) <= threshold:
            high = mid
        else:
            low = mid + 1
    return low


def forecast(
    name: str,
    est: Estimate,
    threshold: float,
    level: float,
    pairs_at_end: int,
    pair_seconds: float,
    later: float = 0.0,
) -> Forecast:
    """One benchmark's forecast: `pairs_at_end` pairs fit the budget, a pair costs `pair_seconds`; `later` as in
    `sees_after`."""
    needed = pairs_for(est, threshold, level, later)
    return Forecast(
        name,
        sees_after(est, est.units[0], level),
        sees_after(est, pairs_at_end, level, later),
        pairs_at_end,
        threshold,
        needed,
        None if needed is None else needed * pair_seconds / 60,
    )


def plan(
    found: paired.Findings,
    decided: set[str],
    thresholds: Mapping[str, float],
    alpha: float,
    family: int,
    pairs: int,
    pair_seconds: float,
    left_seconds: float,
) -> list[Forecast]:
    """Per undecided benchmark, what the pairs that still fit the budget will likely see, at the final look's
    per-test level; a benchmark with levels (mlxbench.verdicts.levels) by the worse of its two tests."""
    at_end = pairs + max(int(left_seconds // pair_seconds), 0) if pair_seconds > 0 else pairs
    level = paired.final_alpha(alpha, True) / (max(family, 1) + len(found.levels))
    out = []
    for name, est in sorted(found.estimates.items()):
        if name in decided or not isinstance(est, Estimate):
            continue
        threshold = thresholds.get(name, DEFAULT_THRESHOLD)
        tests = [e for e in (est, found.mixes.get(name)) if e is not None]
        later = found.later.get(name, 0.0)
        made = [forecast(name, e, threshold, level, at_end, pair_seconds, later) for e in tests]
        out.append(max(made, key=lambda f: f.sees_at_end))
    return out


def lines(planned: Sequence[Forecast], pairs: int, pair_seconds: float, budget_min: float) -> list[str]:
    """The forecast as the A/B prints it: one line a benchmark, the ones that will see least first."""
    if not planned:
        return []
    more = planned[0].pairs_at_end - pairs
    out = [
        f"mlxbench ab: what the {budget_min:g}-minute budget will likely see, from the spreads of {pairs} pairs "
        f"({more} more pair{'s' * (more != 1)} fit at {pair_seconds:.0f} s a pair; a plan, not a verdict):",
        "  sees now  at the end  to see its threshold     benchmark",
    ]
    for f in sorted(planned, key=lambda f: (-f.sees_at_end, f.benchmark)):
        if f.pairs_needed is None:
            need = f"{change(f.threshold)}: out of reach"
        else:
            n = f.pairs_needed
            minutes = "<1" if (f.minutes_needed or 0) < 1 else f"{f.minutes_needed:.0f}"
            need = f"{change(f.threshold)}: {n} pair{'s' * (n != 1)}, {minutes} min"
        out.append(f"  {sees(f.sees_now):>8}  {sees(f.sees_at_end):>10}  {need:<24} {f.benchmark.rsplit('::', 1)[-1]}")
    return out
