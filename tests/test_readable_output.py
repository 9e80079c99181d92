"""What a user reads, checked where they read it: ratio and time axes whose tick labels are distinct and at
their values, Markdown holding the plain characters, default report folders that never collide, counts with
the right plural, and help that lists the commands as the docs type them."""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import make_run, said
from mlxbench.cli import main
from mlxbench.measure import machine
from mlxbench.releases import report as releases_report
from mlxbench.reports import logticks, plots
from mlxbench.reports.plural import nouns
from mlxbench.verdicts.verdict import Result

NUMBER = re.compile(r"\d[\d,]*(?:\.(\d+))?")
SCALE = {"ms": 1e-3, "µs": 1e-6, "ns": 1e-9, "s": 1.0}


def shown_ticks(ax) -> list[tuple[float, str]]:
    """(position, label) of every labelled tick inside the y axis's view, major and minor."""
    ax.figure.canvas.draw()
    low, high = sorted(ax.get_ylim())
    ticks = [*ax.yaxis.get_major_ticks(), *ax.yaxis.get_minor_ticks()]
    return [(t.get_loc(), t.label1.get_text()) for t in ticks if t.label1.get_text() and low <= t.get_loc() <= high]


def assert_distinct_and_in_place(ticks: list[tuple[float, str]]) -> None:
    """Every label differs from the others, and states its tick's position to its own precision: `x1.1` sits
    within 0.05 of 1.1, `2.25 ms` within 0.005 ms of 2.25 ms."""
    __tracebackhide__ = True
    labels = [label for _, label in ticks]
    assert len(ticks) >= 2, f"fewer than 2 labelled ticks: {ticks}"
    assert len(set(labels)) == len(labels), f"repeated tick labels: {labels}"
    for position, label in ticks:
        number = NUMBER.search(label)
        assert number, label
        scale = SCALE.get(label.rsplit(" ", 1)[-1], 1.0)
        half_digit = 0.5 * 10.0 ** -len(number.group(1) or "") * scale
        value = float(number.group().replace(",", "")) * scale
        assert abs(value - position) <= half_digit * (1 + 1e-9), f"{label!r} labels the tick at {position:.6g}"


def release_model(ratios: list[float]) -> dict:
    versions = [f"0.{i}.0" for i in range(len(ratios))]
    points = [
        {"version": f"0.{i}.0", "median": 0.01 * r, "low": 0.0099 * r, "high": 0.0101 * r} for i, r in enumerate(ratios)
    ]
    series = {"b::t[a]": {"workload": "linreg", "title": "linreg/mlx-cpu a", "points": points}}
    releases = [{"version": v, "status": "timed"} for v in versions]
    return releases_report.model("mlx", "box", ["benchmarks"], releases, series, [], [])


@pytest.mark.parametrize(
    "ratios",
    [
        [1.0, 0.98, 1.02, 1.04, 1.06, 1.08],  # the user's plot: x1.1 four times, x1 three times, 1.06 on "x1.1"
        [1.0, 0.95, 1.1, 1.2, 1.3],
        [1.0, 0.7, 1.6, 1.3],
        [1.0, 0.5, 2.0, 3.0],
        [1.0, 0.01, 20.0],  # over decades
        [1.0, 1.001, 1.002],  # nearly flat
    ],
)
def test_release_plot_ratio_ticks_are_distinct_and_at_their_values(ratios, monkeypatch, tmp_path):
    made = {}
    real = releases_report._png
    monkeypatch.setattr(releases_report, "_png", lambda fig: made.setdefault("fig", fig) and real(fig))
    png = releases_report.plot(release_model(ratios), "linreg")
    assert png.startswith(b"\x89PNG")
    (tmp_path / "releases_linreg.png").write_bytes(png)  # as the report writes it
    ticks = shown_ticks(made["fig"].axes[0])
    assert_distinct_and_in_place(ticks)
    assert all(label.startswith("x") for _, label in ticks)


def test_the_old_formatter_fails_the_same_check():
    """The check above catches what the user saw: `x{v:.2g}` on matplotlib's own log ticks over 0.98..1.08."""
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.98, 1.08])
    ax.set_yscale("log")
    old = matplotlib.ticker.FuncFormatter(lambda v, _pos: f"x{v:.2g}")
    ax.yaxis.set_major_formatter(old)
    ax.yaxis.set_minor_formatter(old)
    with pytest.raises(AssertionError, match="repeated tick labels"):
        assert_distinct_and_in_place(shown_ticks(ax))
    plt.close(fig)


