"""The regression gate inside pytest: judge each benchmark against the baseline as it finishes.

`--regression-gate` compares every benchmark with the baseline run that `--benchmark-compare`
loaded (the last saved run of this machine and profile unless told otherwise). A suspected
regression is measured again before it is called (as asv does); a confirmed one fails the test
with the numbers, and the session ends with a summary of every verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlxbench import verdict
from mlxbench.runs import Run

HISTORY = 10  # at most this many saved runs (ending with the baseline) size the run-to-run spread


@dataclass
class RegressionGate:
    baseline: Run
    threshold: float | None = None  # overrides every workload's own threshold
    # fullname -> per-round samples of each saved run of this profile, oldest first, up to the baseline
    history: dict[str, list[list[float]]] = field(default_factory=dict)
    results: list[verdict.Result] = field(default_factory=list)

    @classmethod
    def from_runs(cls, baseline: Run, earlier: Sequence[Run], threshold: float | None) -> RegressionGate:
        """The baseline, with the runs made before it (oldest first) of its profile as history."""
        history: dict[str, list[list[float]]] = {}
        for run in [*(r for r in earlier if r.profile == baseline.profile), baseline]:
            for name, b in run.benchmarks.items():
                history.setdefault(name, []).append(b["stats"].get("data") or [])
        return cls(baseline, threshold, history)

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
        if base is None:
            return None  # new benchmark: nothing to compare with
        base_samples = base["stats"].get("data") or []
        threshold = self.threshold if self.threshold is not None else (workload_threshold or verdict.DEFAULT_THRESHOLD)
        history = [r for r in self.history.get(fullname, []) if r][-HISTORY:]

        def judge_samples(current: Sequence[float]) -> verdict.Result:
            if len(history) >= 3:  # enough saved runs to know how much a whole run moves here
                return verdict.compare_to_history(fullname, history, current, threshold=threshold)
            return verdict.compare_samples(fullname, base_samples, current, threshold=threshold)

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
        res.accuracy = verdict.accuracy_regressions(base.get("extra_info") or {}, info)
        if res.accuracy:
            res.verdict = "regressed"
        self.results.append(res)
        return res


def judge_run(gate: RegressionGate, current: Run) -> list[verdict.Result]:
    """Verdicts for every benchmark `current` shares with the baseline (offline: nothing re-measured)."""
    for name, b in current.benchmarks.items():
        info = b.get("extra_info") or {}
        gate.judge(name, b["stats"].get("data") or [], info, info.get("regression_threshold"), None)
    return gate.results


def summary_lines(results: Sequence[verdict.Result], baseline: str) -> list[str]:
    counts = {v: sum(r.verdict == v for r in results) for v in ("regressed", "improved", "unchanged", "inconclusive")}
    lines = [f"mlxbench verdicts against {baseline}: " + ", ".join(f"{n} {v}" for v, n in counts.items())]
    width = max((len(r.name) for r in results), default=10)
    for r in sorted(results, key=lambda r: ("regressed", "improved", "inconclusive", "unchanged").index(r.verdict)):
        ci = f"[{r.ci_low:.3f}, {r.ci_high:.3f}]"
        lines.append(
            f"  {r.verdict:<12} {r.name:<{width}}  x{r.ratio:.3f} {ci:<16} p={r.p_value:.2g}  "
            f"threshold {r.threshold:.0%}"
            + "".join(f"\n      {why}" for why in (r.reasons if r.verdict in ("regressed", "improved") else []))
            + "".join(f"\n      accuracy: {a}" for a in r.accuracy)
        )
    return lines
