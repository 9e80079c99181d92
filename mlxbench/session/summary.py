"""The end-of-run summary in the terminal: per workload, variants x backends in human units.

    linreg (median per round; * fastest of its row; against numpy)
      time            mlx-cpu        numpy          torch-cpu
      eager           8.26 s         139.6 ms *     1.36 s
      vs numpy        59.2x slower   reference      9.74x slower
      accuracy gate   pass           pass           pass

Each variant gets one block of rows (time, speed against the reference backend in words, the
accuracy gate, peak memory when recorded, the verdict when a baseline was compared). A workload of more
than CONDENSE_AFTER variants is condensed to one row per variant (each cell: the median and its speed
against the reference; a failed gate or a regression in the cell itself), under a line that says which
backend is fastest how often and whether every gate passed. Backends that do not fit in `width`
columns go to a further table with the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlxbench.reports.table import METHODS
from mlxbench.units import fmt_bytes, fmt_time, slower_or_faster
from mlxbench.verdicts.words import MOVED

REFERENCE = "numpy"  # the backend every other is compared with, when the workload ran on it
WIDTH = 120
CONDENSE_AFTER = 4  # variants; more are shown one row each (lazy_eval's 18 took 110 lines in blocks)


def human(seconds: float | None) -> str:
    """`1.36 s`, `139.6 ms`, `12.1 µs`, `850 ns`: four significant digits at most."""
    return fmt_time(seconds, digits=4)


def memory(n: int | None) -> str:
    return "-" if n is None else fmt_bytes(n)


def ratio_words(median: float, reference: float) -> str:
    """`31.7x slower`, `2.05x faster`, `same`: this median against the reference's."""
    if not (median > 0 and reference > 0):
        return "n/a"
    return slower_or_faster(median / reference) or "same"


@dataclass
class Entry:
    median: float
    gate: bool | None  # every accuracy gate passed; None when none was recorded
    peak: int | None
    verdict: dict[str, Any] | None


