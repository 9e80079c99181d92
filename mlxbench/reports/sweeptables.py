"""Crossovers and scaling exponents (`mlxbench.reports.sweep`) as terminal lines, document blocks
(rendered as Markdown and HTML by mlxbench.reports.document) and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from mlxbench.reports import document
from mlxbench.reports.document import Block, Document, Heading, Paragraph, Table
from mlxbench.reports.plural import nouns
from mlxbench.reports.sweep import Crossover, Exponent

CROSS_HEAD = ("workload", "series", "axis", "backends", "crossover", "interval", "faster below → above")
EXP_HEAD = ("workload", "series", "axis", "backend", "exponent", "95% interval", "sizes")


def size(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.3g}"


def where(c: Crossover) -> str:
    """`≈ 420` or the reason there is none."""
    return f"≈ {size(c.at)}" if c.at is not None else c.note


def interval(c: Crossover) -> str:
    if c.at is None or c.low is None or c.high is None:
        return "–" if c.sizes is None else f"measured {size(c.sizes[0])} .. {size(c.sizes[1])}"
    low = f"≤ {size(c.low)}" if c.low_open else size(c.low)
    high = f"≥ {size(c.high)}" if c.high_open else size(c.high)
    return f"{low} .. {high}"


def sides(c: Crossover) -> str:
    if c.at is None:
        return f"{c.faster_before} throughout" if c.faster_before else "–"
    flips = c.note.partition("; ")[2]
    return f"{c.faster_before} → {c.faster_after}" + (f" ({flips})" if flips else "")


def slope(e: Exponent) -> tuple[str, str]:
    if e.slope is None:
        return "–", "one amount of work: no slope"
    band = f"{e.low:.2f} .. {e.high:.2f}" if e.low is not None and e.high is not None else "– (2 sizes)"
    return f"{e.slope:.2f}", band


def cross_rows(items: Sequence[Crossover]) -> list[tuple[str, ...]]:
    return [(c.workload, c.series, c.axis, f"{c.a} / {c.b}", where(c), interval(c), sides(c)) for c in items]


def exp_rows(items: Sequence[Exponent]) -> list[tuple[str, ...]]:
    return [(e.workload, e.series, e.axis, e.backend, *slope(e), str(e.points)) for e in items]


def terminal_lines(cross: Sequence[Crossover], exps: Sequence[Exponent]) -> list[str]:
    """One line per crossover and per exponent, for pytest's terminal summary or the CLI."""
    out = []
    for c in cross:
        text = f"{c.workload}[{c.series}] {c.axis}: {c.a} vs {c.b}: "
        if c.at is None:
            out.append(text + c.note)
        else:
            head, _, flips = c.note.partition("; ")
            out.append(text + f"{head} at {c.axis} {where(c)} ({interval(c)})" + (f"; {flips}" if flips else ""))
    for e in exps:
        s, band = slope(e)
        out.append(
            f"{e.workload}[{e.series}] {e.backend}: time ∝ {e.unit}^{s} (95%: {band}; {nouns(e.points, 'size')})"
        )
    return out


def blocks(cross: Sequence[Crossover], exps: Sequence[Exponent]) -> list[Block]:
    """The two tables under their headings, as document blocks (mlxbench.reports.document)."""
    none = Paragraph(["No sweep points."])
    return [
        Heading("Crossovers", 3),
        Table(CROSS_HEAD, cross_rows(cross), cls="crossovers") if cross else none,
        Heading("Scaling exponents (log-log slope of time against work)", 3),
        Table(EXP_HEAD, exp_rows(exps), cls="exponents") if exps else none,
    ]


def markdown(cross: Sequence[Crossover], exps: Sequence[Exponent]) -> str:
    """Two Markdown tables: crossovers, then scaling exponents (log-log slope of time against work)."""
    return document.markdown(Document("Size sweep: crossovers and scaling", blocks(cross, exps)))


def html_page(cross: Sequence[Crossover], exps: Sequence[Exponent]) -> str:
    """The two tables as one HTML page (classes `crossovers`, `exponents`)."""
    return document.html(Document("Size sweep: crossovers and scaling", blocks(cross, exps)))


def as_json(cross: Sequence[Crossover], exps: Sequence[Exponent]) -> dict[str, Any]:
    """Plain data for report.json: {"crossovers": [...], "exponents": [...]}."""
    return {"crossovers": [asdict(c) for c in cross], "exponents": [asdict(e) for e in exps]}


def dumps(cross: Sequence[Crossover], exps: Sequence[Exponent]) -> str:
    return json.dumps(as_json(cross, exps), indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m mlxbench.reports.sweeptables RUN.json ... [--markdown|--json]`: the tables of saved sweep runs."""
    import argparse
    import sys

    from mlxbench.reports.sweep import all_crossovers, exponents, lines_from_runs
    from mlxbench.runs import BadRun, load_run

    parser = argparse.ArgumentParser(prog="python -m mlxbench.reports.sweeptables", description=main.__doc__)
    parser.add_argument("runs", nargs="+", help="pytest-benchmark JSON files of sweep-profile runs")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        found = lines_from_runs([load_run(p) for p in args.runs])
    except BadRun as exc:
        print(f"mlxbench: {exc}", file=sys.stderr)
        return 2
    if not found:
        print("mlxbench: no sweep points in these runs (run pytest benchmarks --profile sweep)", file=sys.stderr)
        return 2
    cross, exps = all_crossovers(found), exponents(found)
    if args.format == "markdown":
        print(markdown(cross, exps))
    elif args.format == "json":
        print(dumps(cross, exps))
    else:
        print("\n".join(terminal_lines(cross, exps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
