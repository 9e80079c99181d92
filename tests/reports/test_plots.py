"""What makes a plot readable, checked on the figures themselves: one colour per backend everywhere, the
star above the error bar, no line across days without runs, machines side by side with labelled axes."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from mlxbench.reports import plots


def test_a_backend_has_one_colour_in_every_plot():
    assert plots.backend_colour("numpy") == plots.backend_colour("numpy") != plots.backend_colour("mlx-cpu")
    assert len({plots.backend_colour(b) for b in plots.BACKEND_ORDER}) == len(plots.BACKEND_ORDER)
    assert plots.backend_colour("my-backend") == plots.backend_colour("my-backend") in plots.PALETTE


def test_the_star_sits_above_the_error_bar_not_on_its_cap():
    fig, ax = plt.subplots()
    values = {("v", "numpy"): (1.0, 0.8, 1.5), ("v", "mlx-cpu"): (3.0, 2.9, 3.1)}
    plots.grouped_bars(ax, ["v"], ["numpy", "mlx-cpu"], values)
    (star,) = [t for t in ax.texts if t.get_text() == "★"]
    assert star.xy[1] == 1.5 and star.get_va() == "bottom"  # anchored at the upper cap, drawn above it
    bars = [p for p in ax.patches]
    assert {matplotlib.colors.to_hex(b.get_facecolor()) for b in bars} == {
        plots.backend_colour("numpy"),
        plots.backend_colour("mlx-cpu"),
    }
    plt.close(fig)


def test_history_lines_break_across_days_without_runs():
    day = datetime(2026, 11, 23, 6)
    xs = [day, day + timedelta(hours=1), day + timedelta(days=6)]
    _, out_y = plots.broken(xs, [1.0, 1.1, 0.9], dated=True)
    assert [y == y for y in out_y] == [True, True, False, True]  # a NaN between the 23rd and the 29th
    nightly = [day + timedelta(days=i) for i in range(5)]
    assert all(not math.isnan(y) for y in plots.broken(nightly, [1.0] * 5, dated=True)[1])


def test_machines_side_by_side_one_row_per_machine_with_every_variant_labelled(monkeypatch):
    made = {}
    real = plots._png

    def keep(fig):
        made["fig"] = fig
        return real(fig)

    monkeypatch.setattr(plots, "_png", keep)
    variants = [f"v{i}" for i in range(18)]
    machines, backends = ["box-a", "box-b"], ["numpy", "mlx-cpu"]
    values = {
        (v, m, b): 1e-3 * (1 + i) * (2 if b == "mlx-cpu" else 1)
        for i, v in enumerate(variants)
        for m in machines
        for b in backends
    }
    values[("v0", "box-b", "numpy")] = 1e-4  # the fastest of v0
    png = plots.machines_dots("w", variants, machines, backends, values)
    assert png.startswith(b"\x89PNG")
    fig = made["fig"]
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == machines
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == variants
    for ax in axes:
        colours = {matplotlib.colors.to_hex(line.get_color()) for line in ax.get_lines()}
        assert colours == {plots.backend_colour(b) for b in backends}
    stars = [(ax.get_title(loc="left"), t.xy) for ax in axes for t in ax.texts if t.get_text() == "★"]
    assert len(stars) == 18  # one per variant, over every machine and backend
    (v0,) = [xy for title, xy in stars if title == "box-b"]
    assert np.isclose(v0[1], 1e-4) and v0[0] < 0.5  # on box-b's numpy dot of v0
    assert fig.legends and fig.legends[0].get_title().get_text() == "backend"
