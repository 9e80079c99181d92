"""Reports from saved runs: a workloads x backends matrix, verdicts, machine facts, plots.

Renders Markdown (a GitHub job summary or PR comment), a self-contained HTML page (plots inlined),
and JSON. Every name that reaches HTML or Markdown is escaped: a benchmark called `<script>` stays
text.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench import verdict
from mlxbench.runs import BadRun, Run


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
    """95% bootstrap interval of the median; with fewer than 5 rounds, their min and max.

    NaN, infinite and negative samples are left out; with none left, the interval is the median itself."""
    data = np.asarray(samples, dtype=float).ravel()
    data = data[np.isfinite(data) & (data >= 0)]
    if data.size < 5:
        return (float(data.min()), float(data.max())) if data.size else (median, median)
    from scipy import stats

    res = stats.bootstrap(
        (data,), np.median, n_resamples=1000, confidence_level=0.95, method="percentile", rng=np.random.default_rng(0)
    )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (low, high) if math.isfinite(low) and math.isfinite(high) else (median, median)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def make_cell(b: dict) -> Cell:
    """One matrix cell; a time that is NaN or negative shows as 'n/a', a missing one is a BadRun."""
    name = b.get("fullname", "?")
    info = b.get("extra_info") or {}
    st = b.get("stats")
    if not isinstance(st, dict) or "median" not in st:
        raise BadRun(f"benchmark {name!r} has no median time in its stats: the run is damaged; rerun the benchmarks")
    median = float(st["median"]) if _finite(st["median"]) and st["median"] >= 0 else math.nan
    data = st.get("data") if isinstance(st.get("data"), list) else []
    gates = [g for g in info.get("gates") or [] if isinstance(g, dict)]
    acc = ""
    if gates:
        g = gates[0]
        metric = str(g.get("metric", "?"))
        acc = f"{metric}={g['value']:.4g}" if _finite(g.get("value")) else metric
    rates = ((k, v) for k, v in info.items() if k.endswith("_per_s") and _finite(v))
    rate = next((f"{v:,.0f} {k.removesuffix('_per_s')}/s" for k, v in rates), "")
    return Cell(
        name=name,
        workload=info.get("workload", b.get("group") or "?"),
        variant=str(info.get("variant", b.get("param") or "")),
        backend=info.get("backend", "?"),
        median=median,
        ci=median_ci(data, median) if math.isfinite(median) else (math.nan, math.nan),
        rounds=int(st["rounds"]) if _finite(st.get("rounds")) else len(data),
        accuracy=acc,
        gates_passed=all(g.get("passed") for g in gates) if gates else None,
        rate=rate,
        label=" / ".join(str(info[k]) for k in ("execution", "placement", "memory") if info.get(k)),
    )


def build(runs: Sequence[Run], reference: str = "numpy", baseline: Run | None = None) -> Report:
    rep = Report(list(runs), reference)
    try:
        rep.cells = [make_cell(b) for b in rep.current.data["benchmarks"]]
    except BadRun as exc:
        raise BadRun(f"{rep.current.path}: {exc}") from None
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
    if not _finite(seconds) or seconds < 0:  # a time is never negative: such a number means nothing
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


def contents(rep: Report, formats: Sequence[str]) -> dict[str, bytes]:
    """Every file a report of these formats consists of: report.{md,html,json}, then the plots."""
    from mlxbench import plots, render

    images = plots.make_all(rep) if {"md", "html"} & set(formats) else {}  # {filename: png bytes}
    files: dict[str, bytes] = {}
    for fmt in dict.fromkeys(formats):
        if fmt == "json":
            text = json.dumps(_strict(to_json(rep)), indent=2, default=str, allow_nan=False)
        elif fmt == "md":
            text = render.markdown(rep, list(images))
        else:
            inline = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}
            text = render.html_page(rep, inline)
        files[f"report.{fmt}"] = text.encode("utf-8")
    if "md" in formats:
        files.update(images)  # Markdown links to the plot files; HTML inlines them
    return files


def write(rep: Report, out: Path, formats: Sequence[str]) -> list[Path]:
    """Write the report files (and the plots that report.md links) into `out`, all or nothing.

    Refuses before writing anything when any of them exists. Everything is rendered in memory,
    written into a temporary folder next to `out`, then linked into place one by one, each only if
    its name is still free; on any failure (or Ctrl-C) the files placed so far, the temporary folder
    and the folders this call created are removed. Existing files are never changed.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadRun(f"--out {out} is a file, not a folder: choose a folder (it is created if missing)")
    files = contents(rep, formats)
    existing = [name for name in files if (out / name).exists() or (out / name).is_symlink()]
    if existing:
        raise BadRun(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in {out}: nothing was "
            f"written; choose another --out folder or move them away"
        )
    created = [d for d in (out, *out.parents) if not d.exists()]
    placed: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = _temp_folder(out)
        try:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            for name in files:
                try:
                    _place(tmp / name, out / name)
                except FileExistsError:
                    raise BadRun(f"{out / name} appeared while the report was written: nothing was written") from None
                placed.append(out / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as exc:
        for path in placed:
            path.unlink(missing_ok=True)
        for folder in created:  # innermost first; only the empty ones we made
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise BadRun(
                f"cannot write the report into {out} ({exc.strerror or exc}): nothing was written; "
                f"choose a writable --out folder"
            ) from None
        raise
    return placed


def _temp_folder(out: Path) -> Path:
    """A fresh folder next to `out` (inside it when its parent is read-only): an interrupted write
    leaves no file under a report's name."""
    try:
        return Path(tempfile.mkdtemp(prefix=".mlxbench-report-", dir=out.parent))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=".mlxbench-report-", dir=out))


def _place(src: Path, dst: Path) -> None:
    """Give `src`'s content the name `dst`, failing with FileExistsError if that name is taken."""
    try:
        os.link(src, dst)  # atomic, and never replaces an existing file
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: exclusive create, then copy
        with dst.open("xb") as fh:
            fh.write(src.read_bytes())


def _strict(value: Any) -> Any:
    """`value` with NaN and infinities as None, so report.json is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def safe_name(name: str) -> str:
    """A file-name-safe form of a workload name (for plot files)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
