"""The one verdict table: what every path says of its benchmarks (the closing summary of
`--regression-gate` and of `--benchmark-compare`, `mlxbench compare`, `mlxbench ab` and `ab merge`, the
reports of saved runs and of A/B runs) is rows of this model, in VERDICT_ORDER, rendered by it for the
terminal (`terminal`, within 120 columns), for the reports' Markdown and HTML tables (`head`, `cells`)
and for JSON (`as_json`), so that no two outputs can drift apart.

A row is one benchmark of both sides: both medians, the ratio after / before with its interval, the
smallest change its evidence sees (at 95% power), and its verdict, or `not judged` and why (on the
terminal the reasons are numbered once below the table). Notes (why a verdict moved, a worse accuracy,
what the in-pytest gate said) go under the row on the terminal and into the last column elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlxbench.runs import CURRENT_TEST
from mlxbench.units import WIDTH, fmt_time
from mlxbench.verdicts.verdict import DEFAULT_THRESHOLD, Result
from mlxbench.verdicts.words import MOVED, VERDICT_ORDER, counts, interval, sees

NOT_JUDGED = "not judged"
ORDER = (*VERDICT_ORDER, NOT_JUDGED)  # rows sort by this, then by name
METHODS = {"history": "saved runs, one process each", "accuracy": "accuracy metric"}  # the others say themselves
NAN = math.nan


@dataclass
class Row:
    name: str  # the benchmark's full name
    verdict: str  # one of VERDICT_ORDER, or NOT_JUDGED
    before: float = NAN  # seconds: the baseline's median (arm A's)
    after: float = NAN  # seconds: the current run's median (arm B's)
    ratio: float = NAN  # after / before (> 1: slower)
    low: float = NAN  # the ratio's interval, when there is one
    high: float = NAN
    mde: float = NAN  # the smallest change (fraction) the evidence sees
    method: str = ""  # the evidence: "history", "accuracy", or the A/B's own words (METHODS words the keys)
    threshold: float = NAN
    why: str = ""  # NOT_JUDGED: the reason
    notes: list[str] = field(default_factory=list)  # under the row (terminal), in the notes column (documents)
    extra: list[str] = field(default_factory=list)  # cells of the table's extra columns (documents only)

    @property
    def judged(self) -> bool:
        return self.verdict != NOT_JUDGED

    def moved(self, threshold: float | None = None) -> bool:
        """Regressed or improved; unjudged, its medians apart by more than the threshold."""
        if self.judged:
            return self.verdict in MOVED
        if threshold is None:
            threshold = self.threshold if self.threshold == self.threshold else DEFAULT_THRESHOLD
        return self.ratio == self.ratio and (self.ratio > 1 + threshold or self.ratio < 1 / (1 + threshold))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        return out


def default_notes(r: Result) -> list[str]:
    """What the row's figures do not say: every reason of a verdict that moved, or the one that says why
    there is no estimate; of an inconclusive one, its cause (the first reason states the interval the row
    shows, then, after its last ': ', why it decides nothing) and the later reasons; of an unchanged one,
    the later reasons only; every accuracy regression."""
    reasons = list(r.reasons)
    no_estimate = not math.isfinite(r.ratio) and r.method != "accuracy"
    verdict = r.verdict
    if verdict not in MOVED and not no_estimate and reasons:
        cause = reasons[0].rpartition(": ")[2] if verdict == "inconclusive" and ": " in reasons[0] else ""
        reasons = [cause, *reasons[1:]] if cause else reasons[1:]
    return reasons + [f"accuracy: {a}" for a in r.accuracy]


def rank(r: Row) -> int:
    """A row's place in the verdict order (ORDER); a verdict outside it goes last."""
    return ORDER.index(r.verdict) if r.verdict in ORDER else len(ORDER)


def ratio_text(r: Row) -> str:
    """'x1.046 [0.650, 1.683]', 'x1.046' without an interval, 'n/a' without a finite ratio."""
    if not math.isfinite(r.ratio):
        return "n/a"
    return interval(r.ratio, r.low, r.high)


def sees_text(r: Row, none: str) -> str:
    """'>=12%', or `none` where the evidence sees no finite change (no estimate, or none at all)."""
    return sees(r.mde) if math.isfinite(r.mde) else none


