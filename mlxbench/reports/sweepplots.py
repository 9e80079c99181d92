"""Sweep plots (matplotlib, Agg): time and throughput against size on log-log axes, one line per backend
and series with the band its rounds span, crossovers marked; peak memory against size. PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

from mlxbench.reports.sweep import Crossover, Line

STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")


def _figure(width: float, height: float):
    """A figure outside pyplot (no global backend or figure registry is touched); PNG through Agg."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def groups(lines: Sequence[Line]) -> dict[tuple[str, str], list[Line]]:
    """Lines by (workload, axis): one figure each."""
    out: dict[tuple[str, str], list[Line]] = {}
    for line in lines:
        out.setdefault((line.workload, line.axis), []).append(line)
    return out


def _styles(lines: Sequence[Line]) -> tuple[dict[str, str], dict[str, str]]:
    import matplotlib

    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    backends = list(dict.fromkeys(ln.backend for ln in lines))
    series = list(dict.fromkeys(ln.series for ln in lines))
    return (
        {b: colors[i % len(colors)] for i, b in enumerate(backends)},
        {s: STYLES[i % len(STYLES)] for i, s in enumerate(series)},
    )


def _label(line: Line, many_series: bool) -> str:
    return f"{line.backend} {line.series}" if many_series else line.backend


def time_plot(lines: Sequence[Line], crossings: Sequence[Crossover] = ()) -> bytes:
    """Seconds per call (left) and throughput in work units per second (right) against size, log-log;
    one row of panels per series (e.g. lazy_eval's four chains), crossovers marked with their interval."""
    color, _ = _styles(lines)
    series = list(dict.fromkeys(ln.series for ln in lines))
    fig = _figure(12, 4.2 * len(series))
    axes = fig.subplots(len(series), 2, squeeze=False)
    workload, axis, unit = lines[0].workload, lines[0].axis, lines[0].unit or "work"
    for row, name in enumerate(series):
        ax_t, ax_w = axes[row]
        for i, line in enumerate(ln for ln in lines if ln.series == name):
            x = [p.value for p in line.points]
            kw = dict(color=color[line.backend], marker=MARKERS[i % len(MARKERS)], ms=4)
            ax_t.plot(x, [p.median for p in line.points], label=line.backend, **kw)
            ax_t.fill_between(
                x, [p.low for p in line.points], [p.high for p in line.points], color=kw["color"], alpha=0.2
            )
            ax_w.plot(x, [p.work / p.median for p in line.points], label=line.backend, **kw)
            lows, highs = [p.work / p.high for p in line.points], [p.work / p.low for p in line.points]
            ax_w.fill_between(x, lows, highs, color=kw["color"], alpha=0.2)
        mine = [c for c in crossings if c.series == name and c.at is not None and c.seconds_at is not None]
        for k, c in enumerate(mine):
            lo, hi = c.low if c.low is not None else c.at, c.high if c.high is not None else c.at
            ax_t.errorbar(
                [c.at],
                [c.seconds_at],
                xerr=[[c.at - lo], [hi - c.at]],
                fmt="X",
                color="black",
                ms=8,
                capsize=3,
                elinewidth=1,
                zorder=5,
                label="crossover (interval)" if k == 0 else None,
            )
            ax_t.annotate(
                f"{c.faster_after} > {c.faster_before}",
                (c.at, c.seconds_at),
                textcoords="offset points",
                xytext=(6, -12 - 9 * (k % 3)),
                fontsize=7,
            )
        title = f"{workload} [{name}]" if len(series) > 1 else workload
        for ax, ylabel in ((ax_t, "seconds per call (band: rounds)"), (ax_w, f"{unit} per second")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(axis)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.25)
        ax_t.legend(fontsize=7, loc="upper left")
        ax_t.set_title(f"{title}: time against {axis}", fontsize=10)
        ax_w.set_title(f"{title}: throughput against {axis}", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def memory_plot(lines: Sequence[Line]) -> bytes | None:
    """Peak memory of one measured call against size, log-log; None when no point has a reading."""
    with_memory = [ln for ln in lines if any(p.peak_bytes for p in ln.points)]
    if not with_memory:
        return None
    color, style = _styles(with_memory)
    many = len(style) > 1
    fig = _figure(6.5, 4.4)
    ax = fig.subplots()
    for i, line in enumerate(with_memory):
        pts = [p for p in line.points if p.peak_bytes]
        ax.plot(
            [p.value for p in pts],
            [p.peak_bytes / 2**20 for p in pts],
            label=f"{_label(line, many)} ({line.memory_kind or 'peak'})",
            color=color[line.backend],
            linestyle=style[line.series],
            marker=MARKERS[i % len(MARKERS)],
            ms=4,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(with_memory[0].axis)
    ax.set_ylabel("peak memory of a call (MiB)")
    ax.text(
        0.01,
        -0.2,
        "peak: the framework allocator's; process_peak: resident size above the call's start "
        "(0, not drawn, where freed pages were reused)",
        transform=ax.transAxes,
        fontsize=6.5,
    )
    ax.set_title(f"{with_memory[0].workload}: peak memory against {with_memory[0].axis}")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    return _png(fig)


def figures(lines: Sequence[Line], crossings: Sequence[Crossover] = ()) -> dict[str, bytes]:
    """Every sweep plot by file name: `sweep-<workload>-<axis>.png` and `sweep-memory-<workload>-<axis>.png`."""
    out = {}
    for (workload, axis), group in groups(lines).items():
        mine = [c for c in crossings if (c.workload, c.axis) == (workload, axis)]
        out[f"sweep-{workload}-{axis}.png"] = time_plot(group, mine)
        memory = memory_plot(group)
        if memory is not None:
            out[f"sweep-memory-{workload}-{axis}.png"] = memory
    return out
