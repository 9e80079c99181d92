"""What `mlxbench compare` prints: every benchmark of the current run in the verdict table
(mlxbench.reports.table): both medians, the ratio current / baseline with its interval, its verdict or
why it has none; under a verdict that moved, why; under an inconclusive one, its cause; under every judged
row, what the in-pytest gate said (re-measure included) when the run recorded it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench.reports.table import Table, default_notes
from mlxbench.runs import Run
from mlxbench.verdicts import verdict, words
from mlxbench.verdicts.gate import unseen


def recorded(run: Run, name: str) -> list[str]:
    """What the gate inside pytest said when `run` was measured (extra_info["verdict"]), re-measure included."""
    saved = ((run.benchmarks.get(name) or {}).get("extra_info") or {}).get("verdict")
    if not isinstance(saved, dict) or "verdict" not in saved:
        return []
    out = [f"in-pytest gate at run time: {saved['verdict']} against its own baseline"]
    out += [str(r) for r in saved.get("reasons") or [] if str(r).startswith("re-measured")]
    return out


def table(results: Sequence[verdict.Result], baseline: Run, current: Run, not_judged: Mapping[str, str]) -> Table:
    """Every benchmark of `current` (those the baseline lacks say so) as one verdict table."""
    thresholds = {
        name: float(t)
        for name, b in current.benchmarks.items()
        if isinstance(t := (b.get("extra_info") or {}).get("regression_threshold"), (int, float))
    }
    return Table.of(
        results,
        not_judged,
        lambda name: (baseline.median(name), current.median(name)),
        notes=lambda r: default_notes(r) + recorded(current, r.name),
        thresholds=thresholds,
    )


def lines(
    results: Sequence[verdict.Result],
    baseline: Run,
    current: Run,
    not_judged: Mapping[str, str],
    threshold: float | None = None,
    only_changed: bool = False,
) -> list[str]:
    """The counts and the evidence, then the table; with `only_changed`, only the rows that moved: verdicts
    regressed or improved, and unjudged benchmarks whose medians are apart by more than the threshold."""
    held = len(current.benchmarks)
    n = f"{held} benchmark{'' if held == 1 else 's'}"
    t = table(results, baseline, current, not_judged)
    body = t.terminal(only_changed=only_changed, threshold=threshold)
    shown = t.shown(only_changed, threshold)
    listed = any(not r.judged for r in shown)
    judged = f"judged {len(results)} of {n}" + ("; the others' reasons below" if listed else "")
    head = [
        f"mlxbench compare: {current.label} against {baseline.label}: {n}, median per round",
        f"  {words.counted(results)} ({judged})",
    ]
    if any(r.method == "history" for r in results):
        head.append(
            f"  evidence: {baseline.label} and the saved runs before it, one process each: the current median "
            f"against the geometric mean of their medians (a judged row's baseline median) and their spread; "
            f"intervals at alpha {verdict.ALPHA:g} over {n}"
        )
    if only_changed:
        moved = len(shown)
        head.append(
            f"  --only-changed: {moved} of {len(t.rows)} moved (regressed, improved, or unjudged past the "
            "threshold)" + ("" if moved else "; nothing else to show")
        )
    blind = unseen(results, current.profile)
    return head + body + ([f"  {blind}"] if blind else [])
