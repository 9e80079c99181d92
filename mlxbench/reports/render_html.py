"""A self-contained HTML page of a Report (plots inlined as data URIs); every name is escaped."""

from __future__ import annotations

import html

from mlxbench.reports.render import (
    CADENCE_HEAD,
    VERDICT_HEAD,
    cadence_tables,
    cell_lines,
    fastest_line,
    grid,
    no_verdicts,
    summary,
    verdict_rows,
)
from mlxbench.reports.report import Report, image_name, machine_rows

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.35rem .6rem;vertical-align:top}
th{background:#f3f3f3;text-align:left}.note{background:#fff4d6;padding:.6rem;border-left:4px solid #e0a800}
.regressed{background:#fde2e2}.improved{background:#e0f5e0}.inconclusive{background:#f5f5f5}
.fail{color:#b00020;font-weight:600}img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
td small{color:#555}td.fastest{background:#eef6ff;font-weight:600}td.fastest small{font-weight:400}
.summary{border:1px solid #ccc;padding:.6rem 1rem;background:#fafafa}.summary li.regressed{color:#b00020}
.summary li.improved{color:#1b6e1b}.summary li{background:none}
"""


def table(head: list[str], rows: list[list[str]], row_class: int | None = None) -> str:
    e = html.escape
    out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cls = f" class='{e(row[row_class].split(' ')[0])}'" if row_class is not None else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{e(x)}</td>" for x in row) + "</tr>")
    return "\n".join(out) + "</table>"


def html_page(rep: Report, images: dict[str, str]) -> str:
    """`images`: {file name: data URI} of the plots."""
    e = html.escape
    head, items = summary(rep)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(rep.title)}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(rep.title)}</h1>",
    ]
    parts += [f"<p class='note'>{e(n)}</p>" for n in rep.notes]
    parts.append(
        f"<div class='summary'><p><b>Machine:</b> {e(rep.current.facts.get('machine_id', '?'))}<br>"
        f"<b>Verdicts:</b> {e(head)}</p>"
    )
    if items:
        parts.append("<ul>" + "".join(f"<li class='{e(i.split(':')[0])}'>{e(i)}</li>" for i in items) + "</ul>")
    if rep.changes:
        parts.append("<p><b>Change points over the saved runs:</b></p><ul>")
        parts += [f"<li>{e(c.sentence())}</li>" for c in rep.changes]
        parts.append("</ul>")
    parts.append("</div>")
    cadence = cadence_tables(rep)
    for workload, (variants, backends, cells) in grid(rep).items():
        parts.append(f"<h2>{e(workload)}</h2>")
        if line := fastest_line(cells, variants):
            parts.append(f"<p>{e(line)}</p>")
        parts.append("<table><tr><th>variant</th>" + "".join(f"<th>{e(b)}</th>" for b in backends) + "</tr>")
        for v in variants:
            parts.append(f"<tr><th>{e(v)}</th>")
            for b in backends:
                c = cells.get((v, b))
                if c is None:
                    parts.append("<td>–</td>")
                    continue
                lines = cell_lines(c, rep.reference)
                classes = [x for x, on in (("fail", c.gates_passed is False), ("fastest", c.fastest)) if on]
                cls = f" class='{' '.join(classes)}'" if classes else ""
                parts.append(
                    f"<td{cls}>{e(lines[0])}" + "".join(f"<br><small>{e(x)}</small>" for x in lines[1:]) + "</td>"
                )
            parts.append("</tr>")
        parts.append("</table>")
        if workload in cadence:
            parts.append(
                "<p>Time per step by evaluation cadence (the price of forcing = every step / once at the end)</p>"
            )
            parts.append(table(CADENCE_HEAD, cadence[workload]))
        for kind in ("bars", "history"):
            name = image_name(kind, workload)
            if name in images:
                parts.append(f"<img alt='{e(name)}' src='{images[name]}'>")
    if rep.sweep:
        from mlxbench.reports import sweeptables

        parts.append("<h2>Size sweep: crossovers and scaling</h2>")
        parts.append(sweeptables.html_tables(rep.sweep.crossovers, rep.sweep.exponents))
        parts += [f"<img alt='{e(k)}' src='{v}'>" for k, v in images.items() if k.startswith("sweep-")]
    parts.append(f"<h2>Verdicts against {e(rep.baseline) if rep.baseline else 'no baseline'}</h2>")
    if rep.verdicts:
        parts.append(table(VERDICT_HEAD, verdict_rows(rep), row_class=0))
    else:
        parts.append(f"<p>{html.escape(no_verdicts(rep))}</p>")
    parts.append("<h2>Machine</h2>")
    parts.append(table(["fact", "value"], [[k, v] for k, v in machine_rows(rep.current)]))
    parts.append("</body></html>")
    return "\n".join(parts)
