"""Ticks of a log axis whose labels are distinct and state their ticks exactly: `x0.98 x1 x1.02 x1.04`, or
`2 ms 2.2 ms 2.4 ms`, never `x1 x1 x1.1 x1.1`.

matplotlib's log locator puts one major tick per decade and, under a decade, linear minor ticks (1.02,
1.04, ...); labelled with a fixed number of digits they repeat and sit off their values. Here one locator
chooses every tick (under a decade: a round linear step; over more: 1, 2 and 5 times a power of ten,
thinned to whole decades when that is too many), and the formatter gives all labels of the axis the
fewest significant digits (at least `least`) that write each tick exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from matplotlib.ticker import Formatter, Locator, MaxNLocator, NullFormatter, NullLocator

MOST = 8  # steps between labelled ticks on one axis, at most (so at most 9 ticks)
MAX_DIGITS = 6  # significant digits of a label, at most


def tick_values(low: float, high: float, most: int = MOST) -> list[float]:
    """Round ticks between `low` and `high` (positive): at most `most` + 1, and 2 or more where the span allows."""
    low, high = sorted((float(low), float(high)))
    if not (math.isfinite(low) and math.isfinite(high)) or high <= 0:
        return []
    low = max(low, high * 1e-12)  # a log axis shows positive values only
    if high / low < 10:  # under a decade: a linear round step (on a log axis nearly evenly spaced)
        found = list(MaxNLocator(nbins=most, steps=[1, 2, 5, 10]).tick_values(low, high))
    else:
        decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        found = [s * 10.0**k for k in decades for s in (1, 2, 5)]
        if sum(low <= t <= high for t in found) > most + 1:
            every = max(1, math.ceil(len(decades) / most))
            found = [10.0**k for k in decades if k % every == 0]
    inside = (float(f"{t:.12g}") for t in found)  # 1.0200000000000002 is the tick 1.02
    return [t for t in inside if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]


def digits(values: Sequence[float], least: int = 1) -> int:
    """The fewest significant digits, at least `least`, that write every value exactly (so distinct values get
    distinct labels)."""
    for d in range(max(least, 1), MAX_DIGITS + 1):
        if all(math.isclose(float(f"{v:.{d - 1}e}"), v, rel_tol=1e-9) for v in values if v):
            return d
    return MAX_DIGITS


class RoundTicks(Locator):
    """`tick_values` over the axis's view."""

    def __call__(self) -> list[float]:
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        return tick_values(vmin, vmax)


class ExactLabels(Formatter):
    """Labels `label(value, digits)`, with the digits every tick of the axis needs (`digits`)."""

    def __init__(self, label: Callable[[float, int], str], least: int = 1):
        self.label, self.least, self.digits = label, least, least

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        self.digits = digits(list(locs), self.least)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.label(x, self.digits) if x > 0 else ""


def ratio_label(value: float, digits: int) -> str:
    """`x1.06`, `x0.5`, `x100`: a ratio with `digits` significant digits (never an exponent)."""
    return f"x{value:.{digits}g}" if value < 10**digits else f"x{value:.0f}"


def log_axis(axis, label: Callable[[float, int], str], least: int = 1) -> None:
    """Put `tick_values` ticks labelled `label(value, digits)` on `axis` (e.g. `ax.yaxis`, already log scale);
    no minor ticks (they would be unlabelled, or labelled apart from the rest)."""
    axis.set_major_locator(RoundTicks())
    axis.set_major_formatter(ExactLabels(label, least))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