@pytest.mark.parametrize("low, high", [(1.0e-3, 1.08e-3), (2.1e-3, 2.9e-3), (9e-6, 1.2e-5), (3e-5, 2.0), (0.5, 40.0)])
def test_time_axes_of_the_report_plots_are_distinct_and_at_their_values(low, high, monkeypatch):
    fig, ax = plt.subplots()
    values = {("v1", "numpy"): (low, low, low), ("v1", "mlx-cpu"): (high, high, high)}
    plots.grouped_bars(ax, ["v1"], ["numpy", "mlx-cpu"], values)
    assert_distinct_and_in_place(shown_ticks(ax))
    plt.close(fig)
    made = {}
    real = plots._png
    monkeypatch.setattr(plots, "_png", lambda fig: made.setdefault("fig", fig) and real(fig))
    dots = {("v1", "box", "numpy"): low, ("v2", "box", "numpy"): high}
    assert plots.machines_dots("w", ["v1", "v2"], ["box"], ["numpy"], dots).startswith(b"\x89PNG")
    assert_distinct_and_in_place(shown_ticks(made["fig"].axes[0]))


def test_tick_labels_get_the_digits_their_ticks_need():
    assert logticks.tick_values(0.98, 1.08) == pytest.approx([0.98, 1.0, 1.02, 1.04, 1.06, 1.08])
    assert logticks.digits([0.98, 1.0, 1.06]) == 3 and logticks.digits([0.5, 1.0, 2.0]) == 1
    assert [logticks.ratio_label(v, 3) for v in (1.0, 1.06, 100.0, 2000.0)] == ["x1", "x1.06", "x100", "x2000"]


INFO = {"workload": "linreg", "variant": "it's >= 2 & <b>|x", "backend": "numpy"}


def samples(center: float, seed: int) -> list[float]:
    return list(center * np.random.default_rng(seed).lognormal(0, 0.02, 10))


def save_runs(tmp_path, count: int):
    """`count` saved runs of this machine (0001_r.json ...), as pytest --benchmark-autosave leaves them."""
    folder = tmp_path / "baselines" / machine.machine_id()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        run = make_run({"t::a[numpy]": (samples(1.0, i), INFO), "t::b[numpy]": (samples(2.0, 9 + i), INFO)})
        (folder / f"{i + 1:04d}_r.json").write_text(json.dumps(run))
    return folder


def test_markdown_holds_plain_characters_and_html_escapes_them(tmp_path, monkeypatch):
    """report.md and summary.md: `'`, `>=` and `&` as written (the sees column says `>=12%`), a backslash before
    only what Markdown would read as syntax (`\\|` in a table, `\\<b>` that GitHub would take for a tag)."""
    save_runs(tmp_path, 4)
    monkeypatch.chdir(tmp_path)
    assert main(["--storage", "baselines", "report", "--out", "rep"]) == 0
    for name in ("report.md", "summary.md"):
        md = (tmp_path / "rep" / name).read_text()
        assert not re.search(r"&#?\w+;", md), re.findall(r".{20}&#?\w+;.{20}", md)
        assert r"it's >= 2 & \<b>\|x" in md and "| >=" in md
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "it&#x27;s &gt;= 2 &amp; &lt;b&gt;|x" in page and "<b>|x" not in page


def test_ab_markdown_holds_plain_characters(tmp_path, capsys):
    """ab.md and ab-summary.md of `mlxbench report AB_FOLDER`: plain characters; counts of one in the singular."""
    verdict = Result("b::t[it's >= x]", "regressed", 1.3, 1.2, 1.4, 0.001, 0.1, 1.0, 1.3, mde=0.05, method="paired")
    doc = {"design": "paired", "pairs": 1, "stopped": "--pairs reached", "alpha": 0.05, "pytest_args": ["it's"]}
    doc |= {"a": {"python": "py"}, "b": {"python": "py"}, "verdicts": [verdict.as_dict()]}
    folder = tmp_path / "ab" / "20261201-000000"
    folder.mkdir(parents=True)
    (folder / "verdicts.json").write_text(json.dumps(doc))
    assert main(["report", str(folder)]) == 0
    for name in ("ab.md", "ab-summary.md"):
        md = (folder / "report" / name).read_text()
        assert not re.search(r"&#?\w+;", md), md
        assert "t[it's >= x]" in md and ">=5%" in md
        assert "of 1 benchmark; 1 pair of workers alternating rounds" in md
    assert "it&#x27;s &gt;= x" in (folder / "report" / "ab.html").read_text()


