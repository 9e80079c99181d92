"""Report plots (matplotlib, no display): per-workload bars, dated history in small multiples,
machines side by side. Legends sit outside the data; every axis is labelled.

The history plots mark the regression gate's own verdicts (Report.history_verdicts, the same
judge_run that fills the verdict table) and the change points (Report.changes).
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from mlxbench.reports import logticks
from mlxbench.reports.report import Report, image_name, run_time
from mlxbench.units import fmt_time

PANEL_LINES = 8  # at most this many lines in one history panel
PANEL_COLUMNS = 3
GAP = 1.5 * 86_400.0  # seconds: runs further apart than this (and 3x the usual spacing) are not joined
# One colour per backend in every plot of every report (the tab10 palette; other backends after these).
BACKEND_ORDER = ("numpy", "torch-cpu", "mlx-cpu", "jax-cpu", "mlx-gpu", "torch-cuda", "torch-mps", "jax-gpu")
PALETTE = ("#ff7f0e", "#2ca02c", "#1f77b4", "#8c564b", "#9467bd", "#d62728", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f")


def backend_colour(name: str) -> str:
    """The colour of a backend, the same in every plot (a name not listed gets a stable one of its own)."""
    if name in BACKEND_ORDER:
        return PALETTE[BACKEND_ORDER.index(name)]
    import zlib

    return PALETTE[len(BACKEND_ORDER) + zlib.crc32(name.encode()) % (len(PALETTE) - len(BACKEND_ORDER))]


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and np.isfinite(value) and value > 0


def _length(value: float) -> float:
    """An error-bar length: finite and >= 0 (matplotlib rejects negative ones)."""
    return float(value) if np.isfinite(value) and value > 0 else 0.0


def log_time_axis(ax) -> None:
    """A log y axis of times: round ticks labelled as `2.5 ms`, distinct and exact (mlxbench.reports.logticks)."""
    ax.set_yscale("log")  # first: setting the scale resets the ticks
    logticks.log_axis(ax.yaxis, lambda v, digits: fmt_time(v, digits), least=3)  # 3: 100 µs, never 1e+02 µs


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def grouped_bars(
    ax, groups: Sequence[str], series: Sequence[str], values: Mapping[tuple[str, str], tuple[float, float, float]]
) -> None:
    """Bars per group (x) and series (colour) on a log axis; values: (group, series) -> (median, low, high).
    The fastest bar of each group gets a star above it."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, s in enumerate(series):
        med, lo, hi = [], [], []
        for g in groups:
            m, low, high = values.get((g, s), (math.nan, math.nan, math.nan))
            m = m if _positive(m) else np.nan  # a log axis shows positive times only
            med.append(m)
            lo.append(_length(m - low) if _positive(m) else 0.0)
            hi.append(_length(high - m) if _positive(m) else 0.0)
        offset = (i - (len(series) - 1) / 2) * width
        ax.bar(x + offset, med, width, yerr=[lo, hi], capsize=2, label=s, color=backend_colour(s))
    for j, g in enumerate(groups):
        times = [
            (values[(g, s)][0], i) for i, s in enumerate(series) if (g, s) in values and _positive(values[(g, s)][0])
        ]
        if len(times) > 1:
            best, i = min(times)
            high = values[(g, series[i])][2]
            top = high if _positive(high) and high >= best else best  # above the error bar's cap, not on it
            ax.annotate(
                "★",
                (x[j] + (i - (len(series) - 1) / 2) * width, top),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=9,
            )
    many = len(groups) > 4
    ax.set_xticks(x, groups, rotation=45 if many else 0, ha="right" if many else "center", fontsize=8)
    if any(_positive(v[0]) for v in values.values()):
        log_time_axis(ax)  # matplotlib refuses a log axis with no positive value on it
    else:
        ax.text(0.5, 0.5, "no usable times (NaN or 0)", ha="center", va="center", transform=ax.transAxes)
    ax.grid(axis="y", alpha=0.3)


