"""What `mlxbench compare` prints: per benchmark the medians before -> after, the verdict's interval,
test and method once, and what the in-pytest gate's re-measure found when the run recorded it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench.reports.report import change_words
from mlxbench.runs import Run
from mlxbench.units import fmt_time
from mlxbench.verdicts import verdict
from mlxbench.verdicts.gate import METHODS, summary_lines


def recorded(run: Run, name: str) -> list[str]:
    """What the gate inside pytest said when `run` was measured (extra_info["verdict"]), re-measure included."""
    saved = ((run.benchmarks.get(name) or {}).get("extra_info") or {}).get("verdict")
    if not isinstance(saved, dict) or "verdict" not in saved:
        return []
    out = [f"in-pytest gate at run time: {saved['verdict']} against its own baseline"]
    out += [str(r) for r in saved.get("reasons") or [] if str(r).startswith("re-measured")]
    return out


def result_lines(r: verdict.Result, width: int, current: Run) -> list[str]:
    said = any("sees changes" in why for why in r.reasons)  # the history test's reason says it already
    sees = f", sees changes >= {r.mde:.0%}" if r.mde == r.mde and not said else ""
    head = (
        f"  {r.verdict:<12} {r.name:<{width}}  {fmt_time(r.baseline_median)} -> {fmt_time(r.current_median)} "
        f"({change_words(r.ratio)})  [{METHODS.get(r.method, r.method)}{sees}]"
    )
    lines = [head]
    lines += [f"      {why}" for why in r.reasons]  # the first reason holds the interval and the test: said once
    lines += [f"      accuracy: {a}" for a in r.accuracy]
    lines += [f"      {x}" for x in recorded(current, r.name)]
    return lines


def lines(
    results: Sequence[verdict.Result],
    baseline: Run,
    current: Run,
    not_judged: Mapping[str, str],
    only_changed: bool = False,
) -> list[str]:
    """The verdicts as `mlxbench compare` prints them; a gate that judged nothing is the caller's error."""
    return summary_lines(
        results, str(baseline.path), not_judged, len(current.benchmarks), baseline.label,
        result_lines=lambda r, width: result_lines(r, width, current), only_changed=only_changed,
        with_problem=False,
    )  # fmt: skip
