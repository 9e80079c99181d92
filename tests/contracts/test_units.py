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


def test_a_wrapped_line_never_splits_a_value_from_its_unit_an_interval_or_a_short_aside():
    from mlxbench.units import fit

    line = (
        "mlxbench: downloading mnist train-images-idx3-ubyte.gz from https://example.org/mnist-mirror (timeout "
        "5 s per read) and then x1.046 [0.650, 1.683] unchanged (already there, the same) 12 benchmarks"
    )
    for width in range(40, 121, 3):
        lines = fit(line, width)
        joined = " ".join(x.strip() for x in lines)
        assert joined == line.replace("  ", " ")
        assert all(not x.rstrip().endswith(("timeout 5", "[0.650,", "(already", "12")) for x in lines), (width, lines)
        assert all(len(x) <= width for x in lines if " " in x.strip())