def test_default_report_folders_never_collide_and_never_overwrite(tmp_path, monkeypatch, capsys):
    """The two documented commands, `mlxbench report 0001 0002` then `mlxbench report`, and the other selections
    of runs each get a folder named after what they report; the same command again changes nothing; a folder
    holding another report is never overwritten, and the message names --out."""
    save_runs(tmp_path, 2)
    monkeypatch.chdir(tmp_path)
    commands = {
        "0002_r-vs-0001": ["report", "0001", "0002"],
        "0002_r": ["report"],
        "0002_r-alone": ["report", "0002"],
        "0002_r-history-1": ["report", "--history", "1"],
        "0002_r-vs-0001-baseline-0001-reference-numpy": "report 0001 0002 --baseline 0001 --reference numpy".split(),
    }
    for folder, argv in commands.items():
        assert main(["--storage", "baselines", *argv, "--format", "summary"]) == 0, capsys.readouterr().err
        assert f"wrote reports/{folder}/summary.md" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == sorted(commands)
    assert main(["--storage", "baselines", "report", "--format", "summary"]) == 0
    assert "unchanged reports/0002_r/summary.md" in capsys.readouterr().out
    (tmp_path / "reports" / "0002_r" / "summary.md").write_text("my notes")
    assert main(["--storage", "baselines", "report", "--format", "summary"]) == 2
    err = said(capsys.readouterr().err)
    assert "summary.md already exists in reports/0002_r and differs from this report" in err and "--out DIR" in err
    assert (tmp_path / "reports" / "0002_r" / "summary.md").read_text() == "my notes"


def test_machines_reports_of_other_runs_go_to_other_folders(tmp_path, monkeypatch, capsys):
    folder = save_runs(tmp_path, 1)
    monkeypatch.chdir(tmp_path)
    machines = ["--storage", "baselines", "report", "--machines", "--profile", "ci", "--format", "summary"]
    assert main(machines) == 0
    first = [p.name for p in (tmp_path / "reports").iterdir()]
    assert len(first) == 1 and first[0].startswith("machines-ci-1-")
    (folder / "0002_r.json").write_text((folder / "0001_r.json").read_text())
    assert main(machines) == 0  # a later run: its own folder, the earlier report kept
    assert len(list((tmp_path / "reports").iterdir())) == 2


def test_counts_take_the_singular_for_one():
    assert [nouns(n, "benchmark") for n in (0, 1, 2)] == ["0 benchmarks", "1 benchmark", "2 benchmarks"]
    assert nouns(1, "fresh process", "fresh processes") == "1 fresh process"
    step = {"name": "b::t[a]", "title": "linreg/mlx-cpu a", "before": "0.0.0", "after": "0.1.0", "ratio": 1.3}
    step |= {"why": "moved 30%", "verdict": "regressed", "outcome": "confirmed", "sees": 0.05}
    step |= {"ab_ratio": 1.3, "ab_low": 1.2, "ab_high": 1.4}
    model = release_model([1.0, 1.3]) | {"steps": [step]}
    text = releases_report.contents(model, ["summary"])["releases-summary.md"].decode()
    assert "2 of 2 releases timed" in text and "; 1 step (1 confirmed)" in text


def test_help_lists_the_commands_as_typed_and_describes_each(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    assert "ab merge" in listing and "ab-merge" not in listing
    with pytest.raises(SystemExit):
        main(["ab", "merge", "--help"])
    assert capsys.readouterr().out.startswith("usage: mlxbench ab merge ")
    described = {"releases": "Time the selected benchmarks under each release", "bisect": "Find the first release"}
    for command, words in described.items():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert words in said(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "unjudged ones whose medians are apart by more than the threshold" in said(capsys.readouterr().out)
