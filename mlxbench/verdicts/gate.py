"""The regression gate inside pytest: judge each benchmark against the baseline as it finishes.

`--regression-gate` compares every benchmark with the baseline run that `--benchmark-compare`
loaded (the last saved run of this machine and profile unless told otherwise). A suspected
regression is measured again before it is called (as asv does); a confirmed one fails the test
with the numbers, and the session ends with a summary of every verdict.

A gate also says what it could not judge: `not_judged` names each benchmark that got no verdict and
why, `coverage(held)` says "judged J of N", and `problem(held)` is a message as loud as a failure
when it judged none at all (an empty baseline, a run with no usable times): a gate that checked
nothing must never read as a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlxbench.runs import Run
from mlxbench.timings import Timings
from mlxbench.verdicts import history as history_
from mlxbench.verdicts import verdict, words
from mlxbench.verdicts.prior import Prior

MIN_HISTORY = verdict.MIN_HISTORY


def rounds_only_reason(saved: int) -> str:
    return (
        f"rounds of one process only: a verdict needs {MIN_HISTORY} saved runs of this profile (there are {saved}) "
        "or an A/B run (mlxbench ab)"
    )


@dataclass
class RegressionGate:
    baseline: Run
    threshold: float | None = None  # overrides every workload's own threshold
    # fullname -> each saved run of this profile and its rounds, oldest first, up to the baseline (design `runs`)
    history: dict[str, Timings] = field(default_factory=dict)
    results: list[verdict.Result] = field(default_factory=list)
    not_judged: dict[str, str] = field(default_factory=dict)  # fullname -> why it got no verdict
    family: int = 1  # benchmarks this run judges together (Bonferroni): set once they are known
    prior: Prior = field(default_factory=Prior)  # the run-to-run spread the benchmarks' histories share
    calibrated: history_.Calibration = field(default_factory=history_.Calibration)  # saved runs against each other

    @classmethod
    def from_runs(cls, baseline: Run, earlier: Sequence[Run], threshold: float | None) -> RegressionGate:
        """The baseline, with the runs made before it (oldest first) of its profile as history, and the
        spread their histories share."""
        saved: dict[str, list[list[float]]] = {}
        for run in [*(r for r in earlier if r.profile == baseline.profile), baseline]:
            for name, b in run.benchmarks.items():
                saved.setdefault(name, []).append(b["stats"].get("data") or [])
        history = {name: Timings.runs(name, runs) for name, runs in saved.items()}
        prior, calibrated = history_.fit(history)
        return cls(baseline, threshold, history, prior=prior, calibrated=calibrated)

    def recent(self, fullname: str, current: Sequence[float] = ()) -> Timings:
        """The saved runs that judge `fullname` (its last HISTORY with times), with the current run's rounds."""
        saved = self.history.get(fullname) or Timings.runs(fullname, ())
        return history_.recent(saved.with_current(current))

    def judge(
        self,
        fullname: str,
        samples: Sequence[float],
        info: dict[str, Any],
        workload_threshold: float | None,
        remeasure: Callable[[], list[float]] | None,
        no_remeasure_note: str = "",
    ) -> verdict.Result | None:
        base = self.baseline.benchmarks.get(fullname)
        if base is None:  # a new benchmark: nothing to compare with
            empty = "" if self.baseline.benchmarks else ", which holds no benchmarks"
            self.not_judged[fullname] = f"not in the baseline {self.baseline.label}{empty}"
            return None
        if not verdict.usable(samples)[0].size:
            self.not_judged[fullname] = "had no usable per-round times in this run (none, NaN or negative)"
            return None
        base_samples = base["stats"].get("data") or []
        threshold = self.threshold if self.threshold is not None else (workload_threshold or verdict.DEFAULT_THRESHOLD)
        saved = len(self.recent(fullname).of_arm("A"))

        def judge_samples(current: Sequence[float]) -> verdict.Result:
            return history_.compare_to_history(
                self.recent(fullname, current),
                threshold=threshold,
                family=self.family,
                prior=self.prior,
                calibrated=self.calibrated,
            )

        accuracy = verdict.accuracy_regressions(base.get("extra_info") or {}, info)
        if saved < MIN_HISTORY:  # the rounds of one process give no verdict; a worse metric does
            if not accuracy:
                self.not_judged[fullname] = rounds_only_reason(saved)
                return None
            nan = float("nan")
            res = verdict.Result(fullname, "regressed", nan, nan, nan, nan, threshold, nan, nan, method="accuracy")
            res.reasons.append(rounds_only_reason(saved) + "; the accuracy got worse")
            res.accuracy = accuracy
            self.results.append(res)
            return res
        res = judge_samples(samples)
        if not base_samples:
            res.reasons.append(f"the baseline {self.baseline.label} has no per-round samples (saved without data)")
        if res.regressed:
            if remeasure is None:
                if no_remeasure_note:
                    res.reasons.append(no_remeasure_note)
            else:
                again = judge_samples(remeasure())
                res.reasons.append(f"re-measured: {again.verdict}, {again.reasons[0]}")
                if not again.regressed:
                    res.verdict = "inconclusive"
        res.accuracy = accuracy
        if res.accuracy:
            res.verdict = "regressed"
        self.results.append(res)
        return res

    @property
    def judged(self) -> int:
        """How many benchmarks got a verdict."""
        return len(self.results)

    def coverage(self, held: int | None = None) -> str:
        """'judged J of N benchmarks' and why the others were not; `held`: how many the run holds."""
        return coverage_line(self.results, self.not_judged, held)

    def problem(self, held: int | None = None) -> str | None:
        """None when the gate judged something; else why it judged nothing and what to do (report it
        as loudly as a failure)."""
        return nothing_judged(self.results, self.not_judged, held, self.baseline.label)


