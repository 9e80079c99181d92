"""What a report of one machine's runs says: its document (mlxbench.reports.document), built once from
the model (mlxbench.reports.report) and rendered by every format (`markdown`, `html_page`).

Top first: notes, the machine and the verdicts in one line, the regressions and improvements, change
points; per workload the fastest backend, its variants x backends matrix, the cadence table, plots;
the size sweep; the verdict table; the machine's facts.
"""

from __future__ import annotations

from collections import defaultdict

from mlxbench.reports import cadence
from mlxbench.reports.document import CellLines, Document, Gallery, Heading, Image, Items, Paragraph, Table
from mlxbench.reports.document import html as html_of
from mlxbench.reports.document import markdown as markdown_of
from mlxbench.reports.plural import nouns
from mlxbench.reports.report import (
    Cell,
    Report,
    change_words,
    image_name,
    machine_rows,
    memory_words,
    speed_words,
)
from mlxbench.reports.table import METHODS
from mlxbench.units import fmt_time
from mlxbench.verdicts import verdict, words

FASTEST = "★ fastest"


def grid(rep: Report) -> dict[str, tuple[list[str], list[str], dict[tuple[str, str], Cell]]]:
    """workload -> (variants, backends, {(variant, backend): cell}) in the run's own order."""
    by: dict[str, dict] = defaultdict(lambda: {"v": [], "b": [], "cells": {}})
    for c in rep.cells:
        g = by[c.workload]
        if c.variant not in g["v"]:
            g["v"].append(c.variant)
        if c.backend not in g["b"]:
            g["b"].append(c.backend)
        g["cells"][(c.variant, c.backend)] = c
    return {w: (g["v"], g["b"], g["cells"]) for w, g in by.items()}


def fastest_line(cells: dict[tuple[str, str], Cell], variants: list[str]) -> str:
    """'Fastest: numpy (3 of 4 variants), mlx-cpu (1 of 4)'."""
    wins: dict[str, int] = defaultdict(int)
    for c in cells.values():
        if c.fastest:
            wins[c.backend] += 1
    if not wins:
        return ""
    ranked = sorted(wins.items(), key=lambda kv: -kv[1])
    n = len(variants)
    parts = [f"{b} ({k} of {nouns(n, 'variant')})" for b, k in ranked]
    return "Fastest: " + ", ".join(parts)


def cell_lines(c: Cell, reference: str) -> list[str]:
    """The first line is the median with its interval; the rest are small print."""
    lines = [f"{fmt_time(c.median)} [{fmt_time(c.ci[0])}, {fmt_time(c.ci[1])}]"]
    if c.fastest:
        lines.append(FASTEST)
    if c.backend != reference and (words := speed_words(c.speedup, reference)):
        lines.append(words)
    if c.rate:
        lines.append(c.rate)
    if c.label:
        lines.append(c.label)
    if c.memory:
        lines.append(memory_words(c.memory))
    if c.accuracy:
        mark = "" if c.gates_passed is None else (" ✓" if c.gates_passed else " ✗ gate failed")
        lines.append(c.accuracy + mark)
    return lines


def method_words(v: verdict.Result) -> str:
    return METHODS.get(v.method, v.method)


def no_verdicts(rep: Report) -> str:
    """Why the verdict table is empty."""
    if rep.not_judged:
        reasons = sorted(set(rep.not_judged.values()))
        return f"No verdicts: {nouns(len(rep.not_judged), 'benchmark')} not judged ({'; '.join(reasons)})."
    return "No baseline with benchmarks in common."


