"""Verdicts from a machine's saved runs: the current run's median against the run-to-run spread they show.

On a shared machine a whole run shifts (other tenants, frequency, memory placement) by more than the rounds
inside one run vary, so each saved run's median is one draw of the machine. With K >= MIN_HISTORY saved runs,
the current run's log median is compared with the mean of theirs, with the standard error of a new draw (a t
prediction: spread x sqrt(1 + 1/K), K - 1 degrees of freedom; the spread floored by the current median's own
sampling error), through the one interval rule at level alpha / m (mlxbench.verdicts.verdict).

Two things make few runs usable and keep the bound:

- **A shared spread** (`shared_spread`, mlxbench.verdicts.prior). The benchmarks of one machine share its
  scale of noise: each benchmark's variance is moderated toward the prior their histories fit, gaining its
  degrees of freedom, never lowered below its own. Three runs alone give 2 degrees of freedom, and a t
  interval on 2 at alpha / 67 is about 40 spreads wide.
- **The saved runs' own calibration** (`calibration`). A t interval assumes log medians that scatter
  normally. On some machines a process lands in one of two states (a 2-core Xeon VM: runs of one benchmark
  x1.5-1.9 apart, unchanged code), so one run off its benchmark's others is far more common than the t tails
  say, and a history of runs all in one state calls the next run in the other state a regression. Each saved
  run is judged against the others of its benchmark as the current run would be (leave one out, moderated
  alike), and the farthest of them sets a floor for the critical value: no change smaller than what unchanged
  runs have shown is called. Where the runs scatter as the model says, the largest of N such statistics sits
  near the 1 - 1/N quantile, below the t quantile at alpha / m, and nothing changes; where they land in states,
  the intervals widen and the smallest change seen says so. A statistic on fewer than CALIBRATION_DF degrees of
  freedom (two runs, no prior: a t on 1 is a Cauchy, its size mostly the noise of its own spread) counts by
  its tail probability instead: the floor it sets is the current test's quantile of that p, where that p is
  below the test's level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlxbench.timings import Timings
from mlxbench.verdicts import distributions as dist
from mlxbench.verdicts.prior import Prior, squeeze
from mlxbench.verdicts.verdict import ALPHA, DEFAULT_THRESHOLD, MIN_HISTORY, Result, interval_verdict, usable
from mlxbench.verdicts.words import interval, sees

HISTORY = 10  # at most this many saved runs (ending with the baseline) size the run-to-run spread
CALIBRATION_DF = 2  # a leave-one-out statistic on fewer degrees of freedom counts by its p, not its size
SMALLEST = 1e-6  # a spread below this (identical medians) is taken as this: no division by zero


def recent(history: Timings) -> Timings:
    """The saved runs that judge a benchmark (its last HISTORY with times), and the current run."""
    saved = history.of_arm("A")[-HISTORY:]
    return Timings(history.name, "runs", (*saved, *history.of_arm("B")))


def log_medians(history: Timings) -> np.ndarray:
    """The log median of each saved run (arm A's units) with usable times."""
    return np.log(history.medians("A"))


@dataclass
class Spread:
    """A benchmark's run-to-run spread as judged: its own, and moderated by the prior (variance, df)."""

    own: float
    variance: float
    df: float

    @classmethod
    def of(cls, logs: np.ndarray, prior: Prior) -> Spread:
        own = float(logs.std(ddof=1))
        variance, df = prior.moderate_up(own**2, logs.size - 1.0)
        return cls(own, variance, df)

    def prediction_se(self, runs: int, own_se: float = 0.0) -> float:
        """Standard error of a new run's log median against the mean of `runs` saved runs."""
        return max(math.sqrt(self.variance), own_se, SMALLEST) * math.sqrt(1 + 1 / runs)


def fit(history: Mapping[str, Timings]) -> tuple[Prior, Calibration]:
    """The spread the benchmarks' histories share and how far their saved runs lie from each other, from each
    benchmark's log medians of the saved runs that judge it (read once for both)."""
    logs = [log_medians(recent(runs)) for runs in history.values()]
    prior = shared_spread(logs)
    return prior, calibration(logs, prior)


def shared_spread(logs: Sequence[np.ndarray]) -> Prior:
    """The prior of the run-to-run variances of the benchmarks' log medians (one array per benchmark)."""
    kept = [x for x in logs if x.size >= 2]
    return squeeze([float(x.var(ddof=1)) for x in kept], [x.size - 1.0 for x in kept])


@dataclass
class Calibration:
    """How far the saved runs lie from their benchmarks' others, unchanged: the largest leave-one-out statistic
    on CALIBRATION_DF degrees of freedom or more, and the smallest p of those on fewer."""

    farthest: float = 0.0
    surprise: float = 1.0

    def floor(self, level: float, df: float) -> float:
        """The critical value's floor for a test at `level` on `df` degrees of freedom (0: none)."""
        by_p = dist.t_isf(self.surprise / 2, df) if self.surprise < level else 0.0
        return max(self.farthest, by_p)


def calibration(logs: Sequence[np.ndarray], prior: Prior) -> Calibration:
    """Each saved run judged against the others of its benchmark (leave one out, moderated as the current run
    is), over every benchmark with MIN_HISTORY runs or more."""
    found = Calibration()
    for runs in logs:
        for i in range(runs.size if runs.size >= MIN_HISTORY else 0):
            rest = np.delete(runs, i)
            spread = Spread.of(rest, prior)
            t = abs(float(runs[i] - rest.mean())) / spread.prediction_se(rest.size)
            if spread.df >= CALIBRATION_DF:
                found.farthest = max(found.farthest, t)
            else:
                found.surprise = min(found.surprise, 2 * dist.t_sf(t, spread.df))
    return found


def compare_to_history(
    timings: Timings,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = ALPHA,
    family: int = 1,
    prior: Prior | None = None,
    calibrated: Calibration | None = None,
) -> Result:
    """Judge the current run's rounds (arm B of `timings`, design `runs`) against its saved runs' (arm A, oldest
    first) at level alpha / `family`, the spread moderated by `prior`, the critical value at least what the saved
    runs have shown among themselves (`calibrated`, see `calibration`)."""
    name = timings.name
    logs = log_medians(timings)
    c, _ = usable(timings.times("B"), positive=True)
    k = logs.size
    if k < MIN_HISTORY or not c.size:
        why = f"need >= {MIN_HISTORY} saved runs with times and times in this run (saved {k}, this run {c.size})"
        nan = math.nan
        return Result(name, "inconclusive", nan, nan, nan, nan, threshold, nan, nan, [why], method="history")
    prior = prior or Prior()
    spread = Spread.of(logs, prior)
    own = float(np.std(np.log(c), ddof=1) / np.sqrt(c.size)) * 1.2533 if c.size > 1 else 0.0  # se of a median
    d = float(np.log(np.median(c)) - logs.mean())
    level = alpha / max(family, 1)
    floor = (calibrated or Calibration()).floor(level, spread.df)
    verdict, f, why = interval_verdict(d, spread.prediction_se(k, own), spread.df, level, threshold, floor)
    return Result.judged(
        name,
        verdict,
        f,
        threshold,
        math.exp(float(logs.mean())),
        float(np.median(c)),
        reasons=[reason(f, k, level, alpha, family, spread, prior, floor, why)],
        method="history",
        units=(k, 1),
        spread=math.sqrt(spread.variance),
    )


def reason(
    f: Mapping[str, float],
    k: int,
    level: float,
    alpha: float,
    family: int,
    spread: Spread,
    prior: Prior,
    floor: float,
    why: str,
) -> str:
    """The verdict's reason line: the interval, the spread and where it came from, what it sees, why."""
    moderated = (
        f", moderated to {math.sqrt(spread.variance):.1%} on {spread.df:.1f} degrees of freedom by the spread "
        f"{math.sqrt(prior.variance):.1%} that {prior.benchmarks} benchmarks' histories share"
        if spread.df > k - 1
        else ""
    )
    calibrated = (
        f"; the interval widened to {floor:.1f} standard errors: a saved run lies as far from the others of its "
        "benchmark, unchanged (this machine's processes land in states apart)"
        if floor > dist.t_isf(level / 2, spread.df)
        else ""
    )
    return (
        f"median {interval(f['ratio'], f['ci_low'], f['ci_high'])} of the geometric mean of {k} saved runs "
        f"(prediction interval at {1 - level:.2%}: alpha {alpha:g} over {family} benchmark{'s' * (family != 1)}; "
        f"run-to-run spread {spread.own:.1%}{moderated}{calibrated}), sees changes {sees(f['mde'])}: {why}"
    )
