"""The few distributions the verdicts use, with SciPy loaded on first use.

Importing `scipy.stats` takes about 0.8 s (measured with `python -X importtime` on a 2-core Xeon VM). Every
`mlxbench` command and every pytest session imports the verdict modules to read their words and constants, and
most never compute a quantile, so the statistics modules call these functions instead of importing SciPy
themselves: the cost is paid once, by the first verdict that needs a number.
"""

from __future__ import annotations

from functools import cache, lru_cache
from types import ModuleType
from typing import Any


@cache
def _stats() -> ModuleType:
    from scipy import stats

    return stats


@cache
def _special() -> ModuleType:
    from scipy import special

    return special


def t_sf(x: float, df: float) -> float:
    """Student's t survival function: P(T > x)."""
    return float(_stats().t.sf(x, df))


@lru_cache(maxsize=4096)
def t_ppf(q: float, df: float) -> float:
    """Student's t quantile: the x with P(T <= x) = q. Remembered: the benchmarks of one look share their level
    and, where a prior moderates them, their degrees of freedom, so most calls repeat one (SciPy's ppf costs about
    0.1 ms a call)."""
    return float(_stats().t.ppf(q, df))


@lru_cache(maxsize=4096)
def t_isf(q: float, df: float) -> float:
    """Student's t inverse survival function: the x with P(T > x) = q."""
    return float(_stats().t.isf(q, df))


def f_logsf(x: Any, dfn: Any, dfd: float) -> Any:
    """The log of the F distribution's survival function, elementwise: log P(F > x)."""
    return _stats().f.logsf(x, dfn, dfd)


def rankdata(x: Any) -> Any:
    """Ranks from 1, ties given their average rank (R's `rank`)."""
    return _stats().rankdata(x)


def binom_ppf(q: float, n: int, p: float) -> float:
    """The binomial quantile: the smallest k with P(K <= k) >= q."""
    return float(_stats().binom.ppf(q, n, p))


def digamma(x: Any) -> Any:
    """The digamma function, elementwise (a float for a float, an array for an array)."""
    return _special().digamma(x)


def polygamma(n: int, x: Any) -> Any:
    """The n-th polygamma function, elementwise."""
    return _special().polygamma(n, x)


def linregress(x: Any, y: Any) -> Any:
    """A least-squares line (SciPy's result: slope, intercept, stderr, ...)."""
    return _stats().linregress(x, y)
