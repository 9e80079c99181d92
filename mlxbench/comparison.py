"""What `mlxbench compare` prints: per benchmark the medians before -> after, the verdict's interval,
test and method once, and what the in-pytest gate's re-measure found when the run recorded it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench import verdict
from mlxbench.gate import LISTED, METHODS, coverage_line, nothing_judged
from mlxbench.report import change_words, verdict_order
from mlxbench.runs import Run
from mlxbench.units import fmt_time

CHANGED = ("regressed", "improved")


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
    held = len(current.benchmarks)
    counts = {v: sum(r.verdict == v for r in results) for v in ("regressed", "improved", "unchanged", "inconclusive")}
    out = []
    if problem := nothing_judged(results, not_judged, held, baseline.label):
        out.append(f"mlxbench: ERROR: {problem}")
    out.append(
        f"mlxbench verdicts against {baseline.path}: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + f" ({coverage_line(results, not_judged, held)})"
    )
    shown = [r for r in results if not only_changed or r.verdict in CHANGED]
    width = max((len(r.name) for r in shown), default=10)
    for r in sorted(shown, key=verdict_order):
        out += result_lines(r, width, current)
    if only_changed:
        hidden = len(results) - len(shown)
        if hidden:
            out.append(f"  ({hidden} unchanged or inconclusive not shown: --only-changed)")
        return out
    unjudged = sorted(not_judged.items())
    for name, why in unjudged[:LISTED]:
        out.append(f"  {'not judged':<12} {name:<{width}}  {why}")
    if len(unjudged) > LISTED:
        out.append(f"  ... and {len(unjudged) - LISTED} more not judged")
    return out
