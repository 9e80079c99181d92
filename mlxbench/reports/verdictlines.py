"""The lines around a verdict table (mlxbench.reports.table) in pytest's terminal: the regression gate's closing
summary (`gate_summary`: the problem if it judged nothing, the counts, the table, what the saved runs cannot see,
the benchmarks not judged) and the one listing of benchmarks not judged that the gate's summary and the
session's "what changed" share (`unjudged_lines`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench.reports.plural import nouns
from mlxbench.reports.table import Table
from mlxbench.verdicts import verdict, words
from mlxbench.verdicts.gate import RegressionGate, coverage_line, nothing_judged, unseen, young

LISTED = 20  # benchmarks without a verdict named one by one in the gate's summary (the rest are counted)


def gate_summary(gate: RegressionGate, held: int | None = None) -> list[str]:
    """The session's closing summary of `gate`: the problem (if any), the counts, each verdict, the unjudged."""
    return summary_lines(gate.results, str(gate.baseline.path), gate.not_judged, held, gate.baseline.label)


def summary_lines(
    results: Sequence[verdict.Result],
    baseline: str,
    not_judged: Mapping[str, str] | None = None,
    held: int | None = None,
    baseline_label: str | None = None,
) -> list[str]:
    """The verdicts against `baseline`: the problem (if any), the counts, the verdict table
    (mlxbench.reports.table), the benchmarks not judged, named per reason."""
    lines = []
    if problem := nothing_judged(results, not_judged, held, baseline_label or baseline):
        lines.append(f"mlxbench: {'NOT GATED' if young(not_judged) else 'ERROR'}: {problem}")
    lines.append(
        f"mlxbench verdicts against {baseline_label or baseline}: "
        + words.counted(results)
        + f" ({coverage_line(results, not_judged, held)})"
    )
    lines += Table.of(results).terminal()
    if blind := unseen(results):
        lines.append(f"  {blind}")
    return lines + unjudged_lines(not_judged or {}, LISTED)


def unjudged_lines(not_judged: Mapping[str, str], listed: int = 0) -> list[str]:
    """The benchmarks not judged, one line per reason, the most common first ('  not judged (2 benchmarks):
    why'), each followed by its benchmarks' names, up to `listed` names in all (then '... and N more')."""
    by_reason: dict[str, list[str]] = {}
    for name, why in sorted(not_judged.items()):
        by_reason.setdefault(why, []).append(name)
    lines, named = [], 0
    for why, names in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"  not judged ({nouns(len(names), 'benchmark')}): {why}")
        shown = names[: max(listed - named, 0)]
        named += len(shown)
        lines += [f"    {name}" for name in shown]
        if listed and len(names) > len(shown):
            lines.append(f"    ... and {len(names) - len(shown)} more")
    return lines
