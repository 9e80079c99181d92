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
  small and each benchmark keeps its own): degrees of freedom P - 1 + prior_df instead of P - 1, less for a
  benchmark whose spread is an outlier of the rest (mlxbench.verdicts.prior: Phipson et al.'s weights), and none
  from fewer than MIXED_RUN_PAIRS pairs where the run holds such outliers.
- **Workers in lasting states.** Where the workers' medians of a benchmark split into two groups more
  than x1.5 and UNSTABLE_SPREADS robust spreads apart, it is named (`unstable: ...`): one worker alone
  in its group (from 4 pairs on) is a stuck worker, and its pair is left out of that benchmark's
  estimate; workers of both arms in both groups (on the H200, mlx-gpu placement's workers landed at
  10-11 ms or 20-28 ms) mean the benchmark's processes draw one of two states, and it is judged on its
  own spread, nothing left out and no prior. Never averaged in silently, nor dropped silently. A
  moderated spread is never below the benchmark's own (the prior adds degrees of freedom, not a
  smaller spread, to a benchmark noisier than the rest).
- **Rounds in levels** (mlxbench.verdicts.levels). Where a benchmark's rounds come at two levels that last,
  it is judged as two tests, at like levels and on its level mix, each on its own spread; until its pairs
  hold MIN_PAIRS with the fast level in both arms, on its pairs' mean ratios and its own spread. Either
  way it neither gives nor takes a share of the prior: one worker's episode at the slow level moves its
  pair's ratio by x2, a spread of another kind than the other benchmarks' (in simulations modelled on the
  H100's placement rounds, borrowing the prior's degrees of freedom took its false alarms to 5.7% at 5 pairs).
- **Allocation** (mlxbench.verdicts.allocation). Rounds per arm in the next pair:
  r = sqrt(fixed / round_cost x round / state), the
  count that minimises the variance of a benchmark's estimate for the time spent (Kalibera and Jones'
  optimal repetition count for two levels; the state taken as at least STATE_FLOOR, since a state
  of 0 estimated from few pairs is not 0), kept between MIN_ROUNDS and what MAX_ROUND_S allows, and
  scaled down where the next pair would not fit the budget; always odd (see `odd`).
- **Stopping.** Interim looks come at pair counts growing geometrically (MIN_PAIRS, then each at least
  LOOK_GROWTH times the last: 3, 5, 8, 12, 18, 27, 41, ...), so they last the whole budget however long it
  is, and a benchmark that can be decided leaves within about half again the pairs it needed. Look j
  judges at level alpha x INTERIM_SHARE x 6 / (pi^2 j^2): the levels of all looks, however many, sum to
  alpha x INTERIM_SHARE (sum of 1/j^2 = pi^2 / 6), most of it spent early where the pairs are few and
  each one adds the most information. A benchmark decided at a look (any verdict but inconclusive) keeps
  that verdict and leaves the later pairs; the final look judges the rest at alpha x (1 - INTERIM_SHARE).
  By the union bound unchanged code reports a change in at most alpha of runs, however the run stops and
  whichever benchmarks leave early (a group-sequential design with Bonferroni-split alpha).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlxbench.timings import Timings, Unit
from mlxbench.verdicts import levels as levels_
from mlxbench.verdicts.allocation import components
from mlxbench.verdicts.evidence import Estimate, welch_estimate
from mlxbench.verdicts.prior import Prior, squeeze

MIN_PAIRS = 3  # the fewest pairs a benchmark is judged from
# Fewer pairs than this, in a run whose spreads hold an outlier (Prior.outliers), and a benchmark borrows
# no prior: a noisy benchmark whose few pairs happen to agree looks quiet, and a mixture of the two kinds would widen
# every benchmark's interval there 1.1-6.4 times (2-3 degrees of freedom of its own), 1.0-1.4 times from 4
# (docs/verdicts.md). Simulated (mlxbench.tools.simulate, 17 of 3% and 3 of 20-30%, or 14 and 6): any false
# verdict in 2.1-4.4% of A/As instead of 5.25-5.50%.
MIXED_RUN_PAIRS = 5
INTERIM_SHARE = 0.5  # of alpha, spent on the interim looks together
LOOK_GROWTH = 1.5  # each interim look comes after at least this many times the pairs of the one before
UNSTABLE_SPREADS = 6.0  # robust spreads (1.4826 x MAD) of the pairs' ratios ...
UNSTABLE_RATIO = 0.5  # ... and at least x1.5 (or x1/1.5) from their median: a worker in a lasting state


