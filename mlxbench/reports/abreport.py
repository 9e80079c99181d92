"""`mlxbench report AB_FOLDER`: an A/B run (mlxbench ab) as Markdown, HTML and JSON.

One model (`ABReport`, read from the folder's verdicts.json and its samples) rendered by every
format: the verdict counts and how the run was made, each benchmark's verdict with its interval,
what it can see (minimum detectable effect) and the spreads that set it, and one figure of the A
and B samples per benchmark (per pair of workers in the paired design, per process otherwise).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlxbench.measure import pairfile
from mlxbench.measure.pairfile import PairResult
from mlxbench.reports.document import Document, Image, Paragraph
from mlxbench.reports.document import Table as DocTable
from mlxbench.reports.document import html as document_html
from mlxbench.reports.document import markdown as document_markdown
from mlxbench.reports.plural import nouns
from mlxbench.reports.table import Table
from mlxbench.runs import BadRun, load_run
from mlxbench.samples import parse
from mlxbench.timings import Timings
from mlxbench.verdicts.verdict import Result, verdict_order
from mlxbench.verdicts.words import VERDICT_ORDER, counted, counts

ORDER = VERDICT_ORDER
FILES = {"md": "ab.md", "summary": "ab-summary.md", "html": "ab.html", "json": "ab.json"}
PLOT = "ab_samples.png"


def is_ab_folder(path: Path) -> bool:
    return path.is_dir() and (path / "verdicts.json").is_file()


@dataclass
class ABReport:
    folder: Path
    meta: dict[str, Any]
    verdicts: list[Result]
    samples: dict[str, Timings] = field(default_factory=dict)  # each benchmark's pairs, or its processes

    @classmethod
    def load(cls, folder: Path) -> ABReport:
        try:
            doc = parse((folder / "verdicts.json").read_bytes())
        except (OSError, ValueError) as exc:
            raise BadRun(f"{folder / 'verdicts.json'} cannot be read as an A/B result ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("verdicts"), list):
            raise BadRun(f"{folder / 'verdicts.json'}: no 'verdicts' list; is this an mlxbench ab folder?")
        for i, v in enumerate(doc["verdicts"]):
            if not isinstance(v, dict) or not isinstance(v.get("name"), str) or v.get("verdict") not in ORDER:
                raise BadRun(f"{folder / 'verdicts.json'}: verdict {i} lacks a name or a known verdict")
        rep = cls.of(folder, doc)
        rep.samples = read_samples(folder)
        return rep

    @classmethod
    def of(cls, folder: Path, doc: dict[str, Any]) -> ABReport:
        """The report of a verdicts.json document already in memory (its samples not read)."""
        meta = {k: v for k, v in doc.items() if k != "verdicts"}
        results = [v if isinstance(v, Result) else Result.from_dict(v) for v in doc["verdicts"]]
        return cls(folder, meta, sorted(results, key=verdict_order))

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.verdicts)

    def head(self) -> str:
        m = self.meta
        if m.get("design") == "paired":
            how = f"{nouns(m.get('pairs'), 'pair')} of workers alternating rounds ({m.get('stopped', '?')})"
        else:
            how = f"{nouns(m.get('processes'), 'fresh process', 'fresh processes')} per arm"
        wall = m.get("wall_seconds")
        took = f", {wall / 60:.1f} min" if isinstance(wall, (int, float)) else ""
        return f"{counted(self.verdicts)} of {nouns(len(self.verdicts), 'benchmark')}; {how}{took}"

    def table(self) -> Table:
        """The one verdict table (arms A and B), with the spreads that set each benchmark's interval."""
        spreads = self.meta.get("spreads") or {}
        t = Table.of(self.verdicts, arms=("A", "B"))
        t.extra_head = ["spread (pair / process / round)"]
        by_name = {v.name: v for v in self.verdicts}
        for row in t.rows:
            s = spreads.get(row.name) or {}
            spread = by_name[row.name].spread if row.name in by_name else None
            row.extra = [" / ".join(_pct(s.get(k)) for k in ("pair", "process", "round")) if s else _pct(spread)]
        return t

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            **self.meta,
            "counts": self.counts,
            "verdicts": [v.as_dict() for v in self.verdicts],
            "table": self.table().as_json(),
        }


def read_samples(folder: Path) -> dict[str, Timings]:
    """Each benchmark's evidence (mlxbench.timings): its pairs of workers (paired, numbered by their folders) or
    its processes' rounds (processes)."""
    pairs, numbers = [], []
    for path in sorted(folder.glob(pairfile.GLOB)):
        try:
            pairs.append(PairResult.read(path))
        except BadRun:
            continue  # a pair cut short or damaged: its samples are not shown (verdicts.json says what was judged)
        digits = path.parent.name.removeprefix("pair-")
        numbers.append(int(digits) if digits.isdigit() else len(pairs))
    if pairs:
        return pairfile.timings(pairs, numbers)
    rounds: dict[str, dict[str, list[list[float]]]] = {}
    for arm in ("A", "B"):
        for path in sorted((folder / arm).glob("*.json")) if (folder / arm).is_dir() else []:
            try:
                run = load_run(path)
            except BadRun:
                continue
            for name, b in run.benchmarks.items():
                rounds.setdefault(name, {"A": [], "B": []})[arm].append(list(b["stats"].get("data") or []))
    return {name: Timings.processes(name, arms["A"], arms["B"]) for name, arms in rounds.items()}


