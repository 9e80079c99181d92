"""Markdown and HTML renderings of a Report; every name is escaped."""

from __future__ import annotations

import html
from collections import defaultdict

from mlxbench.report import Cell, Report, fmt_time, machine_rows, safe_name


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


def cell_lines(c: Cell, reference: str) -> list[str]:
    lines = [f"{fmt_time(c.median)} [{fmt_time(c.ci[0])}, {fmt_time(c.ci[1])}]"]
    if c.rate:
        lines.append(c.rate)
    if c.label:
        lines.append(c.label)
    if c.accuracy:
        mark = "" if c.gates_passed is None else (" ✓" if c.gates_passed else " ✗ gate failed")
        lines.append(c.accuracy + mark)
    if c.speedup is not None and c.backend != reference:
        lines.append(f"×{c.speedup:.3g} vs {reference}")
    return lines


def verdict_rows(rep: Report) -> list[list[str]]:
    order = ("regressed", "improved", "inconclusive", "unchanged")
    rows = []
    for v in sorted(rep.verdicts, key=lambda v: (order.index(v.verdict), v.name)):
        rows.append(
            [
                v.verdict,
                v.name,
                f"×{v.ratio:.3f}",
                f"[{v.ci_low:.3f}, {v.ci_high:.3f}]",
                f"{v.p_value:.2g}",
                f"{v.threshold:.0%}",
                "; ".join(v.accuracy),
            ]
        )
    return rows


VERDICT_HEAD = ["verdict", "benchmark", "median ratio", "99% CI", "p (Mann-Whitney)", "threshold", "accuracy"]


def markdown(rep: Report, images: list[str]) -> str:
    out = [f"# mlxbench report: {md_escape(rep.current.label)}", ""]
    out += [f"> **Note:** {md_escape(n)}" for n in rep.notes]
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in machine_rows(rep.current)]
    for workload, (variants, backends, cells) in grid(rep).items():
        out += [
            "",
            f"## {md_escape(workload)}",
            "",
            "| variant | " + " | ".join(md_escape(b) for b in backends) + " |",
            "|---|" + "---|" * len(backends),
        ]
        for v in variants:
            row = [md_escape(v)]
            for b in backends:
                c = cells.get((v, b))
                row.append("<br>".join(md_escape(x) for x in cell_lines(c, rep.reference)) if c else "–")
            out.append("| " + " | ".join(row) + " |")
        for img in images:
            if img in (f"bars_{safe_name(workload)}.png", f"history_{safe_name(workload)}.png"):
                out += ["", f"![{md_escape(img)}]({img})"]
    out += ["", f"## Verdicts against {md_escape(rep.baseline) if rep.baseline else 'no baseline'}", ""]
    if rep.verdicts:
        out += ["| " + " | ".join(VERDICT_HEAD) + " |", "|" + "---|" * len(VERDICT_HEAD)]
        out += ["| " + " | ".join(md_escape(x) for x in row) + " |" for row in verdict_rows(rep)]
    else:
        out.append("No baseline with benchmarks in common.")
    return "\n".join(out) + "\n"


CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.35rem .6rem;vertical-align:top}
th{background:#f3f3f3;text-align:left}.note{background:#fff4d6;padding:.6rem;border-left:4px solid #e0a800}
.regressed{background:#fde2e2}.improved{background:#e0f5e0}.inconclusive{background:#f5f5f5}
.fail{color:#b00020;font-weight:600}img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
td small{color:#555}
"""


def html_page(rep: Report, images: dict[str, str]) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>mlxbench report: {e(rep.current.label)}"
        f"</title><style>{CSS}</style></head><body>",
        f"<h1>mlxbench report: {e(rep.current.label)}</h1>",
    ]
    parts += [f"<p class='note'>{e(n)}</p>" for n in rep.notes]
    parts.append("<h2>Machine</h2><table>")
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in machine_rows(rep.current)]
    parts.append("</table>")
    for workload, (variants, backends, cells) in grid(rep).items():
        parts.append(
            f"<h2>{e(workload)}</h2><table><tr><th>variant</th>"
            + "".join(f"<th>{e(b)}</th>" for b in backends)
            + "</tr>"
        )
        for v in variants:
            parts.append(f"<tr><th>{e(v)}</th>")
            for b in backends:
                c = cells.get((v, b))
                if c is None:
                    parts.append("<td>–</td>")
                    continue
                lines = cell_lines(c, rep.reference)
                cls = " class='fail'" if c.gates_passed is False else ""
                parts.append(
                    f"<td{cls}>{e(lines[0])}" + "".join(f"<br><small>{e(x)}</small>" for x in lines[1:]) + "</td>"
                )
            parts.append("</tr>")
        parts.append("</table>")
        for name, uri in images.items():
            if name in (f"bars_{safe_name(workload)}.png", f"history_{safe_name(workload)}.png"):
                parts.append(f"<img alt='{e(name)}' src='{uri}'>")
    parts.append(f"<h2>Verdicts against {e(rep.baseline) if rep.baseline else 'no baseline'}</h2>")
    if rep.verdicts:
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in VERDICT_HEAD) + "</tr>")
        for row in verdict_rows(rep):
            parts.append(f"<tr class='{e(row[0])}'>" + "".join(f"<td>{e(x)}</td>" for x in row) + "</tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No baseline with benchmarks in common.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
