"""Reports from saved runs: a workloads x backends matrix, verdicts, machine facts, plots.

Renders Markdown (a GitHub job summary or PR comment), a self-contained HTML page (plots inlined),
and JSON. Every name that reaches HTML or Markdown is escaped: a benchmark called `<script>` stays
text.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench import verdict
from mlxbench.runs import Run


@dataclass
class Cell:
    name: str  # the benchmark's full name
    workload: str
    variant: str
    backend: str
    median: float
    ci: tuple[float, float]
    rounds: int
    accuracy: str = ""  # "metric=value" of the first gate, with pass/fail
    gates_passed: bool | None = None
    speedup: float | None = None  # reference backend's median / this median
    rate: str = ""  # e.g. "10,498 it/s"
    label: str = ""  # what the number measures, when a workload says (e.g. "eager execution")


@dataclass
class Report:
    runs: list[Run]
    reference: str
    cells: list[Cell] = field(default_factory=list)
    verdicts: list[verdict.Result] = field(default_factory=list)
    baseline: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def current(self) -> Run:
        return self.runs[-1]


def median_ci(samples: Sequence[float], median: float) -> tuple[float, float]:
    """95% bootstrap interval of the median; with fewer than 5 rounds, their min and max."""
    data = np.asarray(samples, dtype=float)
    if data.size < 5:
        return (float(data.min()), float(data.max())) if data.size else (median, median)
    from scipy import stats

    res = stats.bootstrap(
        (data,), np.median, n_resamples=1000, confidence_level=0.95, method="percentile", rng=np.random.default_rng(0)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def make_cell(b: dict) -> Cell:
    info = b.get("extra_info") or {}
    st = b["stats"]
    gates = info.get("gates") or []
    acc = ""
    if gates:
        g = gates[0]
        acc = f"{g['metric']}={g['value']:.4g}" if isinstance(g.get("value"), (int, float)) else g["metric"]
    rate = next((f"{v:,.0f} {k.removesuffix('_per_s')}/s" for k, v in info.items() if k.endswith("_per_s")), "")
    return Cell(
        name=b["fullname"],
        workload=info.get("workload", b.get("group") or "?"),
        variant=str(info.get("variant", b.get("param") or "")),
        backend=info.get("backend", "?"),
        median=st["median"],
        ci=median_ci(st.get("data") or [], st["median"]),
        rounds=st["rounds"],
        accuracy=acc,
        gates_passed=all(g.get("passed") for g in gates) if gates else None,
        rate=rate,
        label=" / ".join(str(info[k]) for k in ("execution", "placement", "memory") if info.get(k)),
    )


def build(runs: Sequence[Run], reference: str = "numpy", baseline: Run | None = None) -> Report:
    rep = Report(list(runs), reference)
    rep.cells = [make_cell(b) for b in rep.current.data["benchmarks"]]
    ref = {(c.workload, c.variant): c.median for c in rep.cells if c.backend == reference}
    for c in rep.cells:
        if (c.workload, c.variant) in ref and c.median > 0:
            c.speedup = ref[(c.workload, c.variant)] / c.median
    if rep.current.facts.get("virtual_gpu"):
        rep.notes.append("These timings come from a paravirtual GPU (a hosted macOS VM): correctness only, not gating.")
    if baseline is None and len(runs) > 1:
        baseline = runs[-2]
    if baseline is not None:
        from mlxbench.gate import RegressionGate, judge_run

        rep.baseline = baseline.label
        given = list(runs)
        earlier = given[: given.index(baseline)] if baseline in given else []
        rep.verdicts = judge_run(RegressionGate.from_runs(baseline, earlier, None), rep.current)
    return rep


def fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def machine_rows(run: Run) -> list[tuple[str, str]]:
    f, mi = run.facts, run.data.get("machine_info") or {}
    blas = f.get("blas") or {}
    commit = (run.data.get("commit_info") or {}).get("id", "?")
    threads = {**(f.get("thread_env") or f.get("threads") or {}), "torch": f.get("torch_threads")}
    for pool in (f.get("blas") or {}).get("threadpools") or []:
        threads[pool.get("internal_api") or "?"] = pool.get("num_threads")
    rows = [
        ("machine id", f.get("machine_id", "?")),
        ("CPU", f"{f.get('cpu_model', mi.get('processor', '?'))} ({f.get('cpu_count', '?')} cores)"),
        ("GPU", ", ".join(f.get("gpus") or []) or "none"),
        ("frameworks", ", ".join(f"{k} {v}" for k, v in (f.get("versions") or {}).items())),
        (
            "BLAS",
            "; ".join(
                f"{k}: {v.get('blas') if isinstance(v, dict) else v}"
                for k, v in blas.items()
                if k in ("numpy", "torch", "mlx") and v
            ),
        ),
        ("threads", ", ".join(f"{k}={v}" for k, v in threads.items() if v is not None) or "defaults"),
        ("python", mi.get("python_version", "?")),
        ("profile", run.profile or "?"),
        ("run", f"{run.label} ({run.data.get('datetime', '?')}, commit {commit})"),
    ]
    return rows


def to_json(rep: Report) -> dict[str, Any]:
    return {
        "runs": [str(r.path) for r in rep.runs],
        "reference_backend": rep.reference,
        "baseline": rep.baseline,
        "machine": rep.current.facts,
        "notes": rep.notes,
        "matrix": [c.__dict__ | {"ci": list(c.ci)} for c in rep.cells],
        "verdicts": [v.as_dict() for v in rep.verdicts],
    }


def write(rep: Report, out: Path, formats: Sequence[str]) -> list[Path]:
    """Write report.{md,html,json} (and the plots) into `out`; refuses to overwrite existing files."""
    from mlxbench import plots, render

    names = {"md": "report.md", "html": "report.html", "json": "report.json"}
    targets = [out / names[f] for f in formats]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise FileExistsError(f"{', '.join(existing)} already exist; choose another --out folder or remove them")
    out.mkdir(parents=True, exist_ok=True)
    images = plots.make_all(rep)  # {filename: png bytes}
    written = []
    for fmt, target in zip(formats, targets, strict=True):
        if fmt == "json":
            target.write_text(json.dumps(to_json(rep), indent=2, default=str))
        elif fmt == "md":
            for fname, png in images.items():
                (out / fname).write_bytes(png)
            target.write_text(render.markdown(rep, list(images)))
        else:
            inline = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}
            target.write_text(render.html_page(rep, inline))
        written.append(target)
    return written


def safe_name(name: str) -> str:
    """A file-name-safe form of a workload name (for plot files)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
