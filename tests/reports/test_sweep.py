"""Crossovers, scaling exponents and their tables, on synthetic sweep lines with known answers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from mlxbench.reports import sweep, sweeptables
from mlxbench.reports.sweep import Line, Point

SIZES = (10, 50, 200, 1000)


def line(backend: str, seconds, spread: float = 0.0, series: str = "s", sizes=SIZES) -> Line:
    """A line whose median at size v is seconds(v); rounds span median * (1 -+ spread)."""
    pts = []
    for v in sizes:
        t = seconds(v)
        pts.append(Point(v, float(v), t, t * (1 - spread), t * (1 + spread)))
    return Line("w", series, "n", backend, "flop", pts)


def test_known_crossover_is_found_exactly_on_log_log_lines():
    a = line("fastsmall", lambda v: 1e-3 * (v / 100))  # slope 1
    b = line("fastbig", lambda v: 1e-3 * (v / 100) ** 0.5)  # slope 0.5: equal at v = 100
    (c,) = sweep.crossovers(a, b)
    assert c.at == pytest.approx(100, rel=1e-9)
    assert (c.faster_before, c.faster_after) == ("fastsmall", "fastbig")
    assert c.low == pytest.approx(100) and c.high == pytest.approx(100)  # no spread: no doubt
    assert not c.low_open and not c.high_open
    assert c.seconds_at == pytest.approx(1e-3, rel=1e-9)


def test_no_crossover_when_lines_do_not_cross():
    a = line("slow", lambda v: 2e-3 * v)
    b = line("quick", lambda v: 1e-3 * v)
    (c,) = sweep.crossovers(a, b)
    assert c.at is None and c.low is None
    assert c.note.startswith("no crossover in range: quick faster at every size")
    assert c.sizes == (10, 1000)


def test_noisy_points_give_an_interval_around_the_crossover():
    a = line("a", lambda v: 1e-3 * (v / 100), spread=0.2)
    b = line("b", lambda v: 1e-3 * (v / 100) ** 0.5, spread=0.2)
    (c,) = sweep.crossovers(a, b)
    assert c.at == pytest.approx(100, rel=1e-9)
    assert c.low < c.at < c.high
    # the rounds overlap (a up to 1.2x, b down to 0.8x): a is "slower" by at least 0.8/1.2 of the median ratio
    half_width = math.log(1.2 / 0.8) / 0.5  # in log size: the difference changes by 0.5 per unit of log size
    assert math.log(c.high / c.at) == pytest.approx(half_width, rel=1e-6)
    assert math.log(c.at / c.low) == pytest.approx(half_width, rel=1e-6)


def test_an_interval_that_reaches_the_edge_of_the_range_is_open():
    a = line("a", lambda v: 1e-3 * (v / 100), spread=0.5)
    b = line("b", lambda v: 1e-3 * (v / 100) ** 0.9, spread=0.5)  # nearly parallel: any size is possible
    (c,) = sweep.crossovers(a, b)
    assert c.low_open and c.high_open
    assert (c.low, c.high) == (10, 1000)


def test_lines_that_cross_back_and_forth_say_so():
    a = line("a", lambda v: 1.0, spread=0.3)
    b = line("b", lambda v: {10: 0.9, 50: 1.1, 200: 0.9, 1000: 1.1}[v], spread=0.3)  # within a's spread
    found = sweep.crossovers(a, b)
    assert len(found) == 3
    assert all(c.note.endswith("the lines cross 3 times between 10 and 1,000") for c in found)
    assert "(the lines cross 3 times" in sweeptables.sides(found[0])


def test_too_few_common_sizes_say_so():
    a = line("a", lambda v: 1.0, sizes=(10, 50))
    b = line("b", lambda v: 2.0, sizes=(50, 200))
    (c,) = sweep.crossovers(a, b)
    assert c.at is None and "1 size measured on both" in c.note


def test_scaling_exponents_and_their_interval():
    e = sweep.exponent(line("a", lambda v: 3e-6 * v**1.5))
    assert e.slope == pytest.approx(1.5) and e.points == 4
    assert e.low == pytest.approx(1.5) and e.high == pytest.approx(1.5)  # exact points: a zero-width interval
    noisy = line("n", lambda v: 1e-6 * v * (1.3 if v == 50 else 1.0))
    e = sweep.exponent(noisy)
    assert e.low < e.slope < e.high
    two = sweep.exponent(line("t", lambda v: v, sizes=(10, 100)))
    assert two.slope == pytest.approx(1.0) and two.low is None


def bench(backend: str, value: int, samples, workload="w", series="s", peak=None) -> dict:
    info = {
        "workload": workload,
        "backend": backend,
        "size": {"series": series, "axis": "n", "value": value, "work": 2.0 * value**3, "unit": "flop"},
    }
    if peak is not None:
        info["peak_memory"] = {"bytes": peak, "kind": "peak", "source": "test"}
    median = sorted(samples)[len(samples) // 2]
    st = {"median": median, "min": min(samples), "max": max(samples), "rounds": len(samples), "data": list(samples)}
    return {"extra_info": info, "stats": st}


def test_lines_from_benchmarks_group_sort_and_skip_unsized():
    found = sweep.lines(
        [
            bench("x", 256, [2.0, 3.0, 4.0], peak=1024),
            bench("x", 64, [1.0, 1.0, 1.0]),
            {"extra_info": {"workload": "w"}, "stats": {"median": 1.0}},  # a seed-profile benchmark: no size
            bench("y", 64, [0.5]),
        ]
    )
    assert [(ln.backend, [p.value for p in ln.points]) for ln in found] == [("x", [64, 256]), ("y", [64])]
    p = found[0].points[1]
    assert (p.median, p.low, p.high, p.peak_bytes, p.work) == (3.0, 2.0, 4.0, 1024, 2.0 * 256**3)
    cross = sweep.all_crossovers(found)
    assert len(cross) == 1 and cross[0].at is None  # one common size only


def crossing_tables():
    a = line("torch-cpu", lambda v: 1e-3 * (v / 100), spread=0.1)
    b = line("mlx<cpu>", lambda v: 1e-3 * (v / 100) ** 0.5, spread=0.1)
    c = line("numpy", lambda v: 1e3 * v)
    found = [a, b, c]
    return sweep.all_crossovers(found), sweep.exponents(found)


def test_renderers_carry_the_same_figures():
    cross, exps = crossing_tables()
    assert len(cross) == 3 and len(exps) == 3
    lines = sweeptables.terminal_lines(cross, exps)
    assert "w[s] n: torch-cpu vs mlx<cpu>: mlx<cpu> overtakes torch-cpu at n ≈ 100 (" in lines[0]
    assert any("no crossover in range" in ln for ln in lines)
    assert any(ln.startswith("w[s] numpy: time ∝ flop^1.00") for ln in lines)
    md = sweeptables.markdown(cross, exps)
    assert r"| w | s | n | torch-cpu / mlx\<cpu> | ≈ 100 |" in md  # escaped: GitHub would read <cpu> as a tag
    assert "### Scaling exponents" in md
    page = sweeptables.html_page(cross, exps)
    assert "mlx&lt;cpu&gt;" in page and "mlx<cpu>" not in page
    data = json.loads(sweeptables.dumps(cross, exps))
    assert data["crossovers"][0]["at"] == pytest.approx(100)
    assert {e["backend"] for e in data["exponents"]} == {"torch-cpu", "mlx<cpu>", "numpy"}


def test_sweeptables_cli_reads_saved_runs(tmp_path):
    from conftest import make_run

    def cli(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "mlxbench.reports.sweeptables", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    run = make_run({})
    run["benchmarks"] = [
        {**bench(b, v, [t]), "fullname": f"t[{b}-{v}]", "name": f"t[{b}-{v}]"}
        for b, f in (("a", lambda v: v), ("b", lambda v: 10 * v**0.5))
        for v, t in ((v, f(v)) for v in (10, 100, 1000))
    ]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    done = cli(str(path))
    assert done.returncode == 0 and "b overtakes a at n ≈ 100" in done.stdout
    done = cli(str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "no such run file" in done.stderr and "Traceback" not in done.stderr
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(make_run({})))
    done = cli(str(empty), "--format", "markdown")
    assert done.returncode == 2 and "no sweep points" in done.stderr


def test_plots_are_png_and_one_per_workload_and_axis():
    from mlxbench.reports import sweepplots

    a = line("torch-cpu", lambda v: 1e-3 * (v / 100), spread=0.1)
    b = line("mlx-cpu", lambda v: 1e-3 * (v / 100) ** 0.5, spread=0.1)
    b.points = [Point(p.value, p.work, p.median, p.low, p.high, 2**20 * p.value) for p in b.points]
    figs = sweepplots.figures([a, b], sweep.all_crossovers([a, b]))
    assert set(figs) == {"sweep-w-n.png", "sweep-memory-w-n.png"}
    assert all(png.startswith(b"\x89PNG") for png in figs.values())
    assert sweepplots.memory_plot([a]) is None  # no readings: no memory plot
