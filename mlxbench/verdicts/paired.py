"""The statistics of the time-paired A/B: estimates from pairs of workers, how to spend the next pair,
and when to stop.

Within one pair of workers, round i of A and round i of B ran next to each other in time, so their
log ratio is free of the machine's drift; it still carries the two processes' own states (memory
layout, core placement), which every round of that pair shares. So the unit of evidence is the pair
of workers, and a benchmark's variance has two parts (Kalibera and Jones, "Rigorous Benchmarking in
Reasonable Time", ISMM 2013): round noise inside a pair (`round`, the variance of one round's log
ratio) and the pair's lasting state (`state`). The mean of a pair's r rounds varies by
state + round / r.

- **Estimate.** Per benchmark, the mean over its P pairs of their mean log ratios, with a t interval.
  The spread of those P numbers is moderated across the run's benchmarks (empirical Bayes, Smyth 2004,
  as limma does: the benchmarks measured side by side share a prior for their spread, whose weight
  `prior_df` is estimated from how much their spreads differ; where they differ a lot, the weight is
  small and each benchmark keeps its own): degrees of freedom P - 1 + prior_df instead of P - 1.
- **A worker in a lasting state** (one pair's ratio far from every other pair's: more than
  UNSTABLE_SPREADS robust spreads and more than UNSTABLE_RATIO away from their median) is named,
  with the arm whose worker ran off, and left out of that benchmark's estimate; it is never averaged
  in silently, nor dropped silently.
- **Allocation.** Rounds per arm in the next pair: r = sqrt(fixed / round_cost x round / state), the
  count that minimises the variance of a benchmark's estimate for the time spent (Kalibera and Jones'
  optimal repetition count for two levels; the state taken as at least STATE_FLOOR, since a state
  of 0 estimated from few pairs is not 0), kept between MIN_ROUNDS and what MAX_ROUND_S allows, and
  scaled down where the next pair would not fit the budget; always odd (see `odd`).
- **Stopping.** After each pair from MIN_PAIRS on, an interim look judges at level
  alpha x INTERIM_SHARE / MAX_LOOKS; a benchmark decided there (any verdict but inconclusive) keeps
  that verdict and leaves the later pairs; the final look judges the rest at alpha x (1 - INTERIM_SHARE).
  Each benchmark is tested at most MAX_LOOKS + 1 times at levels that sum to at most alpha / m, so by
  the union bound unchanged code reports a change in at most alpha of runs, however the run stops
  and whichever benchmarks leave early (a group-sequential design with Bonferroni-split alpha).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import special

from mlxbench.verdicts.evidence import Estimate, welch_estimate

MIN_PAIRS = 3  # the fewest pairs a benchmark is judged from
INTERIM_SHARE = 0.5  # of alpha, spent on the interim looks together
MAX_LOOKS = 10  # interim looks at most (one after each pair from MIN_PAIRS on)
UNSTABLE_SPREADS = 6.0  # robust spreads (1.4826 x MAD) of the pairs' ratios ...
UNSTABLE_RATIO = 0.5  # ... and at least x1.5 (or x1/1.5) from their median: a worker in a lasting state
MIN_ROUNDS = 3  # per arm: the first is left out, and a pair's round noise needs two more
FIRST_ROUNDS_LEFT_OUT = 1  # of each pair's rounds of a benchmark, per arm (see pair_log_ratios)
MAX_ROUNDS = 200
MAX_ROUND_S = 10.0  # timed seconds per arm per benchmark per pair, at most
STATE_FLOOR = 0.01  # sd of a pair's lasting state assumed at least (a state of 0 from few pairs is not 0)

PairTimes = Mapping[str, Sequence[float]]  # {"A": per-call times in round order, "B": ...}


def pair_log_ratios(times: PairTimes) -> np.ndarray:
    """log(B_i / A_i) of the rounds of one pair of workers, matched by round (adjacent in time). The first
    round of each arm is left out where 3 or more are matched: it is the only one whose position differs by
    arm (one arm's comes straight after its own preparation, the other's after the first arm's round), and
    under load it read B/A x1.106 over 60 A/A rounds against x1.000 for the middle rounds."""
    a = np.asarray([t for t in times.get("A", []) if t > 0 and math.isfinite(t)], dtype=float)
    b = np.asarray([t for t in times.get("B", []) if t > 0 and math.isfinite(t)], dtype=float)
    n = min(a.size, b.size)
    first = FIRST_ROUNDS_LEFT_OUT if n >= 3 else 0
    return np.log(b[first:n] / a[first:n])


def trigamma_inverse(x: float) -> float:
    """y with trigamma(y) = x (Newton's method, as limma's trigammaInverse)."""
    if x > 1e7:
        return 1 / math.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(50):
        tri = float(special.polygamma(1, y))
        step = tri * (1 - tri / x) / float(special.polygamma(2, y))
        y += step
        if -step / y < 1e-8:
            break
    return y


@dataclass
class Prior:
    """The spread the benchmarks of one run share: a variance and its weight in degrees of freedom."""

    df: float = 0.0
    variance: float = math.nan
    benchmarks: int = 0

    def moderate(self, variance: float, df: float) -> tuple[float, float]:
        """(moderated variance, its degrees of freedom) of a benchmark's own variance on `df`."""
        if self.df <= 0 or not math.isfinite(self.variance):
            return variance, df
        return (self.df * self.variance + df * variance) / (self.df + df), self.df + df


def squeeze(variances: Sequence[float], dfs: Sequence[float]) -> Prior:
    """The prior of the benchmarks' variances, by Smyth's moment estimator (limma's fitFDist); its
    weight is at most the benchmarks' own degrees of freedom together (a prior is never worth more
    evidence than the run holds)."""
    s2, d = np.asarray(variances, dtype=float), np.asarray(dfs, dtype=float)
    keep = np.isfinite(s2) & (s2 > 0) & (d > 0)
    s2, d = s2[keep], d[keep]
    if s2.size < 3:
        return Prior(benchmarks=int(s2.size))
    e = np.log(s2) - special.digamma(d / 2) + np.log(d / 2)
    excess = float(e.var(ddof=1) - special.polygamma(1, d / 2).mean())
    cap = float(d.sum())
    d0 = min(2 * trigamma_inverse(excess), cap) if excess > 0 else cap
    s0 = math.exp(float(e.mean()) + float(special.digamma(d0 / 2)) - math.log(d0 / 2))
    return Prior(d0, s0, int(s2.size))


@dataclass
class Unstable:
    """A pair whose ratio is far from every other pair's: one of its workers ran in a lasting state."""

    benchmark: str
    pair: int  # 1-based, as the run's pair-NN folders
    arm: str  # whose worker ran off (the one further from its arm's other workers)
    ratio: float  # that worker's median against its arm's other workers' median
    pair_ratio: float  # the pair's B / A
    others: float  # the other pairs' median B / A

    def line(self) -> str:
        return (
            f"unstable: {self.benchmark}: arm {self.arm}'s worker of pair {self.pair} ran x{self.ratio:.2f} its arm's "
            f"other workers (pair ratio x{self.pair_ratio:.2f}, the others' median x{self.others:.2f}); left out"
        )


def unstable_pairs(name: str, pairs: Sequence[tuple[int, PairTimes]], means: Sequence[float]) -> list[Unstable]:
    """Pairs far from all others (at most one in four pairs is named; from 4 pairs on)."""
    m = np.asarray(means, dtype=float)
    if m.size < 4:
        return []
    med = float(np.median(m))
    scale = 1.4826 * float(np.median(np.abs(m - med)))
    far = np.abs(m - med)
    limit = max(UNSTABLE_SPREADS * scale, math.log1p(UNSTABLE_RATIO))
    out = []
    for i in [int(i) for i in np.argsort(-far)[: m.size // 4]]:
        if far[i] <= limit:
            break
        logs = {arm: [math.log(float(np.median(t[arm]))) for _, t in pairs if t.get(arm)] for arm in ("A", "B")}
        own = {arm: math.log(float(np.median(pairs[i][1][arm]))) for arm in ("A", "B")}
        rest = {arm: float(np.median([x for j, x in enumerate(logs[arm]) if j != i])) for arm in ("A", "B")}
        arm = max(("A", "B"), key=lambda a: abs(own[a] - rest[a]))
        others = float(np.median(np.delete(m, i)))
        out.append(Unstable(name, pairs[i][0], arm, math.exp(own[arm] - rest[arm]), math.exp(m[i]), math.exp(others)))
    return out


@dataclass
class Evidence:
    """Everything the paired statistic made of the pairs: estimates, the shared prior, unstable workers."""

    estimates: dict[str, Estimate | str] = field(default_factory=dict)
    prior: Prior = field(default_factory=Prior)
    unstable: list[Unstable] = field(default_factory=list)


def numbered(by_bench: Mapping[str, Sequence[PairTimes]]) -> dict[str, list[tuple[int, PairTimes]]]:
    """Each benchmark's pairs with their 1-based number (a "pair" key where the caller set one)."""
    out = {}
    for name, pairs in by_bench.items():
        out[name] = [(int(p.get("pair", i + 1)), p) for i, p in enumerate(pairs)]  # type: ignore[arg-type]
    return out


def estimate_all(by_bench: Mapping[str, Sequence[PairTimes]]) -> Evidence:
    """The paired estimate of log(B / A) of every benchmark, spreads moderated across them."""
    found = Evidence()
    kept: dict[str, tuple[np.ndarray, list[tuple[int, PairTimes]]]] = {}
    for name, pairs in sorted(numbered(by_bench).items()):
        usable = [(i, p) for i, p in pairs if pair_log_ratios(p).size]
        means = [float(pair_log_ratios(p).mean()) for _, p in usable]
        flagged = unstable_pairs(name, usable, means)
        found.unstable += flagged
        out = {u.pair for u in flagged}
        rest = [(i, p) for i, p in usable if i not in out]
        kept[name] = (np.asarray([pair_log_ratios(p).mean() for _, p in rest]), rest)
    own = {n: (float(d.var(ddof=1)), d.size - 1.0) for n, (d, _) in kept.items() if d.size >= 2}
    found.prior = squeeze([v for v, _ in own.values()], [f for _, f in own.values()])
    for name, (d, rest) in kept.items():
        if d.size < MIN_PAIRS:
            found.estimates[name] = f"need >= {MIN_PAIRS} pairs of workers that both ran it ({d.size} did)"
            continue
        variance, df = found.prior.moderate(float(d.var(ddof=1)), d.size - 1.0)
        a = [t for _, p in rest for t in p.get("A", [])]
        b = [t for _, p in rest for t in p.get("B", [])]
        how = "pairs of workers alternating rounds, t on mean log ratios"
        if df > d.size - 1:
            how += f", spread moderated across {found.prior.benchmarks} benchmarks (prior df {found.prior.df:.1f})"
        found.estimates[name] = Estimate(
            float(d.mean()), math.sqrt(variance / d.size), df, float(np.median(a)), float(np.median(b)),
            (d.size, d.size), math.sqrt(variance), how,
        )  # fmt: skip
    return found


def process_estimates(by_bench: Mapping[str, Sequence[PairTimes]]) -> dict[str, Estimate | str]:
    """The same workers judged as the process design judges: each worker's median is one sample,
    A's against B's (Welch): what pairing buys, measured on the very same processes."""
    out: dict[str, Estimate | str] = {}
    for name, pairs in sorted(by_bench.items()):
        a = [float(np.median(p["A"])) for p in pairs if p.get("A")]
        b = [float(np.median(p["B"])) for p in pairs if p.get("B")]
        out[name] = welch_estimate(a, b)
    return out


@dataclass
class Components:
    """A benchmark's variance in two parts (log scale, per round and per pair) and what it has from."""

    round: float  # variance of one round's log ratio inside a pair
    state: float  # variance of a pair's lasting state
    pairs: int
    rounds: float  # mean rounds per arm per pair

    def pair_variance(self, rounds: float) -> float:
        return self.state + self.round / max(rounds, 1)


def components(pairs: Sequence[PairTimes]) -> Components | None:
    """Round noise and lasting state from a benchmark's pairs (method of moments; state floored at 0)."""
    ratios = [r for r in (pair_log_ratios(p) for p in pairs) if r.size]
    within = [float(r.var(ddof=1)) for r in ratios if r.size > 1]
    if len(ratios) < 2 or not within:
        return None
    round_var = float(np.mean(within))
    means = np.asarray([r.mean() for r in ratios])
    inv_rounds = float(np.mean([1 / r.size for r in ratios]))
    state = max(float(means.var(ddof=1)) - round_var * inv_rounds, 0.0)
    return Components(round_var, state, len(ratios), float(np.mean([r.size for r in ratios])))


def spreads(by_bench: Mapping[str, Sequence[PairTimes]]) -> dict[str, dict[str, float]]:
    """Per benchmark: the sd of a worker's log median (process spread), of a pair's mean log ratio
    (pair spread), of one round's log ratio inside a pair (round spread), and the two variance
    components as sds (round noise, lasting state)."""
    out = {}
    for name, pairs in by_bench.items():
        medians = [math.log(np.median(p[arm])) for p in pairs for arm in ("A", "B") if p.get(arm)]
        ratios = [pair_log_ratios(p) for p in pairs]
        means = [r.mean() for r in ratios if r.size]
        within = [float(r.std(ddof=1)) for r in ratios if r.size > 1]
        parts = components(pairs)
        out[name] = {
            "process": float(np.std(medians, ddof=1)) if len(medians) > 1 else math.nan,
            "pair": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
            "round": float(np.median(within)) if within else math.nan,
            "round_noise": math.sqrt(parts.round) if parts else math.nan,
            "lasting_state": math.sqrt(parts.state) if parts else math.nan,
        }
    return out


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
    by_bench: Mapping[str, Sequence[PairTimes]], round_costs: Mapping[str, float], fixed_costs: Mapping[str, float],
    planned: Mapping[str, int], fixed_rounds: set[str], seconds_left: float, pair_fixed: float,
) -> dict[str, Allocation]:  # fmt: skip
    """Rounds per arm for each benchmark in the next pair (see the module's docstring). `round_costs`: seconds of
    one round of both arms; `fixed_costs`: a pair's untimed seconds, each benchmark's share; `fixed_rounds`: the
    benchmarks whose rounds build on each other (they keep the profile's); `pair_fixed`: a pair's untimed seconds
    in all; the next pair is kept inside `seconds_left`."""
    out: dict[str, Allocation] = {}
    for name in sorted(planned):
        pairs, plan = by_bench.get(name, []), int(planned[name])
        if name in fixed_rounds:
            out[name] = Allocation(plan, "rounds build on each other (epochs): the profile's")
            continue
        parts = components(pairs)
        cost, fixed = round_costs.get(name, math.nan), fixed_costs.get(name, math.nan)
        if parts is None or not (math.isfinite(cost) and math.isfinite(fixed)):
            out[name] = Allocation(plan, "too few pairs to estimate its variance parts: the profile's")
            continue
        top = int(max(MIN_ROUNDS, min(MAX_ROUNDS, MAX_ROUND_S / max(cost / 2, 1e-9))))
        best = optimal_rounds(parts, cost, fixed)
        rounds = odd(int(min(max(round(best) if math.isfinite(best) else top, MIN_ROUNDS), top)))
        where = "round noise dominates" if parts.round / max(rounds, 1) > parts.state else "lasting state dominates"
        why = (
            f"round noise {math.sqrt(parts.round):.1%}, lasting state {math.sqrt(parts.state):.1%}, a round "
            f"{cost:.3g} s, fixed {fixed:.3g} s a pair -> {'optimum above the cap' if best > top else f'{best:.1f}'}"
            f", {rounds} rounds ({where})"
        )
        out[name] = Allocation(rounds, why, math.sqrt(parts.round), math.sqrt(parts.state), cost, fixed)
    timed = sum(a.rounds * round_costs.get(n, 0.0) for n, a in out.items() if math.isfinite(round_costs.get(n, 0.0)))
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


def interim_alpha(alpha: float) -> float:
    return alpha * INTERIM_SHARE / MAX_LOOKS


def final_alpha(alpha: float, looked: bool) -> float:
    """The level of the last look: all of alpha when no interim look was taken."""
    return alpha * (1 - INTERIM_SHARE) if looked else alpha


def more_pairs(done: int, elapsed: float, budget: float, max_pairs: int | None, last: float | None = None) -> bool:
    """Whether another pair fits: at least MIN_PAIRS; then while the next pair (as long as the last one, or the
    mean so far) still fits in what is left of the budget, up to `max_pairs`."""
    if max_pairs is not None and done >= max_pairs:
        return False
    if done < MIN_PAIRS:
        return True
    return elapsed + (last if last is not None else elapsed / done) <= budget