def collect(benchmarks: Iterable[Mapping[str, Any]], verdicts: Mapping[str, dict] | None = None) -> dict:
    """{workload: {(variant, backend): Entry}}, in the order benchmarks ran. `benchmarks`: dicts with
    `fullname`, `stats` and `extra_info`, as pytest-benchmark saves them."""
    out: dict[str, dict[tuple[str, str], Entry]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if "workload" not in info or "backend" not in info:
            continue  # not an mlxbench benchmark
        gates = info.get("gates")
        peak = (info.get("peak_memory") or {}).get("bytes")
        verdict = (verdicts or {}).get(b["fullname"]) or info.get("verdict")
        cell = Entry(float(b["stats"]["median"]), all(g.get("passed") for g in gates) if gates else None, peak, verdict)
        out.setdefault(info["workload"], {})[(str(info.get("variant", "")), info["backend"])] = cell
    return out


def render(
    benchmarks: Iterable[Mapping[str, Any]],
    verdicts: Mapping[str, dict] | None = None,
    baseline: str | None = None,
    width: int = WIDTH,
) -> list[str]:
    """The summary's lines (no trailing spaces), every line at most `width` characters where it can be."""
    lines: list[str] = []
    for workload, cells in collect(benchmarks, verdicts).items():
        lines.extend(render_workload(workload, cells, baseline, width))
    return lines


GATE_WORDS = {True: "pass", False: "FAIL", None: "-"}


def against(backend: str, cell: Entry, ref: str, reference: Entry | None) -> str:
    if backend == ref:
        return "reference"
    return ratio_words(cell.median, reference.median) if reference else "-"


def render_workload(
    workload: str, cells: Mapping[tuple[str, str], Entry], baseline: str | None, width: int
) -> list[str]:
    variants = list(dict.fromkeys(v for v, _ in cells))
    backends = list(dict.fromkeys(b for _, b in cells))
    ref = REFERENCE if REFERENCE in backends else backends[0]
    if len(variants) > CONDENSE_AFTER:
        return condensed(workload, cells, variants, backends, ref, baseline, width)
    has_peak = any(c.peak is not None for c in cells.values())
    verdicts = [c.verdict for c in cells.values() if c.verdict]
    rows: list[tuple[str, dict[str, str]]] = []
    for variant in variants:
        present, fastest = variant_entries(cells, variant, backends)
        mark = {fastest: " *"} if len(present) > 1 else {}
        rows.append((variant, {b: human(c.median) + mark.get(b, "") for b, c in present.items()}))
        if len(backends) > 1:
            base = ref if ref in present else fastest  # a variant the reference lacks: against its fastest
            rows.append((f"  vs {base}", {b: against(b, c, base, present[base]) for b, c in present.items()}))
        if any(c.gate is not None for c in present.values()):
            rows.append(("  accuracy gate", {b: GATE_WORDS[c.gate] for b, c in present.items()}))
        if has_peak:
            rows.append(("  peak memory", {b: memory(c.peak) for b, c in present.items()}))
        if verdicts:
            rows.append(("  verdict", {b: verdict_cell(c.verdict) for b, c in present.items()}))
    head = f"{workload} (median per round; * fastest of its row"
    head += f"; against {ref})" if len(backends) > 1 else ")"
    lines = [head]
    if verdicts:
        lines += [f"  verdicts against {baseline or 'the baseline'}", f"  evidence: {evidence(verdicts)}"]
    return lines + table(rows, backends, width)


def condensed(
    workload: str,
    cells: Mapping[tuple[str, str], Entry],
    variants: list[str],
    backends: list[str],
    ref: str,
    baseline: str | None,
    width: int,
) -> list[str]:
    """One row per variant: `172.6 µs 2.98x slower`, `57.88 µs *`; a failed gate (`FAIL`) and a verdict
    that moved (`regressed x1.23`) in the cell itself; which backend wins how often above the table."""
    rows: list[tuple[str, dict[str, str]]] = []
    wins: dict[str, int] = {}
    gates = [c.gate for c in cells.values() if c.gate is not None]
    verdicts = [c.verdict for c in cells.values() if c.verdict]
    for variant in variants:
        present, fastest = variant_entries(cells, variant, backends)
        wins[fastest] = wins.get(fastest, 0) + 1
        base = ref if ref in present else fastest
        row = {}
        for b, c in present.items():
            text = human(c.median) + (" *" if b == fastest and len(present) > 1 else "")
            if b != base:
                text += f" {against(b, c, base, present[base])}"
            if c.gate is False:
                text += " FAIL"
            if c.verdict and moved(c.verdict):
                text += f" {verdict_cell(c.verdict)}"
            row[b] = text
        rows.append((variant, row))
    n = len(variants)
    tally = ", ".join(f"{b} {k}" for b, k in sorted(wins.items(), key=lambda kv: -kv[1]))
    passed = f"{sum(gates)} of {len(gates)} accuracy gates pass" if gates else "no accuracy gate"
    lines = [
        f"{workload} (median per round; * fastest of its row; speed against {ref}; peak memory: mlxbench report)",
        f"  fastest of {n} variants: {tally}; {passed}",
    ]
    if verdicts:
        count = sum(moved(v) for v in verdicts)
        lines += [
            f"  verdicts against {baseline or 'the baseline'}: {count} moved (shown in their cell) of {len(verdicts)}",
            f"  evidence: {evidence(verdicts)}",
        ]
    return lines + table(rows, backends, width)


def variant_entries(
    cells: Mapping[tuple[str, str], Entry], variant: str, backends: list[str]
) -> tuple[dict[str, Entry], str]:
    """A variant's entries by backend (those that ran it) and its fastest backend."""
    present = {b: cells[(variant, b)] for b in backends if (variant, b) in cells}
    return present, min(present, key=lambda b: present[b].median)


def verdict_cell(v: dict[str, Any] | None) -> str:
    if not v:
        return "-"
    ratio = v.get("ratio")
    suffix = f" x{ratio:.2f}" if isinstance(ratio, (int, float)) and math.isfinite(ratio) else ""
    return f"{v.get('verdict', '?')}{suffix}"


def moved(v: Mapping[str, Any]) -> bool:
    """Whether a saved verdict says something changed (regressed or improved)."""
    return v.get("verdict") in MOVED


def evidence(verdicts: Sequence[dict]) -> str:
    """Which evidence the verdicts rest on, in words."""
    methods = sorted({v.get("method", "history") for v in verdicts})
    return " and ".join(METHODS.get(m, m) for m in methods)


def table(rows: list[tuple[str, dict[str, str]]], backends: list[str], width: int) -> list[str]:
    label_w = max(len(label) for label, _ in rows) + 2
    col_w = {b: max([len(b)] + [len(r.get(b, "-")) for _, r in rows]) + 2 for b in backends}
    chunks: list[list[str]] = [[]]
    used = 2 + label_w
    for b in backends:
        if chunks[-1] and used + col_w[b] > width:
            chunks.append([])
            used = 2 + label_w
        chunks[-1].append(b)
        used += col_w[b]
    lines = []
    for chunk in chunks:
        lines.append(("  " + "".ljust(label_w) + "".join(b.ljust(col_w[b]) for b in chunk)).rstrip())
        for label, r in rows:
            lines.append(("  " + label.ljust(label_w) + "".join(r.get(b, "-").ljust(col_w[b]) for b in chunk)).rstrip())
    return lines
