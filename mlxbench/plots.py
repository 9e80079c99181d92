"""Report plots (matplotlib, no display): per-workload bars with intervals, history lines."""

from __future__ import annotations

import io
from collections import defaultdict

import numpy as np

from mlxbench import verdict
from mlxbench.report import Report, safe_name


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and np.isfinite(value) and value > 0


def _length(value: float) -> float:
    """An error-bar length: finite and >= 0 (matplotlib rejects negative ones)."""
    return float(value) if np.isfinite(value) and value > 0 else 0.0


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def bars(rep: Report, workload: str) -> bytes:
    import matplotlib.pyplot as plt

    cells = [c for c in rep.cells if c.workload == workload]
    variants = list(dict.fromkeys(c.variant for c in cells))
    backends = list(dict.fromkeys(c.backend for c in cells))
    width = 0.8 / max(len(backends), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(variants) * max(1, len(backends)) ** 0.5 + 3), 4.2))
    x = np.arange(len(variants))
    for i, backend in enumerate(backends):
        med, lo, hi = [], [], []
        for v in variants:
            c = next((c for c in cells if c.variant == v and c.backend == backend), None)
            m = c.median if c and _positive(c.median) else np.nan  # a log axis shows positive times only
            med.append(m)
            lo.append(_length(m - c.ci[0]) if c and _positive(m) else 0.0)
            hi.append(_length(c.ci[1] - m) if c and _positive(m) else 0.0)
        ax.bar(x + (i - (len(backends) - 1) / 2) * width, med, width, yerr=[lo, hi], capsize=2, label=backend)
    ax.set_xticks(x, variants, rotation=45 if len(variants) > 4 else 0, ha="right" if len(variants) > 4 else "center")
    if any(_positive(c.median) for c in cells):
        ax.set_yscale("log")  # matplotlib refuses a log axis with no positive value on it
    else:
        ax.text(0.5, 0.5, "no usable times (NaN or 0)", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("median time per round (s, log)")
    ax.set_title(f"{workload}: median with 95% interval, by backend")
    ax.legend(fontsize=8, ncol=min(len(backends), 3))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def history(rep: Report, workload: str) -> bytes | None:
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float, bool]]] = defaultdict(list)
    previous: dict[str, dict] = {}
    for i, run in enumerate(rep.runs):
        for name, b in run.benchmarks.items():
            if (b.get("extra_info") or {}).get("workload") != workload:
                continue
            regressed = False
            if name in previous:
                res = verdict.compare_samples(
                    name,
                    (previous[name].get("stats") or {}).get("data") or [],
                    (b.get("stats") or {}).get("data") or [],
                )
                regressed = res.regressed
            median = (b.get("stats") or {}).get("median")
            if _positive(median):  # NaN, zero or negative medians have no place on a ratio line
                series[name].append((i, float(median), regressed))
            previous[name] = b
    if not series or len(rep.runs) < 2:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, pts in series.items():
        xs, ys = [p[0] for p in pts], [p[1] / pts[0][1] for p in pts]
        short = name.split("[", 1)[-1].rstrip("]")
        ax.plot(xs, ys, marker="o", ms=3, lw=1, label=short)
        bad = [(x, y) for (x, y), p in zip(zip(xs, ys, strict=True), pts, strict=True) if p[2]]
        if bad:
            ax.scatter(*zip(*bad, strict=True), marker="x", s=80, color="red", zorder=5)
    ax.scatter([], [], marker="x", color="red", label="regressed vs the previous run (its rounds only)")
    ax.set_xticks(range(len(rep.runs)), [r.label[:16] for r in rep.runs], rotation=30, ha="right")
    ax.set_ylabel("median / first run")
    ax.set_title(f"{workload}: history on {rep.current.facts.get('machine_id', 'this machine')}", fontsize=9)
    if len(series) <= 12:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def make_all(rep: Report) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    images = {}
    for workload in dict.fromkeys(c.workload for c in rep.cells):
        images[f"bars_{safe_name(workload)}.png"] = bars(rep, workload)
        h = history(rep, workload)
        if h is not None:
            images[f"history_{safe_name(workload)}.png"] = h
    return images
