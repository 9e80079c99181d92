"""One pair of workers' evidence on one benchmark: the log ratios of its rounds, matched by round."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

FIRST_ROUNDS_LEFT_OUT = 1  # of each pair's rounds of a benchmark, per arm (see pair_log_ratios)
PairTimes = Mapping[str, Sequence[float]]  # {"A": per-call times in round order, "B": ...}


def pair_log_ratios(times: PairTimes) -> np.ndarray:
    """log(B_i / A_i) of the rounds of one pair of workers, matched by round (adjacent in time). The first
    round of each arm is left out where 3 or more are matched: it is the only one whose position differs by
    arm (one arm's comes straight after its own preparation, the other's after the first arm's round), and
    under load it read B/A x1.106 over 60 A/A rounds against x1.000 for the middle rounds."""
    a = np.asarray([t for t in times.get("A", []) if t > 0 and math.isfinite(t)], dtype=float)
    b = np.asarray([t for t in times.get("B", []) if t > 0 and math.isfinite(t)], dtype=float)
    n = min(a.size, b.size)
    first = FIRST_ROUNDS_LEFT_OUT if n >= 3 else 0
    return np.log(b[first:n] / a[first:n])
