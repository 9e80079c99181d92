"""Where a paired A/B's time goes (Kalibera and Jones, "Rigorous Benchmarking in Reasonable Time", ISMM
2013): a benchmark's variance in two parts, round noise inside a pair and the pair's lasting state, and
the rounds per arm that minimise the variance of its estimate for the time spent. mlxbench.ab.paired
allocates each pair's rounds with `allocate`; mlxbench.verdicts.paired reports the parts as spreads."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mlxbench.timings import Timings, Unit

MIN_ROUNDS = 3  # per arm: the first is left out, and a pair's round noise needs two more
MAX_ROUNDS = 200
MAX_ROUND_S = 10.0  # timed seconds per arm per benchmark per pair, at most
STATE_FLOOR = 0.01  # sd of a pair's lasting state assumed at least (a state of 0 from few pairs is not 0)


@dataclass
class Components:
    """A benchmark's variance in two parts (log scale, per round and per pair) and what it has from."""

    round: float  # variance of one round's log ratio inside a pair
    state: float  # variance of a pair's lasting state
    pairs: int
    rounds: float  # mean rounds per arm per pair


def components(pairs: Sequence[Unit]) -> Components | None:
    """Round noise and lasting state from a benchmark's pairs (method of moments; state floored at 0). Round noise
    is the spread inside one preparation (`Unit.blocks`): with --draws, what differs between a pair's preparations
    is lasting state, which more rounds do not average away."""
    ratios = [r for r in (p.log_ratios() for p in pairs) if r.size]
    within = [float(r.var(ddof=1)) for p in pairs for r in p.blocks() if r.size > 1]
    if len(ratios) < 2 or not within:
        return None
    round_var = float(np.mean(within))
    means = np.asarray([r.mean() for r in ratios])
    inv_rounds = float(np.mean([1 / r.size for r in ratios]))
    state = max(float(means.var(ddof=1)) - round_var * inv_rounds, 0.0)
    return Components(round_var, state, len(ratios), float(np.mean([r.size for r in ratios])))


@dataclass
class Allocation:
    """Rounds per arm a benchmark gets in the next pair, and why."""

    rounds: int
    why: str
    round_noise: float = math.nan  # sd of one round's log ratio
    lasting_state: float = math.nan  # sd of a pair's state
    round_cost: float = math.nan  # seconds of one round in both arms
    fixed_cost: float = math.nan  # seconds of a pair's fixed cost, this benchmark's share

    def as_dict(self) -> dict:
        return asdict(self)


def odd(rounds: int) -> int:
    """An odd count (one fewer where even): the last round then falls to the arm that did not go first, so
    first and last rounds alternate between the arms from pair to pair (mlxbench.ab.coordinator)."""
    return rounds if rounds % 2 else max(rounds - 1, 1)


def optimal_rounds(parts: Components, round_cost: float, fixed_cost: float) -> float:
    """Kalibera and Jones' optimal repetitions at the inner level: sqrt(c_outer / c_inner x s_inner / s_outer)."""
    if parts.round <= 0:
        return MIN_ROUNDS
    state = max(parts.state, STATE_FLOOR**2)
    return math.sqrt(max(fixed_cost, 0.0) / max(round_cost, 1e-9) * parts.round / state)


def allocate(
    by_bench: Mapping[str, Timings],
    round_costs: Mapping[str, float],
    fixed_costs: Mapping[str, float],
    planned: Mapping[str, int],
    fixed_rounds: set[str],
    seconds_left: float,
    pair_fixed: float,
    draws: int = 1,
) -> dict[str, Allocation]:
    """Rounds per arm for each benchmark in the next pair (see the module's docstring). `round_costs`: seconds of
    one round of both arms; `fixed_costs`: a pair's untimed seconds, each benchmark's share; `fixed_rounds`: the
    benchmarks whose rounds build on each other (they keep the profile's); `pair_fixed`: a pair's untimed seconds
    in all; the next pair is kept inside `seconds_left`. With `draws` preparations per pair (--draws) the rounds are
    per preparation: a benchmark's timed seconds per arm and the next pair's length count each preparation's."""
    out: dict[str, Allocation] = {}
    for name in sorted(planned):
        found, plan = by_bench.get(name), int(planned[name])
        if name in fixed_rounds:
            out[name] = Allocation(plan, "rounds build on each other (epochs): the profile's")
            continue
        parts = components(found.units if found else ())
        cost, fixed = round_costs.get(name, math.nan), fixed_costs.get(name, math.nan)
        if parts is None or not (math.isfinite(cost) and math.isfinite(fixed)):
            out[name] = Allocation(plan, "too few pairs to estimate its variance parts: the profile's")
            continue
        top = int(max(MIN_ROUNDS, min(MAX_ROUNDS, MAX_ROUND_S / draws / max(cost / 2, 1e-9))))
        best = optimal_rounds(parts, cost, fixed)
        rounds = odd(int(min(max(round(best) if math.isfinite(best) else top, MIN_ROUNDS), top)))
        where = "round noise dominates" if parts.round / max(rounds, 1) > parts.state else "lasting state dominates"
        why = (
            f"round noise {math.sqrt(parts.round):.1%}, lasting state {math.sqrt(parts.state):.1%}, a round "
            f"{cost:.3g} s, fixed {fixed:.3g} s a pair -> {'optimum above the cap' if best > top else f'{best:.1f}'}"
            f", {rounds} rounds ({where})"
        )
        out[name] = Allocation(rounds, why, math.sqrt(parts.round), math.sqrt(parts.state), cost, fixed)

    def times(name: str) -> int:  # preparations of `name` in the next pair
        return 1 if name in fixed_rounds else draws

    timed = sum(
        a.rounds * times(n) * round_costs.get(n, 0.0) for n, a in out.items() if math.isfinite(round_costs.get(n, 0.0))
    )
    room = seconds_left - pair_fixed  # the next pair should fit
    if timed > 0 and math.isfinite(room) and timed > room:
        scale = max(room, 0.0) / timed
        for name, a in out.items():
            if name in fixed_rounds or a.rounds <= MIN_ROUNDS:
                continue
            fewer = odd(max(MIN_ROUNDS, int(a.rounds * scale)))
            if fewer < a.rounds:
                a.why += f"; {fewer} to keep the next pair inside the time budget"
                a.rounds = fewer
    return out
