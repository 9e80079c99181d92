"""Reading a run file whose per-round samples run to millions, in memory bounded by the file itself.

Python's JSON parser turns every sample into a float object in a list (about 32 bytes each, on top of
the text): a run of 10 million samples took 2.7 GB to compare. Here every `"data": [...]` array of a
run file is parsed by NumPy into float64 (8 bytes a sample) in slices of at most CHUNK characters, and
only the rest of the document goes through `json.loads`. The arrays are `Samples`: NumPy arrays that
are true when not empty, like the lists they replace, so `stats.get("data") or []` still reads them.

A file whose arrays NumPy cannot read number for number (a `null`, a string, a nested list) is left to
`json.loads` whole, so its damage is reported by the same checks as always.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

CHUNK = 8 << 20  # characters of one array parsed at a time
LARGE = 4 << 20  # files larger than this (characters) are read this way; smaller ones by json.loads alone
DATA = re.compile(rb'"data"\s*:\s*\[')


class Samples(np.ndarray):
    """Per-round times as float64; true when not empty, like the list they replace."""

    def __bool__(self) -> bool:
        return self.size > 0


def _numbers(text: bytes, start: int, end: int) -> np.ndarray | None:
    """The comma-separated numbers text[start:end] as float64, or None unless every one is read."""
    if not text[start:end].strip():
        return np.empty(0)
    parts, pos = [], start
    while pos < end:
        stop = end if end - pos <= CHUNK else text.rfind(b",", pos, pos + CHUNK)
        if stop <= pos:  # no comma within a chunk: not a list of numbers
            return None
        values = _parse(text[pos:stop].decode("ascii", errors="replace"))
        if values is None:
            return None
        parts.append(values)
        pos = stop + 1
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _parse(piece: str) -> np.ndarray | None:
    expected = piece.count(",") + 1
    try:
        values = np.fromstring(piece, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    return values if values.size == expected else None


def parse(text: bytes | str) -> Any:
    """`json.loads`, with a document nested too deeply for the parser's recursion a ValueError like any
    other damage (it was a RecursionError, reported as an internal error)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to be a run (arrays or objects inside each other thousands deep)") from None


def loads(text: bytes) -> Any:
    """The JSON document `text` (UTF-8 bytes: a 200 MB file is not held twice, as bytes and as str), its
    `"data"` arrays as Samples when the file is large."""
    if len(text) < LARGE:
        return parse(text)
    import warnings

    pieces, arrays, pos = [], [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # numpy warns, and stops, at a token it cannot read
        for match in DATA.finditer(text):
            if match.start() < pos:
                continue
            close = text.find(b"]", match.end())
            if close == -1:
                break
            values = _numbers(text, match.end(), close)
            if values is None:
                return parse(text)  # damaged or unusual: the usual parser and its checks
            pieces.append(text[pos : match.start()])
            pieces.append(b'"data": {"__mlxbench_samples__": %d}' % len(arrays))
            arrays.append(values.view(Samples))
            pos = close + 1
    pieces.append(text[pos:])
    doc = parse(b"".join(pieces))
    for b in doc.get("benchmarks") or [] if isinstance(doc, dict) else []:
        stats = b.get("stats") if isinstance(b, dict) else None
        ref = stats.get("data") if isinstance(stats, dict) else None
        if isinstance(ref, dict) and "__mlxbench_samples__" in ref:
            stats["data"] = arrays[ref["__mlxbench_samples__"]]
    return doc


MAX_ROUND_S = 86_400.0  # a day per round: no benchmark takes that; a larger per-round time is damage


def _time(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and 0 <= x <= MAX_ROUND_S


def problem(data: Any) -> str | None:
    """Why a benchmark's per-round times cannot be used (each must be a finite number >= 0), or None."""
    if data is None:
        return None
    if isinstance(data, np.ndarray):  # one check over the whole array
        bad = data[~(np.isfinite(data) & (data >= 0) & (data <= MAX_ROUND_S))].tolist()
    elif isinstance(data, list):
        bad = [x for x in data if not _time(x)]
    else:
        return "stats 'data' is not a list of per-round times"
    if bad:
        first = repr(bad[0])
        first = first if len(first) <= 12 else f"{bad[0]:.4g}" if isinstance(bad[0], float) else first[:40]
        return (
            f"stats 'data' holds {len(bad)} bad per-round time(s), e.g. {first} (each must be finite, >= 0 "
            "and at most a day)"
        )
    return None


TIMES = ("min", "max", "mean", "median", "stddev", "q1", "q3", "iqr")  # seconds: finite and >= 0 when present


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _short(value: Any) -> str:
    """A value from a file, printed within a bounded width."""
    text = f"{value:.4g}" if isinstance(value, float) and len(repr(value)) > 12 else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def stats_problem(stats: Any) -> str | None:
    """Why a benchmark's `stats` cannot be used (times must be finite and >= 0), or None."""
    if not isinstance(stats, dict):
        return "'stats' is not an object"
    for key in ("median", "rounds"):
        if key not in stats:
            return f"stats lack {key!r}"
    for key in TIMES:
        if key in stats and not _number(stats[key]):
            return f"stats {key!r} is {_short(stats[key])} (a time must be a finite number >= 0)"
        if key in stats and stats[key] > MAX_ROUND_S:
            return f"stats {key!r} is {_short(stats[key])} s (more than a day per round: not a measured time)"
    if stats["median"] == 0:
        return "stats 'median' is 0 (a round takes some time: a measured median is above 0)"
    lo, hi = stats.get("min"), stats.get("max")
    if _number(lo) and _number(hi) and not lo <= stats["median"] <= hi:
        return (
            f"stats 'median' {_short(stats['median'])} lies outside its rounds' min {_short(lo)} and max {_short(hi)}"
        )
    if not _number(stats["rounds"]) or int(stats["rounds"]) != stats["rounds"]:
        return f"stats 'rounds' is {stats['rounds']!r} (a count must be a whole number >= 0)"
    return problem(stats.get("data"))
