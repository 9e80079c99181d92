"""Machines side by side: per workload, a (variant, machine) x backend table of medians, the fastest
machine + backend of each variant, the facts that explain the numbers, and grouped bars.

Each machine is the last saved run of one profile in its folder under the baseline storage.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlxbench.reports.document import Document, Heading, Image, Items, Paragraph, Table, html, markdown
from mlxbench.reports.publish import dumps, safe_name, strict
from mlxbench.reports.report import Cell, image_name, machine_rows, make_cell
from mlxbench.reports.selection import newest_first
from mlxbench.runs import BadRun, Run
from mlxbench.units import fmt_time

FILES = {"md": "machines.md", "summary": "machines-summary.md", "html": "machines.html", "json": "machines.json"}


@dataclass
class Machines:
    profile: str
    runs: dict[str, Run]  # machine id (folder name) -> its last run of the profile
    cells: dict[str, list[Cell]]  # machine id -> cells of that run
    skipped: list[str]  # why a folder gave no run

    def workloads(self) -> list[str]:
        return list(dict.fromkeys(c.workload for cells in self.cells.values() for c in cells))

    def table(self, workload: str) -> tuple[list[str], list[str], dict[tuple[str, str, str], Cell]]:
        """(variants, backends, {(variant, machine, backend): cell})."""
        variants, backends, found = [], [], {}
        for machine, cells in self.cells.items():
            for c in cells:
                if c.workload != workload:
                    continue
                variants += [c.variant] if c.variant not in variants else []
                backends += [c.backend] if c.backend not in backends else []
                found[(c.variant, machine, c.backend)] = c
        return variants, backends, found

    def fastest(self, workload: str) -> dict[str, tuple[str, str]]:
        """variant -> (machine, backend) with the lowest median."""
        variants, _, found = self.table(workload)
        out = {}
        for v in variants:
            timed = [
                (c.median, m, b) for (vv, m, b), c in found.items() if vv == v and c.median == c.median and c.median > 0
            ]
            if timed:
                _, m, b = min(timed)
                out[v] = (m, b)
        return out


def default_folder(ms: Machines) -> Path:
    """reports/machines-<profile>-<N>-<digest>/: named after the runs it shows (the digest of their paths), so
    that a later run, or other machines, never meet this report's files."""
    runs = "\n".join(f"{m}:{r.path.name}" for m, r in sorted(ms.runs.items()))
    digest = hashlib.sha256(runs.encode()).hexdigest()[:8]
    return Path("reports") / f"machines-{safe_name(ms.profile)}-{len(ms.runs)}-{digest}"


def load(storage: Path, names: Sequence[str], profile: str) -> Machines:
    """The last `profile` run of each named machine folder (all folders under `storage` if none named)."""
    if names:
        if odd := [n for n in names if not n.strip() or Path(n).name != n or n in (".", "..")]:
            raise BadRun(f"--machines {odd[0]!r}: give the name of a machine folder under {storage}, not a path")
        folders = [storage / n for n in names]
        files = [str(f) for f in folders if f.exists() and not f.is_dir()]
        if files:
            what = "is a file" if len(files) == 1 else "are files"
            raise BadRun(f"--machines: {', '.join(files)} {what}, not a machine folder; name folders under {storage}")
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:
            known = ", ".join(sorted(p.name for p in storage.iterdir() if p.is_dir())) if storage.is_dir() else "none"
            raise BadRun(f"no machine folder {', '.join(missing)}; machine folders in {storage}: {known}")
    else:
        folders = sorted(p for p in storage.iterdir() if p.is_dir()) if storage.is_dir() else []
    runs, skipped = {}, []
    for folder in folders:
        profiles, bad = set(), []
        for run in newest_first(folder):  # the newest run of the profile: older files are not read
            if isinstance(run, BadRun):
                bad.append(run)
            elif run.profile == profile:
                runs[folder.name] = run
                break
            else:
                profiles.add(str(run.profile))
        skipped += [f"unreadable saved run, left out: {exc}" for exc in reversed(bad)]
        if folder.name not in runs:
            kinds = ", ".join(sorted(profiles)) or "none"
            skipped.append(f"{folder.name}: no saved run of the {profile} profile (it has: {kinds})")
    if not runs:
        raise BadRun(
            f"no machine under {storage} has a saved run of the {profile} profile "
            f"({'; '.join(skipped) or 'no folders'}): "
            "name machine folders that hold such runs, or choose another --profile"
        )
    cells = {}
    for machine, run in runs.items():
        try:
            cells[machine] = [make_cell(b) for b in run.data["benchmarks"]]
        except BadRun as exc:
            raise BadRun(f"{run.path}: {exc}") from None
    return Machines(profile, runs, cells, skipped)