@dataclass
class Table:
    rows: list[Row]
    arms: tuple[str, str] = ("baseline", "current")  # what the two medians are
    extra_head: list[str] = field(default_factory=list)  # the documents' extra columns (Row.extra)

    @classmethod
    def of(
        cls,
        results: Iterable[Result],
        not_judged: Mapping[str, str] | None = None,
        medians: Callable[[str], tuple[float, float]] | None = None,
        *,
        arms: tuple[str, str] = ("baseline", "current"),
        notes: Callable[[Result], list[str]] = default_notes,
        thresholds: Mapping[str, float] | None = None,
    ) -> Table:
        """Rows of verdicts (`Result`s; a saved one is read back by `Result.from_dict`) and of the benchmarks
        `not_judged` (name -> why); `medians(name)` gives (before, after) where a verdict has none and for the
        unjudged."""
        rows = []
        for r in results:
            before, after = r.baseline_median, r.current_median
            if medians is not None and not (before == before and after == after):
                before, after = medians(r.name)
            ratio = r.ratio
            if ratio != ratio and before > 0 and after == after:
                ratio = after / before
            row = Row(
                r.name,
                r.verdict,
                before,
                after,
                ratio,
                r.ci_low,
                r.ci_high,
                r.mde,
                r.method,
                r.threshold,
                notes=notes(r),
            )
            rows.append(row)
        for name, why in (not_judged or {}).items():
            before, after = medians(name) if medians is not None else (NAN, NAN)
            ratio = after / before if before > 0 and after == after else NAN
            limit = (thresholds or {}).get(name, NAN)
            rows.append(Row(name, NOT_JUDGED, before, after, ratio, threshold=limit, why=why))
        rows.sort(key=lambda row: (rank(row), row.name.rsplit("::", 1)[-1], row.name))  # by the name shown
        return cls(rows, arms)

    def shown(self, only_changed: bool = False, threshold: float | None = None) -> list[Row]:
        return [r for r in self.rows if not only_changed or r.moved(threshold)]

    def reasons(self, rows: Sequence[Row] | None = None) -> list[str]:
        """The reasons of the unjudged rows, each once, in the order they first appear."""
        return list(dict.fromkeys(r.why for r in (self.rows if rows is None else rows) if not r.judged))

    def names(self, rows: Sequence[Row]) -> dict[str, str]:
        """Short names: the test id without its file (the suite's own `test_workload[...]`: its parameters
        alone, which name the workload, backend, profile and variant); full names where short ones collide."""
        short = {}
        for r in rows:
            test = r.name.rsplit("::", 1)[-1]
            own = r.name.startswith(CURRENT_TEST) and test.endswith("]")
            short[r.name] = test[len(CURRENT_TEST.rsplit("::", 1)[-1]) : -1] if own else test
        if len(set(short.values())) < len(short):
            short = {r.name: r.name for r in rows}
        return short

    def verdict_cell(self, row: Row, reasons: Sequence[str]) -> str:
        return row.verdict if row.judged else f"{NOT_JUDGED} ({reasons.index(row.why) + 1})"

    def terminal(
        self,
        *,
        only_changed: bool = False,
        threshold: float | None = None,
        limit: int | None = None,
        indent: str = "  ",
        width: int = WIDTH,
        label: Callable[[str], str] | None = None,
    ) -> list[str]:
        """The table on a terminal: a header, one line per row (its name on a line of its own when a row would
        pass `width`), each row's notes under it, then the numbered reasons of the unjudged. `limit`: at most
        this many rows, the largest changes of each verdict first, then how many more."""
        rows = self.shown(only_changed, threshold)
        if limit is not None:
            rows.sort(key=lambda r: (rank(r), -abs(math.log(r.ratio)) if math.isfinite(r.ratio) and r.ratio > 0 else 0))
        more = len(rows) - limit if limit is not None and len(rows) > limit else 0
        rows = rows[: len(rows) - more]
        if not rows:
            return []
        reasons = self.reasons(rows)
        names = {r.name: label(r.name) for r in rows} if label else self.names(rows)
        cells = [
            (
                self.verdict_cell(r, reasons),
                names[r.name],
                fmt_time(r.before),
                fmt_time(r.after),
                ratio_text(r),
                sees_text(r, ""),
            )
            for r in rows
        ]
        head = ("verdict", "benchmark", f"{self.arms[0]} median", f"{self.arms[1]} median", "ratio [interval]", "sees")
        w = [max(len(c[i]) for c in [head, *cells]) for i in range(6)]

        def line(c: Sequence[str], name_apart: bool) -> str:
            figures = f"{c[2]:>{w[2]}}  {c[3]:>{w[3]}}  {c[4]:<{w[4]}}  {c[5]}".rstrip()
            name = "" if name_apart else f"{c[1]:<{w[1]}}  "
            return f"{indent}{c[0]:<{w[0]}}  {name}{figures}"

        apart = max(len(line(c, False)) for c in [head, *cells]) > width  # then each name on a line of its own
        out = [line(head, apart)]
        for row, c in zip(rows, cells, strict=True):
            if apart:
                out.append(f"{indent}{c[1]}")
            out.append(line(c, apart))
            out += [f"{indent}    {n}" for n in row.notes]
        if more:
            out.append(f"{indent}... and {more} more")
        out += [f"{indent}({k}) {why}" for k, why in enumerate(reasons, 1)]
        return out

    def head(self) -> list[str]:
        """The documents' column names."""
        return [
            "verdict",
            "benchmark",
            f"{self.arms[0]} median",
            f"{self.arms[1]} median",
            "ratio [interval]",
            "sees",
            "evidence",
            *self.extra_head,
            "notes",
        ]

    def cells(self, label: Callable[[str], str] | None = None, only_changed: bool = False) -> list[list[str]]:
        """The documents' rows (Markdown, HTML): the same values as the terminal's; an unjudged row's reason
        numbered as on the terminal (`footnotes` lists them), notes in the last column."""
        rows = self.shown(only_changed)
        reasons = self.reasons(rows)
        names = {r.name: label(r.name) for r in rows} if label else self.names(rows)
        out = []
        for r in rows:
            notes = [*r.notes, *([f"threshold {r.threshold:.0%}"] if r.judged and r.threshold == r.threshold else [])]
            out.append(
                [
                    self.verdict_cell(r, reasons),
                    names[r.name],
                    fmt_time(r.before),
                    fmt_time(r.after),
                    ratio_text(r),
                    sees_text(r, "—"),
                    METHODS.get(r.method, r.method) or "—",
                    *r.extra,
                    "; ".join(notes),
                ]
            )
        return out

    def footnotes(self, only_changed: bool = False) -> list[str]:
        """'(1) why': the reasons of the unjudged rows `cells` numbers, for below a document's table."""
        return [f"({k}) {why}" for k, why in enumerate(self.reasons(self.shown(only_changed)), 1)]

    def as_json(self) -> dict[str, Any]:
        return {"arms": list(self.arms), "counts": counts(self.rows, ORDER), "rows": [r.as_dict() for r in self.rows]}
