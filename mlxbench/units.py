"""Numbers in the units people read: times, sizes in bytes, speed ratios. One place for all outputs
(terminal summary, reports, compare, A/B tables)."""

from __future__ import annotations

import math

TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6))
BYTE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def _number(x: float, digits: int) -> str:
    return f"{x:.{digits}g}" if x < 1000 else f"{x:,.0f}"


def fmt_time(seconds: float | None, digits: int = 3) -> str:
    """`1.36 s`, `139.6 ms` (digits=4), `12.1 µs`, `850 ns`; `n/a` for a missing, NaN or negative time."""
    if seconds is None or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return "n/a"
    for unit, scale in TIME_UNITS:
        if seconds >= scale:
            return f"{_number(seconds / scale, digits)} {unit}"
    return f"{_number(seconds * 1e9, digits)} ns"


def fmt_bytes(n: float | None) -> str:
    """`48 MiB`, `4 KiB`, `0 B`; `n/a` for a missing, NaN or negative size."""
    if n is None or not isinstance(n, (int, float)) or not math.isfinite(n) or n < 0:
        return "n/a"
    for unit, scale in BYTE_UNITS:
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def slower_or_faster(ratio: float) -> str | None:
    """`31.7x slower` / `2.1x faster` for a time ratio (this / other); None within 0.5% (the same)."""
    if 1 / 1.005 <= ratio <= 1.005:
        return None
    return f"{ratio:.3g}x slower" if ratio > 1 else f"{1 / ratio:.3g}x faster"
