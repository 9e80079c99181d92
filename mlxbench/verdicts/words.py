"""The words of verdicts, apart from their statistics: the verdicts, their order and counts, and how a ratio,
its interval and the smallest change seen are written in every table and line. Standard library only, so a
report, a table or a CLI message can speak of verdicts without loading SciPy (mlxbench.verdicts.verdict
computes them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Verdict = Literal["regressed", "improved", "unchanged", "inconclusive"]
VERDICT_ORDER = ("regressed", "improved", "inconclusive", "unchanged")  # how every listing sorts and counts them
MOVED = ("regressed", "improved")  # the verdicts that say something changed


def counts(verdicts: Sequence[Any], order: Sequence[str] = VERDICT_ORDER) -> dict[str, int]:
    """How many of each verdict (Results, table rows, dicts with a "verdict" or the verdicts themselves), in
    `order` (VERDICT_ORDER; a table's order adds its unjudged rows)."""
    names = [v if isinstance(v, str) else v["verdict"] if isinstance(v, Mapping) else v.verdict for v in verdicts]
    return {v: names.count(v) for v in order}


def counted(verdicts: Sequence[Any]) -> str:
    """ "1 regressed, 0 improved, 2 inconclusive, 5 unchanged": the one way every output counts verdicts."""
    return ", ".join(f"{n} {v}" for v, n in counts(verdicts).items())


RATIO_SHOWN = 100.0  # ratios past x100 (or under x0.01) show as ">100" ("<0.01"): never 20-digit numbers
SEES_SHOWN = 10.0  # a smallest change seen past 1000% shows as ">1000%"


def ratio_text(value: float) -> str:
    """ "1.046", or ">100" / "<0.01" past what any reader needs (a history of 3 runs at alpha / 67)."""
    if value > RATIO_SHOWN:
        return f">{RATIO_SHOWN:g}"
    if value < 1 / RATIO_SHOWN:
        return f"<{1 / RATIO_SHOWN:g}"
    return f"{value:.3f}"


def interval(ratio: float, low: float, high: float) -> str:
    """ "x1.046 [0.650, 1.683]": a ratio and its interval, the same in every table and line, each number
    within 7 characters ("x0.558 [<0.01, >100]")."""
    if not (low == low and high == high):
        return f"x{ratio_text(ratio)}"
    return f"x{ratio_text(ratio)} [{ratio_text(low)}, {ratio_text(high)}]"


def change(fraction: float, digits: int = 0) -> str:
    """ "12%", or ">1000%" past SEES_SHOWN: a change as every line prints it."""
    return f">{SEES_SHOWN:.0%}" if fraction > SEES_SHOWN else f"{fraction:.{digits}%}"


def sees(mde: float | None) -> str:
    """ ">=12%": the smallest change the evidence detects (">1000%" past SEES_SHOWN), or "" when it is not
    known."""
    if not (isinstance(mde, (int, float)) and mde == mde):
        return ""
    return change(mde) if mde > SEES_SHOWN else f">={change(mde)}"
