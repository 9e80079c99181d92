"""The report of a release history: Markdown, a job summary, HTML and JSON, and one plot per workload.

One model (`model`: a plain dict, also the JSON) rendered by every format: the releases and what each
came to (timed, partly timed, cannot install, cannot run, accuracy broke, with the reason), the steps
with the A/B that confirmed or refuted each, and per workload a table of every benchmark's median with
its 95% interval per release and a plot with the releases on the x axis (each benchmark's median
relative to its first timed release, log scale, interval bars; steps marked).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from mlxbench.reports import logticks
from mlxbench.reports.document import CellLines, Document, Heading, Image, Paragraph, Table
from mlxbench.reports.document import html as document_html
from mlxbench.reports.document import markdown as document_markdown
from mlxbench.reports.options import FORMATS
from mlxbench.reports.plots import _png
from mlxbench.reports.plural import nouns
from mlxbench.reports.publish import strict
from mlxbench.units import fmt_time
from mlxbench.verdicts.words import interval, sees

FILES = {"md": "releases.md", "summary": "releases-summary.md", "html": "releases.html", "json": "releases.json"}
OUTCOME_ORDER = ("confirmed", "inconclusive", "refuted", "not judged")


def model(
    framework: str,
    machine: str,
    pytest_args: Sequence[str],
    releases: Sequence[dict],
    series: dict[str, dict],
    steps: Sequence[dict],
    abs_: Sequence[dict],
) -> dict[str, Any]:
    return {
        "framework": framework,
        "machine": machine,
        "pytest_args": list(pytest_args),
        "releases": list(releases),
        "series": series,
        "steps": list(steps),
        "ab": list(abs_),
    }


def plot_name(workload: str) -> str:
    return f"releases_{''.join(c if c.isalnum() or c in '-_' else '_' for c in workload)}.png"


def workloads(m: dict) -> list[str]:
    return sorted({s["workload"] for s in m["series"].values()})


def plot(m: dict, workload: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    versions = [r["version"] for r in m["releases"] if r["status"] in ("timed", "partly timed")]
    x = {v: i for i, v in enumerate(versions)}
    chosen = sorted((s for s in m["series"].values() if s["workload"] == workload), key=lambda s: s["title"])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(versions) + 3), 4.2))
    colours = plt.get_cmap("tab20").colors  # 20 distinct colours, then markers tell the rest apart
    for i, s in enumerate(chosen):
        pts = [p for p in s["points"] if p["version"] in x]
        if not pts:
            continue
        first = pts[0]["median"]
        xs = [x[p["version"]] for p in pts]
        ys = [p["median"] / first for p in pts]
        lows = [max(y - p["low"] / first, 0.0) if p["low"] == p["low"] else 0.0 for y, p in zip(ys, pts, strict=True)]
        highs = [
            max(p["high"] / first - y, 0.0) if p["high"] == p["high"] else 0.0 for y, p in zip(ys, pts, strict=True)
        ]
        ax.errorbar(
            xs,
            ys,
            yerr=[lows, highs],
            marker="osD^v"[i // 20 % 5],
            markersize=3,
            capsize=2,
            linewidth=1,
            color=colours[i % 20],
            label=s["title"].split(" ", 1)[-1],
        )
    for st in m["steps"]:
        if m["series"].get(st["name"], {}).get("workload") != workload or st["after"] not in x:
            continue
        colour = {"confirmed": "#d62728", "refuted": "#7f7f7f", "inconclusive": "#e0a800"}.get(st["outcome"], "#bbbbbb")
        ax.axvline(x[st["after"]] - 0.5, color=colour, linestyle="--", linewidth=1, alpha=0.6)
    ax.set_yscale("log")
    logticks.log_axis(ax.yaxis, logticks.ratio_label)  # x0.98 x1 x1.02: distinct, each at its value
    ax.axhline(1.0, color="#999999", linewidth=0.6)
    ax.set_xticks(range(len(versions)), versions, rotation=60, ha="right", fontsize=8)
    ax.set_xlabel(f"{m['framework']} release")
    ax.set_ylabel("median per round / first release's")
    ax.set_title(
        f"{workload}: median per release (dashed: a step; red confirmed, grey refuted, amber inconclusive)", fontsize=9
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    return _png(fig)


def _status_rows(m: dict) -> list[list[str]]:
    return [[r["version"], r["status"], r.get("reason") or "", f"{r.get('seconds', 0):.0f} s"] for r in m["releases"]]


def _step_rows(m: dict) -> list[list[str | CellLines]]:
    rows: list[list[str | CellLines]] = []
    ordered = sorted(
        m["steps"],
        key=lambda s: (
            OUTCOME_ORDER.index(s["outcome"]) if s["outcome"] in OUTCOME_ORDER else 9,
            s["title"],
            s["before"],
        ),
    )
    for s in ordered:
        ab_cell = interval(s["ab_ratio"], s["ab_low"], s["ab_high"]) if s["ab_ratio"] == s["ab_ratio"] else ""
        ab_cell = ab_cell or s.get("note", "")  # why a step is not judged
        history = CellLines([f"x{s['ratio']:.3f}", s["why"]])
        rows.append(
            [
                s["outcome"],
                s["title"],
                f"{s['before']} → {s['after']}",
                history,
                CellLines([s["verdict"], ab_cell]),
                sees(s["sees"]),
            ]
        )
    return rows


def _median_rows(m: dict, workload: str) -> tuple[list[str], list[list[str | CellLines]]]:
    versions = [r["version"] for r in m["releases"] if r["status"] in ("timed", "partly timed")]
    chosen = sorted((s for s in m["series"].values() if s["workload"] == workload), key=lambda s: s["title"])
    head = ["release", *(s["title"].split(" ", 1)[-1] for s in chosen)]
    rows: list[list[str | CellLines]] = []
    for v in versions:
        row: list[str | CellLines] = [v]
        for s in chosen:
            p = next((p for p in s["points"] if p["version"] == v), None)
            row.append(
                CellLines([fmt_time(p["median"]), f"[{fmt_time(p['low'])}, {fmt_time(p['high'])}]"]) if p else "-"
            )
        rows.append(row)
    rows.append(["smallest step seen", *(f">={s['visible']:.0%}" if "visible" in s else "" for s in chosen)])
    return head, rows


def document(m: dict) -> Document:
    rel = m["releases"]
    timed = [r for r in rel if r["status"] in ("timed", "partly timed")]
    counts = {}
    for s in m["steps"]:
        counts[s["outcome"]] = counts.get(s["outcome"], 0) + 1
    doc = Document(f"{m['framework']} releases {rel[0]['version']} to {rel[-1]['version']} on {m['machine']}")
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "none"
    selection = (" ".join(m["pytest_args"]), "code")
    head = f"{len(timed)} of {nouns(len(rel), 'release')} timed; selection: "
    doc.add(Paragraph([head, selection, f"; {nouns(len(m['steps']), 'step')} ({outcomes})"]))
    doc.add(Heading("Steps between adjacent releases"))
    if m["steps"]:
        doc.add(
            Paragraph(
                [
                    "A step: a median that moved by at least its threshold between two adjacent timed releases, "
                    "or a change point. Each is judged by an A/B of the two releases (B / A, 95% interval); "
                    "'sees': the smallest change that A/B detects."
                ]
            )
        )
        doc.add(Table(["outcome", "benchmark", "releases", "history", "A/B", "sees"], _step_rows(m), row_class=0))
    else:
        doc.add(Paragraph(["No benchmark moved by its threshold between adjacent releases."]))
    doc.add(Heading("Releases"), Table(["release", "status", "why", "time"], _status_rows(m)))
    for w in workloads(m):
        head, rows = _median_rows(m, w)
        doc.add(
            Heading(f"{w}: median per round, 95% interval"),
            Image(plot_name(w), f"{w} per release"),
            Table(head, rows, row_header=True),
        )
    return doc


def contents(m: dict, formats: Sequence[str] = FORMATS) -> dict[str, bytes]:
    images = {plot_name(w): plot(m, w) for w in workloads(m)} if {"md", "html"} & set(formats) else {}
    doc = document(m)
    files: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "json":
            text = json.dumps(strict(m), indent=2, default=str)
        elif fmt == "md":
            text = document_markdown(doc, list(images))
        elif fmt == "summary":
            text = document_markdown(doc, [])
        else:
            inline = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}
            text = document_html(doc, inline)
        files[FILES[fmt]] = text.encode()
    if "md" in formats:
        files.update(images)
    return files