def bars(rep: Report, workload: str) -> bytes:
    import matplotlib.pyplot as plt

    cells = [c for c in rep.cells if c.workload == workload]
    variants = list(dict.fromkeys(c.variant for c in cells))
    backends = list(dict.fromkeys(c.backend for c in cells))
    values = {(c.variant, c.backend): (c.median, c.ci[0], c.ci[1]) for c in cells}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(variants) * max(1, len(backends)) + 2), 4.2))
    grouped_bars(ax, variants, backends, values)
    ax.set_xlabel("variant")
    ax.set_ylabel("median time per call (log scale)")
    ax.set_title(f"{workload}: median with 95% interval by backend (★ fastest)", fontsize=10)
    ax.legend(title="backend", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def panels(rep: Report, workload: str) -> list[tuple[str, list[str]]]:
    """(panel title, benchmark names) for the history plot: one panel per backend; a backend with more
    than PANEL_LINES variants gets one panel per variant group (the variant's first word), chunked."""
    by_backend: dict[str, list[tuple[str, str]]] = {}
    for c in rep.cells:
        if c.workload == workload:
            by_backend.setdefault(c.backend, []).append((c.variant.split("-")[0], c.name))
    out = []
    for backend, entries in by_backend.items():
        if len(entries) <= PANEL_LINES:
            out.append((backend, [name for _, name in entries]))
            continue
        groups: dict[str, list[str]] = {}
        for group, name in entries:
            groups.setdefault(group, []).append(name)
        for group, names in groups.items():
            chunks = [names[i : i + PANEL_LINES] for i in range(0, len(names), PANEL_LINES)]
            for k, chunk in enumerate(chunks):
                out.append((f"{backend} · {group}" + (f" ({k + 1})" if len(chunks) > 1 else ""), chunk))
    return out


def broken(xs: list, ys: list[float], dated: bool) -> tuple[list, list[float]]:
    """The points of a history line with a break (NaN) between runs made far apart (more than GAP, and
    more than 3x the usual spacing once there are 3 gaps to tell it): a line drawn across days without
    runs suggests a trend nobody measured. Nightly runs (a day apart) stay joined."""
    if not dated or len(xs) < 2:
        return xs, ys
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(xs)]
    limit = max(GAP, 3 * float(np.median(gaps))) if len(gaps) >= 3 else GAP
    out_x, out_y = [xs[0]], [ys[0]]
    for gap, x, y in zip(gaps, xs[1:], ys[1:], strict=True):
        if gap > limit:
            out_x.append(x)
            out_y.append(math.nan)
        out_x.append(x)
        out_y.append(y)
    return out_x, out_y


