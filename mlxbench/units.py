"""Numbers in the units people read: times, sizes in bytes, speed ratios; and lines that fit a terminal.
One place for all outputs (terminal summary, reports, compare, A/B tables)."""

from __future__ import annotations

import contextlib
import math
import re
import sys
from collections.abc import Iterator

TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6))
BYTE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def _number(x: float, digits: int) -> str:
    return f"{x:.{digits}g}" if x < 1000 else f"{x:,.0f}"


def _scaled(x: float | None, units: tuple[tuple[str, float], ...], number, digits: int) -> str | None:
    """`x` in the largest unit it reaches once rounded to `digits` significant digits (0.99995 s is `1 s`,
    not `1e+03 ms`; `number` formats the scaled value); `n/a` for a missing, NaN or negative quantity;
    None below the smallest unit."""
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
        return "n/a"
    for unit, scale in units:
        if float(f"{x / scale:.{digits}g}") >= 1:
            return f"{number(x / scale)} {unit}"
    return None


def fmt_time(seconds: float | None, digits: int = 3) -> str:
    """`1.36 s`, `139.6 ms` (digits=4), `12.1 µs`, `850 ns`; `n/a` for a missing, NaN or negative time."""
    return _scaled(seconds, TIME_UNITS, lambda v: _number(v, digits), digits) or f"{_number(seconds * 1e9, digits)} ns"


def fmt_bytes(n: float | None) -> str:
    """`48 MiB`, `4 KiB`, `0 B`; `n/a` for a missing, NaN or negative size."""
    return _scaled(n, BYTE_UNITS, lambda v: f"{v:.3g}", 3) or f"{n:.0f} B"


def slower_or_faster(ratio: float) -> str | None:
    """`31.7x slower` / `2.1x faster` for a time ratio (this / other); None within 0.5% (the same)."""
    if 1 / 1.005 <= ratio <= 1.005:
        return None
    return f"{ratio:.3g}x slower" if ratio > 1 else f"{1 / ratio:.3g}x faster"


WIDTH = 120  # columns: every line mlxbench itself prints fits in this many


_GLUE = "\x00"  # stands for a space that must not become a line break while a line is wrapped
_UNIT = re.compile(r"(?<=\d) (?=(?:s|ms|µs|ns|min|h|%|B|KiB|MiB|GiB|kB|MB|GB|kB/s|MB/s|benchmarks?|runs?|pairs?)\b)")
# an interval, a short aside, a command in backticks: kept on one line
_SHORT = re.compile(r"\[[^\[\]\n]{1,30}\]|\([^()\n]{1,26}\)|`[^`\n]{1,80}`")


def _glued(text: str) -> str:
    text = _UNIT.sub(_GLUE, text)
    return _SHORT.sub(lambda m: m.group(0).replace(" ", _GLUE), text)


def fit(line: str, width: int = WIDTH) -> list[str]:
    """A line of mlxbench's own output within `width` columns (continuations indented like the line plus
    two; a path longer than the width stays whole on its own line). A value is never split from its unit
    (`5 s`), nor an interval, a short aside in parentheses or a command in backticks. Multi-line text is fitted
    line by line."""
    import textwrap

    out = []
    for part in line.split("\n"):
        lead = " " * (len(part) - len(part.lstrip(" ")))  # kept on the first line, two more on the others
        wrapped = textwrap.wrap(
            _glued(part.lstrip(" ")),
            width,
            initial_indent=lead,
            subsequent_indent=lead + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        out += [w.replace(_GLUE, " ") for w in wrapped] or [""]
    return out


def fitted(lines: list[str], width: int = WIDTH) -> list[str]:
    return [piece for line in lines for piece in fit(line, width)]


def echo(text: object = "", **kwargs) -> None:
    """print(), every line within WIDTH columns."""
    print("\n".join(fitted(str(text).split("\n"))), **kwargs)


def usage_text(message: str, prefix: str = "ERROR: ") -> str:
    """A usage error's message as pytest prints it after `prefix`: every line within WIDTH columns with the
    prefix, paths under the working directory relative to it."""
    from mlxbench.paths import relative_text

    lines = fit(prefix + relative_text(message))
    return "\n".join([lines[0][len(prefix) :], *lines[1:]])


@contextlib.contextmanager
def tolerant_output() -> Iterator[None]:
    """While a command runs, a character its stdout or stderr cannot encode (PYTHONIOENCODING=ascii, a C
    locale) is written as a backslash escape (`\\xfc`): a message never fails, so it never changes the exit
    code. Put back as it was after."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        errors = getattr(stream, "errors", None)
        if errors in (None, "backslashreplace") or not hasattr(stream, "reconfigure"):
            continue
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError, AttributeError):  # closed, or not a text stream of its own
            continue
        changed.append((stream, errors))
    try:
        yield
    finally:
        for stream, errors in changed:
            with contextlib.suppress(ValueError, OSError, AttributeError):
                stream.reconfigure(errors=errors)
