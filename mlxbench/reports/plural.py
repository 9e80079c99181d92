"""A count with its noun, singular or plural as the count asks: `1 benchmark`, `2 benchmarks`, `0 steps`."""

from __future__ import annotations


def nouns(n: int, noun: str, plural: str | None = None) -> str:
    """`1 release`, `3 releases`; `plural` where adding an s is wrong (`pair of workers`, `pairs of workers`)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
