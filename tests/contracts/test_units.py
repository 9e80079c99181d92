"""Lines that fit a terminal: every line mlxbench prints goes through units.fit."""

from __future__ import annotations

from mlxbench.units import fit, fmt_time


def test_fit_wraps_at_120_keeps_the_indent_and_a_long_path_whole():
    words = "    " + " ".join(["word"] * 60)
    lines = fit(words)
    assert all(len(x) <= 120 for x in lines) and lines[0].startswith("    word") and lines[1].startswith("      word")
    path = "  /" + "x" * 130  # longer than the width: whole, on its own line, its indent kept
    assert fit(path) == [path]
    assert fit("") == [""] and fit("a\n  b") == ["a", "  b"]


def test_a_time_is_printed_in_the_unit_it_rounds_to():
    assert [fmt_time(x) for x in (0.99995, 0.9994, 0.0009999, 999.96e-9)] == ["1 s", "999 ms", "1 ms", "1 µs"]
