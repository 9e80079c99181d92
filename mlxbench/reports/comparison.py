"""What `mlxbench compare` prints: every benchmark of both runs side by side (both medians, the ratio,
its verdict or why it has none), then per verdict the medians before -> after, the interval, test and
method once, and what the in-pytest gate's re-measure found when the run recorded it."""

from __future__ import annotations

import math
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


def median_of(run: Run, name: str) -> float:
    stats = (run.benchmarks.get(name) or {}).get("stats") or {}
    value = stats.get("median")
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else math.nan


def side_by_side(
    results: Sequence[verdict.Result], baseline: Run, current: Run, not_judged: Mapping[str, str],
    threshold: float | None = None, only_changed: bool = False,
) -> list[str]:  # fmt: skip
    """Every benchmark of both runs: both medians, the ratio current / baseline, and its verdict or why none
    (reasons numbered once below the table). With `only_changed`: judged benchmarks that regressed or
    improved, and unjudged ones whose medians moved by more than their threshold."""
    judged = {r.name: r for r in results}
    names = sorted(set(baseline.benchmarks) & set(current.benchmarks))
    short = {n: n.rsplit("::", 1)[-1] for n in names}
    if len(set(short.values())) < len(names):  # the same test name in two files: full names
        short = {n: n for n in names}
    reasons: list[str] = []
    rows = []
    for name in names:
        before, after = median_of(baseline, name), median_of(current, name)
        ratio = after / before if before == before and after == after else math.nan
        r = judged.get(name)
        limit = threshold if threshold is not None else (r.threshold if r else verdict.DEFAULT_THRESHOLD)
        if r is not None:
            shown = r.verdict
            moved = r.verdict in ("regressed", "improved")
        else:
            why = not_judged.get(name, "no usable per-round times")
            if why not in reasons:
                reasons.append(why)
            shown = f"not judged ({reasons.index(why) + 1})"
            moved = ratio == ratio and (ratio > 1 + limit or ratio < 1 / (1 + limit))
        if only_changed and not moved:
            continue
        rows.append((short[name], fmt_time(before), fmt_time(after), ratio, shown))
    width = max((len(r[0]) for r in rows), default=10)
    head = f"mlxbench compare: {len(names)} benchmarks in both runs, median per round, current / baseline"
    if only_changed:
        head += f"; {len(rows)} moved (--only-changed: regressed, improved, or unjudged past the threshold)"
    lines = [head, f"  {'benchmark':<{width}}  {'baseline':>10}  {'current':>10}  {'ratio':>8}  verdict"]
    for name, before, after, ratio, shown in rows:
        lines.append(f"  {name:<{width}}  {before:>10}  {after:>10}  {f'x{ratio:.3f}':>8}  {shown}")
    lines += [f"  ({k}) {why}" for k, why in enumerate(reasons, 1)]
    return lines