AB_COMMAND = "mlxbench ab -- benchmarks"  # what sees the threshold where a history cannot (docs/ab.md)


def unseen(results: Sequence[verdict.Result], profile: str | None = None) -> str | None:
    """One line where the saved runs cannot see the threshold (their smallest change seen is larger) for
    some benchmarks: how many, how much they see, and the command that can: an A/B. None where they can."""
    history = [r for r in results if r.method == "history"]
    blind = sorted(r.mde for r in history if r.mde > r.threshold)
    if not blind:
        return None
    threshold = max(r.threshold for r in history)
    runs = max(r.units[0] for r in history)
    middle = blind[len(blind) // 2]
    command = AB_COMMAND + (f" --profile {profile}" if profile else "")
    return (
        f"the saved runs (up to {runs}) cannot see a {threshold:.0%} change on {len(blind)} of {_count(len(history))} "
        f"(median sees {words.sees(middle)}): this machine's runs differ too much from one another to tell. An A/B "
        f"of the two versions, their processes alternating, can: `{command}`"
    )


def judge_run(gate: RegressionGate, current: Run) -> list[verdict.Result]:
    """Verdicts for every benchmark `current` shares with the baseline (offline: nothing re-measured)."""
    return judge_benchmarks(gate, current.benchmarks)


def judge_benchmarks(gate: RegressionGate, benchmarks: Mapping[str, Mapping[str, Any]]) -> list[verdict.Result]:
    """Verdicts for these benchmarks (name -> pytest-benchmark's entry) against the gate's baseline, judged as one
    family, offline: nothing re-measured, nothing failed (a saved run's, or a session's before it is saved)."""
    gate.family = max(len(benchmarks), 1)
    for name, b in benchmarks.items():
        info = b.get("extra_info") or {}
        gate.judge(name, b["stats"].get("data") or [], info, info.get("regression_threshold"), None)
    return gate.results


def _count(n: int) -> str:
    return f"{n} benchmark{'' if n == 1 else 's'}"


def _reasons(not_judged: Mapping[str, str], held: int | None, judged: int) -> list[str]:
    counts = Counter(not_judged.values())
    missing = (held - judged - len(not_judged)) if held is not None else 0
    parts = [f"{n} {why}" for why, n in counts.most_common()]
    if missing > 0:
        parts.append(f"{missing} never reached the gate (skipped, failed before timing, or not timed)")
    return parts


def coverage_line(
    results: Sequence[verdict.Result], not_judged: Mapping[str, str] | None = None, held: int | None = None
) -> str:
    if not_judged is None and held is None:  # the caller did not say what the run holds
        return f"judged {_count(len(results))}"
    not_judged = not_judged or {}
    total = max(held if held is not None else 0, len(results) + len(not_judged))
    line = f"judged {len(results)} of {_count(total)}"
    reasons = _reasons(not_judged, total, len(results))
    return line + (f"; not judged: {'; '.join(reasons)}" if reasons else "")


def young(not_judged: Mapping[str, str] | None) -> bool:
    """Whether every benchmark went unjudged only because the history is too short: expected for a
    machine's first runs, said loudly, and not a failure (or its runs could never become history)."""
    return bool(not_judged) and all(why.startswith("rounds of one process only") for why in not_judged.values())


def nothing_judged(
    results: Sequence[verdict.Result],
    not_judged: Mapping[str, str] | None = None,
    held: int | None = None,
    baseline: str = "the baseline",
) -> str | None:
    if results:
        return None
    known = held is not None or bool(not_judged)  # else: called without knowing what the run holds
    not_judged = not_judged or {}
    total = max(held if held is not None else 0, len(not_judged))
    reasons = _reasons(not_judged, total, 0)
    if not reasons:
        reasons = ["this run holds no benchmark: all deselected or skipped?" if known else "none got a verdict"]
    if young(not_judged):
        todo = (
            f"let this profile's saved runs reach {MIN_HISTORY} (each complete run with --benchmark-autosave adds "
            "one), or run an A/B (mlxbench ab)"
        )
    elif any(why.startswith("not in the baseline") for why in not_judged.values()):
        todo = (
            f"save a run of these benchmarks (--benchmark-autosave) or name a baseline that holds them "
            f"(--benchmark-compare=NNNN) instead of {baseline}"
        )
    else:
        todo = "run the benchmarks with timing on (no --benchmark-disable) so that each records its per-round times"
    what = f"none of the {_count(total)}" if known else "no benchmark"
    return f"the regression gate judged {what} ({'; '.join(reasons)}): nothing was checked. To gate: {todo}"