def history(rep: Report, workload: str) -> bytes | None:
    import matplotlib.pyplot as plt

    if len(rep.runs) < 2:
        return None
    times = [run_time(r) for r in rep.runs]
    dated = all(t is not None for t in times)
    xs_all = times if dated else list(range(len(rep.runs)))
    layout = panels(rep, workload)
    if not layout:
        return None
    variant = {c.name: c.variant for c in rep.cells}
    ncols = min(PANEL_COLUMNS, len(layout))
    nrows = math.ceil(len(layout) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), squeeze=False)
    changes = [c for c in rep.changes if c.workload == workload]
    for ax, (title, names) in zip(axes.flat, layout, strict=False):
        for name in names:
            pts = []
            for i, run in enumerate(rep.runs):
                median = ((run.benchmarks.get(name) or {}).get("stats") or {}).get("median")
                if _positive(median):  # NaN, zero or negative medians have no place on a ratio line
                    pts.append((i, float(median)))
            if not pts:
                continue
            xs, ys = [xs_all[i] for i, _ in pts], [m / pts[0][1] for _, m in pts]
            (line,) = ax.plot(*broken(xs, ys, dated), marker="o", ms=3, lw=1, label=variant.get(name, name))
            for (i, _), x, y in zip(pts, xs, ys, strict=True):
                v = rep.history_verdicts[i].get(name) if i < len(rep.history_verdicts) else None
                if v is not None and v.verdict == "regressed":
                    ax.scatter([x], [y], marker="x", s=70, color="red", zorder=5)
                elif v is not None and v.verdict == "improved":
                    ax.scatter([x], [y], marker="^", s=50, color="green", zorder=5)
            for ch in (c for c in changes if c.name == name):
                ax.axvline(xs_all[ch.index], color=line.get_color(), ls="--", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("median / first run", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        if ax.get_lines():
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="variant", title_fontsize=7)
    for ax in axes.flat[len(layout) :]:
        ax.set_visible(False)
    for ax in axes.flat[: len(layout)]:
        ax.set_xlabel("run date (UTC)" if dated else "saved run (oldest first)", fontsize=8)
        if dated:
            import matplotlib.dates as mdates

            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    from matplotlib.lines import Line2D

    keys = [
        Line2D([], [], marker="x", color="red", ls="", label="regressed (gate verdict)"),
        Line2D([], [], marker="^", color="green", ls="", label="improved (gate verdict)"),
        Line2D([], [], color="gray", ls="--", label="change point"),
    ]
    fig.legend(handles=keys, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    machine = rep.current.facts.get("machine_id", "this machine")
    fig.suptitle(f"{workload}: median per saved run on {machine}", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return _png(fig)


def machines_dots(
    workload: str,
    variants: Sequence[str],
    machines: Sequence[str],
    backends: Sequence[str],
    values: Mapping[tuple[str, str, str], float],
) -> bytes:
    """One row of panels per machine (shared axes): each variant's median per backend as a dot, one colour
    per backend in every row; the fastest machine + backend of each variant is starred."""
    import matplotlib.pyplot as plt

    width = max(7.0, 0.42 * len(variants) + 3.0)
    fig, axes = plt.subplots(
        len(machines), 1, figsize=(width, 2.3 * len(machines) + 1.4), sharex=True, sharey=True, squeeze=False
    )
    x = np.arange(len(variants))
    spread = 0.6 / max(len(backends), 1)
    best = {}
    for v in variants:
        found = [(values[(v, m, b)], m, b) for m in machines for b in backends if _positive(values.get((v, m, b)))]
        if found:
            best[v] = min(found)
    for ax, m in zip(axes[:, 0], machines, strict=True):
        for k, b in enumerate(backends):
            xs = [x[i] + (k - (len(backends) - 1) / 2) * spread for i, v in enumerate(variants)]
            ys = [values.get((v, m, b), math.nan) for v in variants]
            ys = [y if _positive(y) else math.nan for y in ys]
            if any(y == y for y in ys):
                ax.plot(xs, ys, "o", ms=5, color=backend_colour(b), label=b)
            for xi, y, v in zip(xs, ys, variants, strict=True):
                if v in best and best[v][1:] == (m, b):
                    ax.annotate("★", (xi, y), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=10)
        log_time_axis(ax)
        ax.tick_params(axis="y", labelsize=7, which="both")
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(m, fontsize=8, loc="left")
        ax.set_ylabel("median (log)", fontsize=8)
    axes[-1, 0].set_xticks(x, variants, rotation=45, ha="right", fontsize=8)
    axes[-1, 0].set_xlabel("variant")
    handles = {}
    for ax in axes[:, 0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(
        handles.values(),
        handles.keys(),
        title="backend",
        loc="upper right",
        ncol=min(len(handles), 6),
        fontsize=8,
        bbox_to_anchor=(1.0, 1.0),
    )
    fig.suptitle(f"{workload}: machines side by side (★ fastest of each variant)", fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / fig.get_figheight()))
    return _png(fig)


def make_all(rep: Report) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    images = {}
    for workload in dict.fromkeys(c.workload for c in rep.cells):
        images[image_name("bars", workload)] = bars(rep, workload)
        h = history(rep, workload)
        if h is not None:
            images[image_name("history", workload)] = h
    if rep.sweep:
        from mlxbench.reports import sweepplots

        images.update(sweepplots.figures(rep.sweep.lines, rep.sweep.crossovers))
    return images
