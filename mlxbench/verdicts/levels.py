"""Rounds that come in levels: compared at like levels, and how often each arm was at the slow level.

On a GPU the rounds of one benchmark can come at two levels far apart (a lent H100: MLX placement to the
GPU at about 11 ms or about 25 ms), a worker staying at one level for a whole pair or switching for a few
rounds. The mean of a pair's round log ratios then moves with every episode at the other level, and the
pairs' spread hides a change of 10% (in the recorded H100 A/A, ../shared/data/ab-corpus: smallest change
seen 61% and 71% on the two MLX to-GPU benchmarks after 15 pairs). So where a benchmark's rounds split in
two levels, its change is two effects, each tested on its own:

- **At like levels.** Per pair whose two arms both have rounds at the fast level, the log ratio of the
  medians of those rounds, B against A; a t interval over those pairs on their own spread (no prior: the
  other benchmarks' spreads say nothing of this one's fast level). A change that moves both levels moves it.
- **The level mix.** Per pair, how much slower the arms' shares of slow rounds make B's mean time against
  A's, on the levels' pooled ratio R: log((1 - s_B + s_B R) / (1 - s_A + s_A R)); a t interval over all
  pairs. A change that makes the slow level more frequent is a regression too.

The levels are found on all rounds of both arms pooled (never per arm), by the split of the log times that
best separates two groups (Otsu's criterion), and taken as levels only where the groups' medians are at least
LEVEL_RATIO apart, the smaller holds at least LEVEL_SHARE of the rounds, a worker's slow rounds come in runs
(LEVEL_PERSISTENCE: `persistence`: spikes, however many, are not a level), and each arm has rounds at both
levels (B slower than A throughout is a change, not levels). Under unchanged code the arms are exchangeable
within each pair, so both effects are symmetric about zero, and each is judged at the per-test level alpha / m
with both counted in m (a benchmark with levels is two tests of the family); tests/verdicts/test_levels.py
checks the family-wise bound in simulations of levels and spikes modelled on the recorded pairs.

The verdict: `regressed` if either effect is, `improved` if either is and neither regressed, `unchanged`
only if both are; else `inconclusive`. The figures printed are those of the effect that decided it (the
like-level one when both agree), and its reasons give both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlxbench.timings import Unit
from mlxbench.verdicts.verdict import Result

LEVEL_RATIO = 1.5  # the slow group's median at least this many times the fast group's
LEVEL_SHARE = 0.10  # ... and the smaller group at least this share of the rounds
MIN_ROUNDS = 20  # rounds (both arms, all pairs) before levels are looked for
LEVEL_PERSISTENCE = 0.3  # ... and a worker's slow rounds stick together this much (`persistence`: 0 by chance)
MIN_FOLLOWS = 5  # rounds after a slow round before `persistence` says anything


@dataclass(frozen=True)
class Levels:
    """Two levels of a benchmark's rounds: where they split, how far apart, how often the slow one came."""

    cut: float  # log seconds: a round below it is at the fast level
    ratio: float  # the slow level's median round against the fast level's
    slow_share: float  # of all rounds, both arms

    def shares(self, pairs: Sequence[Unit]) -> dict[str, float]:
        """The share of each arm's rounds at the slow level, over all pairs."""
        out = {}
        for arm in ("A", "B"):
            logs = np.concatenate([p.arm_logs(arm) for p in pairs] or [np.empty(0)])
            out[arm] = float(np.mean(logs >= self.cut)) if logs.size else math.nan
        return out

    def as_dict(self, pairs: Sequence[Unit]) -> dict[str, float | dict[str, float]]:
        """As verdicts.json keeps it: where the levels split (seconds per call), how far apart, each arm's share."""
        return {
            "cut_s": math.exp(self.cut),
            "ratio": self.ratio,
            "slow_share": self.slow_share,
            "shares": self.shares(pairs),
        }

    def line(self, pairs: Sequence[Unit]) -> str:
        s = self.shares(pairs)
        return (
            f"levels: its rounds come at two levels x{self.ratio:.2f} apart, the slow one in {s['A']:.0%} of arm "
            f"A's rounds and {s['B']:.0%} of arm B's; judged at like levels and on the level mix, each a test"
        )


def split(logs: np.ndarray) -> float:
    """The cut between two groups of sorted values that maximises their between-group variance (Otsu)."""
    x = np.sort(logs)
    n = x.size
    k = np.arange(1, n)
    left = np.cumsum(x)[:-1]
    mean_left, mean_right = left / k, (x.sum() - left) / (n - k)
    score = k * (n - k) * (mean_left - mean_right) ** 2
    best = int(np.argmax(score))
    return float((x[best] + x[best + 1]) / 2)