def summary(rep: Report) -> tuple[str, list[str]]:
    """('2 regressed, 1 improved, ...', the regressions then the improvements, one line each)."""
    counts = words.counted(rep.verdicts)
    if rep.baseline is None and len(rep.runs) > 1:
        k = len(rep.runs) - 1
        earlier = "the earlier run was not" if k == 1 else f"none of the {k} earlier runs was"
        return f"no verdicts: {earlier} made by this run's host", []
    if rep.baseline is None:
        return "no verdicts: a single run (name two or more, or --baseline)", []
    reasons: dict[str, int] = {}
    for why in rep.not_judged.values():
        reasons[why] = reasons.get(why, 0) + 1
    unjudged = "; ".join(f"{n} not judged: {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    if not rep.verdicts:
        return f"none against {rep.baseline}: {unjudged or 'no benchmark in common with this run'}", []
    head = f"{counts} against {rep.baseline}" + (f" ({unjudged})" if unjudged else "")
    items = [
        f"{v.verdict}: {rep.short(v.name)}: {fmt_time(v.baseline_median)} → {fmt_time(v.current_median)} "
        f"({change_words(v.ratio)}; {method_words(v)})"
        for v in rep.sorted_verdicts()
        if v.verdict in words.MOVED
    ]
    return head, items


CADENCE_HEAD = ["backend", "mode", "forced every step", "forced once at the end", "price of forcing"]


def cadence_tables(rep: Report) -> dict[str, list[list[str]]]:
    """workload -> rows of the cadence table (time per step at each cadence, and their ratio)."""
    out: dict[str, list[list[str]]] = defaultdict(list)
    for row in cadence.rows(rep):
        unit = row.unit
        end = (
            f"{fmt_time(row.per(row.end))}/{unit}"
            if row.end
            else ("skipped: eager, same program" if row.eager else "not measured")
        )
        step = f"{fmt_time(row.per(row.step))}/{unit}" if row.step else "not measured"
        price = f"x{row.price:.3g}" if row.price == row.price else "—"
        out[row.workload].append([row.backend, row.mode, step, end, price])
    return dict(out)


def document(rep: Report) -> Document:
    """The report as blocks, top first; every format renders these."""
    head, items = summary(rep)
    doc = Document(rep.title)
    doc.add(*(Paragraph([("Note:", "b"), f" {n}"], "note") for n in rep.notes))
    doc.add(Paragraph([("Machine:", "b"), f" {rep.current.facts.get('machine_id', '?')}"]))
    doc.add(Paragraph([("Verdicts:", "b"), f" {head}"]))
    if items:
        doc.add(Items([(i.split(":")[0], i) for i in items], marks={"regressed": "🔴", "improved": "🟢"}))
    if rep.changes:
        doc.add(
            Paragraph([("Change points over the saved runs:", "b")]), Items([("", c.sentence()) for c in rep.changes])
        )
    cadence = cadence_tables(rep)
    for workload, (variants, backends, cells) in grid(rep).items():
        doc.add(Heading(workload))
        if line := fastest_line(cells, variants):
            doc.add(Paragraph([line]))
        rows: list[list[str | CellLines]] = []
        for v in variants:
            row: list[str | CellLines] = [v]
            for b in backends:
                c = cells.get((v, b))
                if c is None:
                    row.append("–")
                    continue
                classes = [x for x, on in (("fail", c.gates_passed is False), ("fastest", c.fastest)) if on]
                row.append(CellLines(cell_lines(c, rep.reference), strong=c.fastest, classes=classes))
            rows.append(row)
        doc.add(Table(["variant", *backends], rows, row_header=True))
        if workload in cadence:
            doc.add(
                Paragraph(
                    ["Time per step by evaluation cadence (the price of forcing = every step / once at the end):"]
                ),
                Table(CADENCE_HEAD, cadence[workload]),
            )
        doc.add(*(Image(image_name(kind, workload)) for kind in ("bars", "history")))
    if rep.sweep:
        from mlxbench.reports import sweeptables

        doc.add(Heading("Size sweep: crossovers and scaling"))
        doc.add(*sweeptables.blocks(rep.sweep.crossovers, rep.sweep.exponents))
        doc.add(Gallery("sweep-"))
    doc.add(Heading(f"Verdicts against {rep.baseline or 'no baseline'}"))
    if rep.table is not None and rep.table.rows:  # every benchmark of the run: its verdict, or why none
        doc.add(Table(rep.table.head(), rep.table.cells(label=rep.short), row_class=0))
        doc.add(*(Paragraph([note]) for note in rep.table.footnotes()))
        if any(v.method == "history" for v in rep.verdicts):
            doc.add(
                Paragraph(
                    [
                        "A judged row's baseline median is the geometric mean of the medians of the saved runs "
                        "it was judged against (its history, ending with the baseline); an unjudged row's is "
                        "the baseline run's."
                    ]
                )
            )
    else:
        doc.add(Paragraph([no_verdicts(rep)]))
    doc.add(Heading("Machine"), Table(["fact", "value"], [[k, v] for k, v in machine_rows(rep.current)]))
    return doc


def markdown(rep: Report, images: list[str]) -> str:
    """The report in Markdown; `images`: plot files written beside it ([] for a job summary)."""
    return markdown_of(document(rep), images)


def html_page(rep: Report, images: dict[str, str]) -> str:
    """The report as one HTML page; `images`: {file name: data URI} of the plots."""
    return html_of(document(rep), images)