def plot(rep: ABReport) -> bytes | None:
    """One panel per benchmark: each unit's samples of A (left) and B (right), side by side."""
    names = [v.name for v in rep.verdicts if rep.samples.get(v.name)]
    if not names:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(4.2 * cols, 2.6 * rows))
    verdict = {v.name: v.verdict for v in rep.verdicts}
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        for arm, colour, offset in (("A", "#1f77b4", -0.15), ("B", "#d62728", 0.15)):
            for first, unit in enumerate(rep.samples[name].of_arm(arm)):
                ax.plot(
                    [unit.number + offset] * len(unit.arm(arm)),
                    [x * 1e3 for x in unit.arm(arm)],
                    "o",
                    color=colour,
                    ms=3,
                    alpha=0.7,
                    label=arm if first == 0 else None,
                )
        cut = level_split(rep, name)
        if cut is not None:  # rounds in two levels (mlxbench.verdicts.levels): where they split
            ax.axhline(cut * 1e3, color="#7f7f7f", linestyle="--", linewidth=0.8, label="levels split")
        ax.set_title(f"{label(name)}\n{verdict[name]}" + (", two levels" if cut is not None else ""), fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("pair of workers" if rep.meta.get("design") == "paired" else "process", fontsize=7)
        ax.set_ylabel("ms per call", fontsize=7)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def level_split(rep: ABReport, name: str) -> float | None:
    """Where a benchmark's rounds split into two levels (seconds per call), as verdicts.json keeps it; None for a
    benchmark without levels or a folder written before levels were judged."""
    found = (rep.meta.get("levels") or {}).get(name)
    cut = found.get("cut_s") if isinstance(found, dict) else None
    return float(cut) if isinstance(cut, (int, float)) and cut > 0 else None


def document(rep: ABReport, image: str | None) -> Document:
    """The A/B report as blocks (mlxbench.reports.document), rendered by every format."""
    m = rep.meta
    alpha = _num(m.get("final_alpha", m.get("alpha", 0.05)))
    doc = Document("mlxbench A/B")
    doc.add(Paragraph([(rep.head(), "b")]))
    for arm in ("A", "B"):
        facts = m.get(arm.lower()) or {}
        env = " ".join(f"{k}={v}" for k, v in (facts.get("env") or {}).items())
        revision = (facts.get("revision") or {}).get("label")  # mlxbench ab --a-rev/--b-rev
        code = f" at {revision} (driven by the running harness)" if revision else ""
        doc.add(Paragraph([f"{arm}: ", (str(facts.get("python", "?")), "code"), code, f" {env}" if env else ""]))
    doc.add(Paragraph(["pytest: ", (" ".join(m.get("pytest_args") or []), "code")]))
    doc.add(
        Paragraph(
            [
                f"Intervals of B / A at family-wise alpha {alpha:.3g} over the run's benchmarks (Bonferroni); ",
                ("sees", "b"),
                ": the smallest change each benchmark would catch with 95% power."
                + (
                    " The ratio is B / A as the pairs of workers estimate it (their mean log ratio), not B's median "
                    "over A's."
                    if m.get("design") == "paired"
                    else ""
                ),
            ]
        )
    )
    table = rep.table()
    doc.add(DocTable(table.head(), table.cells(), row_class=0), *(Paragraph([note]) for note in table.footnotes()))
    for name in m.get("failed_only_in_b") or []:
        doc.add(Paragraph([("regressed:", "b"), " ", (name, "code"), " failed in arm B and passed in A"]))
    if image:
        doc.add(Image(PLOT, "A and B samples per benchmark"))
    return doc


def markdown(rep: ABReport, image: str | None) -> str:
    """The A/B report in Markdown; `image`: the samples plot's file name written beside it, or None."""
    return document_markdown(document(rep, image), [PLOT] if image else [])


def contents(rep: ABReport, formats: Sequence[str]) -> dict[str, bytes]:
    from mlxbench.reports.publish import dumps

    png = plot(rep) if {"md", "html"} & set(formats) else None
    files: dict[str, bytes] = {}
    for fmt in dict.fromkeys(formats):
        if fmt == "json":
            text = dumps(rep.as_json())
        elif fmt == "md":
            text = markdown(rep, PLOT if png else None)
        elif fmt == "summary":
            text = markdown(rep, None)
        else:
            uri = "data:image/png;base64," + base64.b64encode(png).decode() if png else None
            text = document_html(document(rep, uri), {PLOT: uri} if uri else {})
        files[FILES[fmt]] = text.encode("utf-8")
    if png and "md" in formats:
        files[PLOT] = png
    return files


def short(name: str) -> str:
    return name.rsplit("::", 1)[-1]


def label(name: str) -> str:
    """`linreg-mlx-gpu-ci-eager-step` from `benchmarks/test_workloads.py::test_workload[...]`."""
    test = short(name)
    return test[test.index("[") + 1 : -1] if test.endswith("]") and "[" in test else test


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _pct(value: Any) -> str:
    x = _num(value)
    return f"{x:.1%}" if x == x and x != float("inf") else "—"