def fastest_tally(ms: Machines, workload: str) -> list[str]:
    """'Linux-... · numpy: fastest in 14 of 18 variants', most wins first."""
    best = ms.fastest(workload)
    wins: dict[tuple[str, str], list[str]] = {}
    for v, pair in best.items():
        wins.setdefault(pair, []).append(v)
    n = len(ms.table(workload)[0])
    return [
        f"{m} · {b}: fastest in {len(vs)} of {n} variant{'s' * (n != 1)}"
        + (f" ({', '.join(vs)})" if len(vs) <= 3 else "")
        for (m, b), vs in sorted(wins.items(), key=lambda kv: -len(kv[1]))
    ]


def rows(ms: Machines, workload: str) -> tuple[list[str], list[list[str]]]:
    """Head and rows of a workload's table: variant, machine, then one column per backend."""
    variants, backends, found = ms.table(workload)
    best = ms.fastest(workload)
    out = []
    for v in variants:
        for m in ms.runs:
            if not any((v, m, b) in found for b in backends):
                continue
            row = [v, m]
            for b in backends:
                c = found.get((v, m, b))
                row.append("–" if c is None else fmt_time(c.median) + (" ★ fastest" if best.get(v) == (m, b) else ""))
            out.append(row)
    return ["variant", "machine", *backends], out


def fact_rows(ms: Machines) -> tuple[list[str], list[list[str]]]:
    keys = ("CPU", "GPU", "frameworks", "BLAS", "threads", "python", "run")
    facts = {m: dict(machine_rows(run)) for m, run in ms.runs.items()}
    return ["fact", *ms.runs], [[k, *(facts[m].get(k, "?") for m in ms.runs)] for k in keys]


def title(ms: Machines) -> str:
    return f"mlxbench machines side by side — {len(ms.runs)} machine{'s' * (len(ms.runs) != 1)}, {ms.profile} profile"


def document(ms: Machines) -> Document:
    """The machines report as blocks (mlxbench.reports.document), rendered by every format."""
    doc = Document(title(ms))
    doc.add(*(Paragraph([s], "note") for s in ms.skipped))
    doc.add(Heading("Machines"), Table(*fact_rows(ms), row_header=True))
    for w in ms.workloads():
        doc.add(Heading(w), Items([("", line) for line in fastest_tally(ms, w)], strong=True))
        doc.add(Table(*rows(ms, w)), Image(image_name("machines", w)))
    return doc


def to_json(ms: Machines) -> dict:
    return {
        "title": title(ms),
        "profile": ms.profile,
        "machines": {m: {"run": str(r.path), "facts": r.facts} for m, r in ms.runs.items()},
        "skipped": ms.skipped,
        "workloads": {
            w: {
                "fastest": {v: {"machine": m, "backend": b} for v, (m, b) in ms.fastest(w).items()},
                "medians": [
                    {"variant": v, "machine": m, "backend": b, "median": c.median, "ci": list(c.ci)}
                    for (v, m, b), c in ms.table(w)[2].items()
                ],
            }
            for w in ms.workloads()
        },
    }


def contents(ms: Machines, formats: Sequence[str]) -> dict[str, bytes]:
    from mlxbench.reports import plots

    images = {}
    if {"md", "html"} & set(formats):
        import matplotlib

        matplotlib.use("Agg")
        for w in ms.workloads():
            variants, backends, found = ms.table(w)
            medians = {key: c.median for key, c in found.items()}
            images[image_name("machines", w)] = plots.machines_dots(w, variants, list(ms.runs), backends, medians)
    files = {}
    for fmt in dict.fromkeys(formats):
        if fmt == "json":
            text = dumps(strict(to_json(ms)))
        elif fmt in ("md", "summary"):
            text = markdown(document(ms), list(images) if fmt == "md" else [])
        else:
            text = html(
                document(ms), {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}
            )
        files[FILES[fmt]] = text.encode("utf-8")
    if "md" in formats:
        files.update(images)
    return files