def find(pairs: Sequence[Unit]) -> Levels | None:
    """The benchmark's two levels, or None where its rounds do not split into two (see the module's rule)."""
    logs = np.concatenate([p.arm_logs(arm) for p in pairs for arm in ("A", "B")] or [np.empty(0)])
    if logs.size < MIN_ROUNDS:
        return None
    cut = split(logs)
    fast, slow = logs[logs < cut], logs[logs >= cut]
    share = slow.size / logs.size
    if min(share, 1 - share) < LEVEL_SHARE:
        return None
    ratio = math.exp(float(np.median(slow) - np.median(fast)))
    if ratio < LEVEL_RATIO or persistence(pairs, cut) < LEVEL_PERSISTENCE:
        return None
    found = Levels(cut, ratio, share)
    if any(not 0 < s < 1 for s in found.shares(pairs).values()):
        return None  # one arm at one level throughout, the other at the other: a real difference, not levels
    return found


def persistence(pairs: Sequence[Unit], cut: float) -> float:
    """How much more often a worker's round is slow right after a slow round of its own than its arm's share
    of slow rounds says, as a fraction of the most it could be: (P(slow | slow before) - share) / (1 - share),
    each arm against its own share (so an arm slower throughout does not read as a level), the arms weighted
    by their rounds after a slow one. About 0 for spikes and for a drift both arms share (each round on its
    own), 1 for a worker that stays slow once slow; 0 where fewer than MIN_FOLLOWS rounds follow a slow one."""
    lifts, weights = [], []
    for arm in ("A", "B"):
        runs = [p.arm_logs(arm) >= cut for p in pairs]
        rounds = sum(r.size for r in runs)
        share = sum(float(r.sum()) for r in runs) / rounds if rounds else 0.0
        follows = sum(float(r[:-1].sum()) for r in runs)
        if follows == 0 or share >= 1:
            continue
        stays = sum(float((r[1:] & r[:-1]).sum()) for r in runs) / follows
        lifts.append((stays - share) / (1 - share))
        weights.append(follows)
    if sum(weights) < MIN_FOLLOWS:
        return 0.0
    return float(np.average(lifts, weights=weights))


def like_level(pairs: Sequence[Unit], levels: Levels) -> np.ndarray:
    """Per pair whose arms both have fast rounds: log(median of B's fast rounds / median of A's)."""
    out = []
    for p in pairs:
        a, b = p.arm_logs("A"), p.arm_logs("B")
        fa, fb = a[a < levels.cut], b[b < levels.cut]
        if fa.size and fb.size:
            out.append(float(np.median(fb) - np.median(fa)))
    return np.asarray(out)


def level_mix(pairs: Sequence[Unit], levels: Levels) -> np.ndarray:
    """Per pair with rounds in both arms: how much slower B's share of slow rounds makes its mean time than A's
    share makes A's, as a log ratio on the levels' pooled ratio."""
    out = []
    for p in pairs:
        a, b = p.arm_logs("A"), p.arm_logs("B")
        if a.size and b.size:
            sa, sb = float(np.mean(a >= levels.cut)), float(np.mean(b >= levels.cut))
            out.append(math.log1p(sb * (levels.ratio - 1)) - math.log1p(sa * (levels.ratio - 1)))
    return np.asarray(out)


def combine(like: Result, mix: Result) -> Result:
    """The verdict of a benchmark with levels from its two tests: `regressed` if either is, `improved` if either
    is and neither regressed, `unchanged` only if both are, else `inconclusive`; the figures those of the effect
    that decided (at like levels where both agree; the one that sees less where neither decides), and the
    reasons of both."""
    both = (like, mix)
    if any(r.verdict == "regressed" for r in both):
        main = next(r for r in both if r.verdict == "regressed")
    elif any(r.verdict == "improved" for r in both):
        main = next(r for r in both if r.verdict == "improved")
    elif all(r.verdict == "unchanged" for r in both):
        main = like
    else:
        main = max((r for r in both if r.verdict == "inconclusive"), key=lambda r: r.mde)
    like.reasons = [f"at like levels: {r}" for r in like.reasons]
    mix.reasons = [f"level mix: {r}" for r in mix.reasons]
    other = mix if main is like else like
    main.reasons = [*main.reasons, *other.reasons]
    if main.verdict == "unchanged":
        main.mde = max(like.mde, mix.mde)
    return main