@dataclass
class Unstable:
    """Workers of a benchmark in lasting states far apart: one worker stuck (its pair is left out), or the
    workers of both arms landing in two states (nothing left out; judged on its own spread)."""

    benchmark: str
    kind: str  # "worker": one worker far from all others; "states": the workers split into two states
    ratio: float  # the slower state against the faster one (or the stuck worker against the others)
    slow: dict[str, int]  # workers of each arm in the slower state
    workers: int
    pair: int = 0  # "worker": its pair's 1-based number, as the run's pair-NN folders
    arm: str = ""  # "worker": whose worker

    def line(self) -> str:
        if self.kind == "worker":
            return (
                f"unstable: {self.benchmark}: arm {self.arm}'s worker of pair {self.pair} ran x{self.ratio:.2f} "
                f"against the other {self.workers - 1} workers; that pair is left out of its estimate"
            )
        return (
            f"unstable: {self.benchmark}: its workers land in two states x{self.ratio:.2f} apart ({self.slow['A']} "
            f"of arm A's and {self.slow['B']} of arm B's workers in the slower); judged on its own spread alone, "
            "nothing left out"
        )


def lasting_states(name: str, pairs: Sequence[Unit]) -> Unstable | None:
    """Whether the workers' medians split into two groups further apart than x(1 + UNSTABLE_RATIO) and than
    UNSTABLE_SPREADS robust spreads of either group: one worker alone (from 4 pairs on: a stuck worker), or
    workers of both kinds (a benchmark whose processes land in one of two states)."""
    workers = [(p.number, arm, math.log(p.median(arm))) for p in pairs for arm in ("A", "B") if p.usable(arm).size]
    if len(workers) < 4:
        return None
    workers.sort(key=lambda w: w[2])
    logs = np.asarray([w[2] for w in workers])
    k = int(np.argmax(np.diff(logs)))
    gap = float(logs[k + 1] - logs[k])
    low, high = logs[: k + 1], logs[k + 1 :]

    def spread(x: np.ndarray) -> float:
        if x.size < 2:
            return 0.0
        middle = statistics.median(x.tolist())
        return 1.4826 * statistics.median([abs(v - middle) for v in x.tolist()])

    if gap <= math.log1p(UNSTABLE_RATIO) or gap <= UNSTABLE_SPREADS * max(spread(low), spread(high), 0.01):
        return None
    slow_side, fast_side = workers[k + 1 :], workers[: k + 1]
    slow = {arm: sum(w[1] == arm for w in slow_side) for arm in ("A", "B")}
    ratio = math.exp(statistics.median(high.tolist()) - statistics.median(low.tolist()))
    minority = fast_side if low.size < high.size else slow_side
    if len(minority) == 1 and len(pairs) >= 4:
        pair, arm, own = minority[0]
        rest = statistics.median([w[2] for w in workers if w is not minority[0]])
        return Unstable(name, "worker", math.exp(own - rest), slow, len(workers), pair, arm)
    if all(any(w[1] == arm for w in side) for side in (slow_side, fast_side) for arm in ("A", "B")):
        return Unstable(name, "states", ratio, slow, len(workers))
    return None  # one arm slower than the other throughout: a real difference, not a state


@dataclass
class Findings:
    """Everything the paired statistic made of the pairs: estimates, the shared prior, unstable workers, and the
    evidence it judged (each benchmark's Timings, for what the caller reports beside the verdicts)."""

    timings: dict[str, Timings] = field(default_factory=dict)
    estimates: dict[str, Estimate | str] = field(default_factory=dict)
    prior: Prior = field(default_factory=Prior)
    # the prior's weight each benchmark would get but for MIXED_RUN_PAIRS: it borrows it from that many pairs on
    later: dict[str, float] = field(default_factory=dict)
    unstable: list[Unstable] = field(default_factory=list)
    levels: dict[str, levels_.Levels] = field(default_factory=dict)  # benchmarks whose rounds come in two levels
    mixes: dict[str, Estimate] = field(default_factory=dict)  # their level mix, a second test of each


