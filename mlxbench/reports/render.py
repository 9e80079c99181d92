"""What a report says, as rows of text (shared by Markdown and HTML), and its Markdown rendering.

Every name is escaped. The Markdown renders as a GitHub job summary: with `images` empty it
references no image (a job summary cannot show files), with them it links the PNGs written beside it.
"""

from __future__ import annotations

import html
from collections import defaultdict

from mlxbench.reports import cadence
from mlxbench.reports.report import (
    Cell,
    Report,
    change_words,
    image_name,
    machine_rows,
    memory_words,
    speed_words,
)
from mlxbench.units import fmt_time
from mlxbench.verdicts import verdict
from mlxbench.verdicts.gate import METHODS

FASTEST = "★ fastest"


def md_escape(text: object) -> str:
    return html.escape(str(text)).replace("|", "&#124;").replace("`", "&#96;").replace("\n", " ")


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
    parts = [f"{b} ({k} of {n} variant{'s' if n > 1 else ''})" for b, k in ranked]
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


def interval_words(v: verdict.Result) -> str:
    if v.ci_low != v.ci_low:  # NaN: no interval
        return "none"
    return f"[{v.ci_low:.3f}, {v.ci_high:.3f}] prediction interval (alpha {verdict.ALPHA:g} over the run)"


def test_words(v: verdict.Result) -> str:
    if v.p_value != v.p_value:
        return "none"
    return f"t-test p={v.p_value:.2g}"


def verdict_words(v: verdict.Result) -> str:
    return v.verdict


VERDICT_HEAD = ["verdict", "benchmark", "before → after", "change", "interval", "test", "method", "sees", "notes"]


def verdict_rows(rep: Report) -> list[list[str]]:
    rows = []
    for v in rep.sorted_verdicts():
        sees = f"changes >= {v.mde:.0%}" if v.mde == v.mde else "—"
        notes = [*v.accuracy, f"threshold {v.threshold:.0%}"]
        rows.append(
            [
                verdict_words(v),
                rep.short(v.name),
                f"{fmt_time(v.baseline_median)} → {fmt_time(v.current_median)}",
                change_words(v.ratio),
                interval_words(v),
                test_words(v),
                method_words(v),
                sees,
                "; ".join(notes),
            ]
        )
    return rows


def no_verdicts(rep: Report) -> str:
    """Why the verdict table is empty."""
    if rep.not_judged:
        reasons = sorted(set(rep.not_judged.values()))
        return f"No verdicts: {len(rep.not_judged)} benchmarks not judged ({'; '.join(reasons)})."
    return "No baseline with benchmarks in common."


def summary(rep: Report) -> tuple[str, list[str]]:
    """('2 regressed, 1 improved, ...', the regressions then the improvements, one line each)."""
    counts = ", ".join(f"{n} {v}" for v, n in rep.counts.items())
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
        if v.verdict in ("regressed", "improved")
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


def md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(md_escape(h) for h in head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(md_escape(x) for x in row) + " |" for row in rows]
    return out


def markdown(rep: Report, images: list[str]) -> str:
    """The report in Markdown; `images`: plot files written beside it ([] for a job summary)."""
    head, items = summary(rep)
    machine = rep.current.facts.get("machine_id", "?")
    out = [f"# {md_escape(rep.title)}", ""]
    out += [f"> **Note:** {md_escape(n)}" for n in rep.notes]
    out += [f"**Machine:** {md_escape(machine)}  ", f"**Verdicts:** {md_escape(head)}", ""]
    out += [f"- {'🔴' if i.startswith('regressed') else '🟢'} {md_escape(i)}" for i in items]
    if rep.changes:
        out += ["", "**Change points over the saved runs:**", ""]
        out += [f"- {md_escape(c.sentence())}" for c in rep.changes]
    for workload, (variants, backends, cells) in grid(rep).items():
        out += ["", f"## {md_escape(workload)}", ""]
        if line := fastest_line(cells, variants):
            out += [md_escape(line), ""]
        out += ["| variant | " + " | ".join(md_escape(b) for b in backends) + " |", "|---|" + "---|" * len(backends)]
        for v in variants:
            row = [md_escape(v)]
            for b in backends:
                c = cells.get((v, b))
                if c is None:
                    row.append("–")
                    continue
                lines = [md_escape(x) for x in cell_lines(c, rep.reference)]
                lines[0] = f"**{lines[0]}**" if c.fastest else lines[0]
                row.append("<br>".join(lines))
            out.append("| " + " | ".join(row) + " |")
        if table := cadence_tables(rep).get(workload):
            out += [
                "",
                "Time per step by evaluation cadence (the price of forcing = every step / once at the end):",
                "",
            ]
            out += md_table(CADENCE_HEAD, table)
        for kind in ("bars", "history"):
            if (img := image_name(kind, workload)) in images:
                out += ["", f"![{md_escape(img)}]({img})"]
    if rep.sweep:
        from mlxbench.reports import sweeptables

        out += [
            "",
            "## Size sweep: crossovers and scaling",
            "",
            sweeptables.markdown(rep.sweep.crossovers, rep.sweep.exponents),
        ]
        out += [f"![{md_escape(img)}]({img})" for img in images if img.startswith("sweep-")]
    out += ["", f"## Verdicts against {md_escape(rep.baseline) if rep.baseline else 'no baseline'}", ""]
    out += md_table(VERDICT_HEAD, verdict_rows(rep)) if rep.verdicts else [md_escape(no_verdicts(rep))]
    out += ["", "## Machine", ""]
    out += md_table(["fact", "value"], [[k, v] for k, v in machine_rows(rep.current)])
    return "\n".join(out) + "\n"
