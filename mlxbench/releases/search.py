"""Bisect: the first bad release between a good and a bad one, each step an A/B against the good release.

The first A/B, BAD against GOOD, names what regressed (the benchmarks called `regressed`: the rest are
not followed). Then the range is halved: the release in the middle is A/B'd against GOOD on those
benchmarks; any of them regressed makes it bad (the first bad release is at or before it), none makes
it good (after it). That is at most ceil(log2(n - 1)) + 1 A/Bs for n releases. A step whose A/B
cannot decide (a benchmark inconclusive, none regressed) ends the search: the range still open is
named, with the budget that would likely decide it (what the A/B could see against the threshold:
the detectable effect shrinks as one over the square root of the pairs, so the budget grows with its
square).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Probe:
    """One A/B of the search: `candidate` against the good release, on `names`."""

    good: str
    candidate: str
    regressed: list[str]  # benchmarks called regressed
    inconclusive: list[str]
    sees: float  # the largest minimum detectable effect among `names`
    threshold: float
    minutes: float  # the A/B's wall time
    folder: str = ""

    @property
    def state(self) -> str:
        if self.regressed:
            return "bad"
        return "inconclusive" if self.inconclusive else "good"

    def budget_to_decide(self, budget: float) -> float:
        """Minutes of budget that would likely decide it: this budget x (sees / threshold)^2, at least double."""
        if not (self.sees == self.sees and self.threshold > 0):
            return 2 * budget
        return max(2.0, (self.sees / self.threshold) ** 2) * budget


@dataclass
class Outcome:
    releases: list[str]
    probes: list[Probe] = field(default_factory=list)
    first_bad: str | None = None
    followed: list[str] = field(default_factory=list)  # the benchmarks GOOD -> BAD regressed on
    open_range: tuple[str, str] | None = None  # (last known good, first known bad) when undecided
    why: str = ""


Judge = Callable[[str, str, Sequence[str] | None], Probe]


def bisect(releases: Sequence[str], judge: Judge, log: Callable[[str], None] = print) -> Outcome:
    """The first bad release of `releases` (oldest first: the first is good, the last bad), by A/Bs."""
    out = Outcome(list(releases))
    first = judge(releases[0], releases[-1], None)
    out.probes.append(first)
    log(line(1, first))
    if first.state != "bad":
        nothing = f"{releases[-1]} is not slower than {releases[0]} on any benchmark"
        out.why = nothing if first.state == "good" else "the A/B of BAD against GOOD was inconclusive"
        out.open_range = (releases[0], releases[-1]) if first.state == "inconclusive" else None
        return out
    out.followed = list(first.regressed)
    lo, hi = 0, len(releases) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        probe = judge(releases[0], releases[mid], out.followed)
        out.probes.append(probe)
        log(line(len(out.probes), probe))
        if probe.state == "bad":
            hi = mid
        elif probe.state == "good":
            lo = mid
        else:
            out.open_range = (releases[lo], releases[hi])
            out.why = (
                f"the A/B of {releases[mid]} against {releases[0]} was inconclusive on "
                f"{', '.join(short(n) for n in probe.inconclusive)} (it sees >= {probe.sees:.0%}, the threshold "
                f"is {probe.threshold:.0%})"
            )
            return out
    out.first_bad = releases[hi]
    return out


def bound(n: int) -> int:
    """The most A/Bs bisect makes over n releases."""
    return 1 + (math.ceil(math.log2(n - 1)) if n > 2 else 0)


def short(name: str) -> str:
    return name.rsplit("::", 1)[-1]


def line(number: int, p: Probe) -> str:
    what = {
        "bad": f"bad: regressed on {', '.join(short(n) for n in p.regressed)}",
        "good": "good: nothing it follows regressed",
        "inconclusive": f"inconclusive on {', '.join(short(n) for n in p.inconclusive)}",
    }[p.state]
    return f"mlxbench bisect: A/B {number}: {p.candidate} against {p.good}: {what} ({p.minutes:.1f} min)"