def estimate_all(by_bench: Mapping[str, Timings]) -> Findings:
    """The paired estimate of log(B / A) of every benchmark, spreads moderated across them."""
    found = Findings(dict(by_bench))
    kept: dict[str, tuple[np.ndarray, Timings]] = {}
    states: set[str] = set()
    for name, timings in sorted(by_bench.items()):
        usable = timings.matched()
        flagged = lasting_states(name, usable.units)
        out = set()
        if flagged is not None:
            found.unstable.append(flagged)
            if flagged.kind == "worker":
                out = {flagged.pair}
            else:
                states.add(name)
        rest = usable.without(out)
        kept[name] = (np.asarray([p.log_ratios().mean() for p in rest.units]), rest)
        if (found_levels := levels_.find(rest.units)) is not None:
            states.add(name)  # its pairs' spread is of another kind: it neither gives nor takes a prior
            like = levels_.like_level(rest.units, found_levels)
            if like.size >= MIN_PAIRS:
                found.levels[name] = found_levels
                found.estimates[name], found.mixes[name] = leveled(found_levels, rest, like)
    own = {n: (float(d.var(ddof=1)), d.size - 1.0) for n, (d, _) in kept.items() if d.size >= 2 and n not in states}
    found.prior = squeeze([v for v, _ in own.values()], [f for _, f in own.values()])
    mixed = found.prior.outliers > 0  # the run's spreads are of two kinds: see MIXED_RUN_PAIRS
    for name, (d, rest) in kept.items():
        if name in found.levels:
            continue  # judged as two tests above
        if d.size < MIN_PAIRS:
            found.estimates[name] = f"need >= {MIN_PAIRS} pairs of workers that both ran it ({d.size} did)"
            continue
        variance, df = float(d.var(ddof=1)), d.size - 1.0
        if name not in states and d.size < MIXED_RUN_PAIRS and mixed:
            found.later[name] = found.prior.weight(variance, df)
        elif name not in states:
            variance, df = found.prior.moderate_up(variance, df)
        how = "pairs of workers alternating rounds, t on mean log ratios"
        if df > d.size - 1:
            shared = f"{found.prior.benchmarks} benchmark{'s' * (found.prior.benchmarks != 1)}"
            how += f", spread moderated across {shared} (prior df {df - (d.size - 1):.1f} of {found.prior.df:.1f})"
        found.estimates[name] = Estimate(
            float(d.mean()),
            math.sqrt(variance / d.size),
            df,
            float(np.median(rest.times("A"))),
            float(np.median(rest.times("B"))),
            (d.size, d.size),
            math.sqrt(variance),
            how,
        )
    return found


def leveled(levels: levels_.Levels, pairs: Timings, like: np.ndarray) -> tuple[Estimate, Estimate]:
    """A benchmark with levels (mlxbench.verdicts.levels): its change at like levels (`like`, the per-pair ratios
    levels.like_level gave), and its level mix's."""
    a_med, b_med = float(np.median(pairs.times("A"))), float(np.median(pairs.times("B")))
    out = []
    for d, how in (
        (like, "pairs of workers at like levels, t on the fast level's median log ratios"),
        (levels_.level_mix(pairs.units, levels), "pairs of workers' level mix, t on the slow level's shares"),
    ):
        sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
        out.append(
            Estimate(float(d.mean()), sd / math.sqrt(d.size), d.size - 1.0, a_med, b_med, (d.size, d.size), sd, how)
        )
    return out[0], out[1]


def process_estimates(by_bench: Mapping[str, Timings]) -> dict[str, Estimate | str]:
    """The same workers judged as the process design judges: each worker's median is one sample,
    A's against B's (Welch): what pairing buys, measured on the very same processes."""
    return {name: welch_estimate(timings) for name, timings in sorted(by_bench.items())}


def spreads(by_bench: Mapping[str, Timings]) -> dict[str, dict[str, float]]:
    """Per benchmark: the sd of a worker's log median (process spread), of a pair's mean log ratio
    (pair spread), of one round's log ratio inside a pair's preparation (round spread), and the two variance
    components as sds (round noise, lasting state)."""
    out = {}
    for name, timings in by_bench.items():
        medians = np.log(timings.medians("A") + timings.medians("B"))
        means = [float(r.mean()) for r in (p.log_ratios() for p in timings.units) if r.size]
        within = [float(r.std(ddof=1)) for p in timings.units for r in p.blocks() if r.size > 1]
        parts = components(timings.units)
        out[name] = {
            "process": float(np.std(medians, ddof=1)) if len(medians) > 1 else math.nan,
            "pair": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
            "round": float(np.median(within)) if within else math.nan,
            "round_noise": math.sqrt(parts.round) if parts else math.nan,
            "lasting_state": math.sqrt(parts.state) if parts else math.nan,
        }
    return out


def look_number(pairs: int) -> int | None:
    """Which interim look (1, 2, ...) is due after `pairs` complete pairs, or None: looks come at MIN_PAIRS
    and then at pair counts at least LOOK_GROWTH times the last look's."""
    at, number = MIN_PAIRS, 1
    while at < pairs:
        at, number = max(at + 1, math.ceil(at * LOOK_GROWTH)), number + 1
    return number if at == pairs else None


def interim_alpha(alpha: float, look: int) -> float:
    """The level of interim look `look` (1-based): the looks' levels sum to alpha x INTERIM_SHARE."""
    return alpha * INTERIM_SHARE * 6 / (math.pi**2 * look**2)


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
