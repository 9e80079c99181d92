"""`mlxbench compare` and `mlxbench report`: verdicts, exit codes, bad input, escaping."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FACTS, make_run, mlxbench_main, said
from mlxbench.cli import main

INFO = {
    "workload": "linreg",
    "variant": "eager",
    "backend": "numpy",
    "metrics": {"test_mse": 1e-4},
    "gates": [
        {"metric": "test_mse", "limit": 2e-4, "kind": "max", "value": 1e-4, "passed": True, "why": "noise floor"}
    ],
}


def samples(center: float, seed: int, n: int = 10) -> list[float]:
    return list(center * np.random.default_rng(seed).lognormal(0, 0.02, n))


def write(path, run) -> str:
    path.write_text(json.dumps(run))
    return str(path)


@pytest.fixture
def pair(tmp_path):
    base = write(
        tmp_path / "base.json",
        make_run({"t::a[numpy]": (samples(1.0, 0), INFO), "t::b[numpy]": (samples(2.0, 1), INFO)}),
    )
    return tmp_path, base


def test_compare_unchanged_exits_0(tmp_path, capsys):
    """Three saved runs of unchanged code and a current run of it: every benchmark unchanged, exit 0."""
    cur = saved_history(tmp_path, {})
    assert main(["compare", str(tmp_path / "0003_x.json"), cur]) == 0
    out = capsys.readouterr().out
    assert "0 regressed, 0 improved, 0 inconclusive, 3 unchanged (judged 3 of 3 benchmarks)" in out


def test_compare_regression_exits_1_and_names_it(tmp_path, capsys):
    """Three saved runs (three processes) give process-level evidence: a 30% slowdown fails."""
    for i in range(3):
        run = make_run({"t::a[numpy]": (samples(1.0, 10 + i), INFO), "t::b[numpy]": (samples(2.0, 20 + i), INFO)})
        write(tmp_path / f"000{i + 1}_x.json", run)
    cur = write(
        tmp_path / "cur.json",
        make_run({"t::a[numpy]": (samples(1.3, 2), INFO), "t::b[numpy]": (samples(2.0, 3), INFO)}),
    )
    assert main(["compare", str(tmp_path / "0003_x.json"), cur]) == 1
    out = capsys.readouterr().out
    assert "1 regressed" in out and re.search(r"^  regressed +a\[numpy\] +1 s +1\.\d+ s +x1\.\d{3} \[", out, re.M)


def test_compare_on_rounds_of_one_process_shows_both_runs_and_says_why_nothing_is_judged(pair, capsys):
    """One baseline run: its rounds and the current run's come from two processes only, so even a
    30% slowdown in every round gets no verdict. compare still answers "what changed": every benchmark
    with both medians and the ratio, `not judged` with the reason once, what would judge it; exit 0 (a
    valid comparison: neither 1 for a regression nor 2, which is for bad input)."""
    tmp, base = pair
    cur = write(
        tmp / "cur.json", make_run({"t::a[numpy]": (samples(1.3, 2), INFO), "t::b[numpy]": (samples(2.0, 3), INFO)})
    )
    assert main(["compare", base, cur]) == 0
    out, err = capsys.readouterr()
    why = "rounds of one process only: a verdict needs 3 saved runs of this profile (there are 1) or an A/B run"
    said = " ".join(out.split())  # lines wrapped at 120 columns, joined again
    assert not err and "Traceback" not in out
    assert "mlxbench compare: cur against base: 2 benchmarks, median per round" in said
    assert "0 regressed, 0 improved, 0 inconclusive, 0 unchanged (judged 0 of 2 benchmarks;" in said
    head, *rows = [line.split() for line in out.splitlines() if line.startswith(("  verdict  ", "  not judged ("))]
    assert head == ["verdict", "benchmark", "baseline", "median", "current", "median", "ratio", "[interval]", "sees"]
    rows = {r[3]: r for r in rows}
    assert set(rows) == {"a[numpy]", "b[numpy]"} and rows["a[numpy]"][:3] == ["not", "judged", "(1)"], rows
    assert rows["a[numpy]"][4:6] == ["1", "s"] and 1.25 < float(rows["a[numpy]"][-1][1:]) < 1.35  # 30% slower
    assert f"(1) {why}" in said and "regressed" not in out.split("(1)")[0].split("unchanged", 1)[1]
    assert "no verdicts: the regression gate judged none of the 2 benchmarks" in said and "(mlxbench ab)" in said
    assert main(["compare", base, cur, "--only-changed"]) == 0  # nothing judged: moved past the threshold
    only = capsys.readouterr().out
    assert "a[numpy]" in only and "b[numpy]" not in only and "1 of 2 moved" in " ".join(only.split())
    assert main(["compare", base, base]) == 0  # a run against itself is a valid comparison
    assert "x1.000" in capsys.readouterr().out


def test_compare_accuracy_regression_even_when_faster(pair, capsys):
    tmp, base = pair
    worse = {**INFO, "metrics": {"test_mse": 1.9e-4}}
    cur = write(tmp / "cur.json", make_run({"t::a[numpy]": (samples(0.8, 2), worse)}))
    assert main(["compare", base, cur]) == 1
    assert "accuracy: test_mse went from 0.0001 to 0.00019" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"benchmarks": [', "not valid JSON"),
        ('{"name": "some other tool", "results": []}', "not a pytest-benchmark run"),
    ],
)
def test_compare_bad_files_exit_2_naming_the_file(pair, capsys, content, message):
    tmp, base = pair
    bad = tmp / "bad.json"
    bad.write_text(content)
    assert main(["compare", base, str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err
    assert bad.read_text() == content


def test_compare_missing_id_no_common_and_other_hardware_exit_2(pair, capsys, tmp_path, monkeypatch):
    tmp, base = pair
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-Box")
    assert main(["--storage", str(tmp_path / "none"), "compare", "0042", base]) == 2
    assert "no saved run '0042'" in capsys.readouterr().err
    other = write(tmp / "other.json", make_run({"t::zzz[numpy]": (samples(1.0, 2), INFO)}))
    assert main(["compare", base, other]) == 2
    assert "no benchmark in common" in capsys.readouterr().err
    m3 = write(tmp / "m3.json", make_run({"t::a[numpy]": (samples(1.0, 2), INFO)}, {**FACTS, "cpu_model": "Apple M3"}))
    assert main(["compare", base, m3]) == 2
    assert "different hardware (cpu_model: 'Test CPU' vs 'Apple M3')" in said(capsys.readouterr().err)


def test_version_change_is_refused_unless_allowed(tmp_path, capsys):
    saved_history(tmp_path, {})  # three saved runs of mlx 0.32.4: enough to judge
    base = str(tmp_path / "0003_x.json")
    newer = {**FACTS, "versions": {**FACTS["versions"], "mlx": "0.33.0"}}
    cur = write(tmp_path / "cur.json", make_run({"t::a[numpy]": (samples(1.0, 2), INFO)}, newer))
    assert main(["compare", base, cur]) == 2
    assert "mlx 0.32.4 -> 0.33.0" in said(capsys.readouterr().err)
    assert main(["compare", base, cur, "--allow-version-change"]) == 0
    assert "0 inconclusive, 1 unchanged (judged 1 of 1 benchmark)" in capsys.readouterr().out


EVIL = "t::x[<script>alert(1)</script>]"


def test_report_names_every_benchmark_and_escapes_names(tmp_path):
    info = {**INFO, "workload": "w<b>", "variant": "<script>alert(1)</script>"}
    benchmarks = {  # name: (median, extra_info)
        "t::a[numpy]": (1.0, INFO),
        "t::a[mlx-cpu]": (3.0, {**INFO, "backend": "mlx-cpu"}),
        EVIL: (1.0, info),
    }
    # three saved runs, then the reported one: the baseline (the last but one) has history enough to judge
    runs = [
        make_run({n: (samples(center, 10 * i + k), x) for k, (n, (center, x)) in enumerate(benchmarks.items())})
        for i in range(4)
    ]
    given = [write(tmp_path / f"000{i + 1}_a.json", run) for i, run in enumerate(runs)]
    out = tmp_path / "rep"
    assert main(["report", *given, "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert "<script>" not in page and not re.search(r"(?<!\\)<script>", md)  # Markdown: \<script>, text, not a tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and r"\<script>alert(1)\</script>" in md
    data = json.loads((out / "report.json").read_text())
    assert {c["name"] for c in data["matrix"]} == {"t::a[numpy]", "t::a[mlx-cpu]", EVIL}
    assert {v["name"] for v in data["verdicts"]} == {"t::a[numpy]", "t::a[mlx-cpu]", EVIL}
    for name in ("| linreg/numpy eager |", "| linreg/mlx-cpu eager |", r"| w\<b>/numpy \<script>"):
        assert name in md  # every benchmark appears in the verdict table, by workload/backend variant
    mlx = next(c for c in data["matrix"] if c["backend"] == "mlx-cpu")
    assert mlx["speedup"] == pytest.approx(1 / 3, rel=0.1)  # against the numpy reference
    assert (out / "bars_linreg.png").read_bytes()[:4] == b"\x89PNG"


def test_report_says_what_eager_frameworks_measure(tmp_path):
    info = {
        **INFO,
        "workload": "lazy_eval",
        "variant": "seed-lazy",
        "execution": "eager",
        "measures": "eager execution: the ops run as they are issued, nothing is deferred",
    }
    run = write(tmp_path / "0001_a.json", make_run({"t::l[numpy]": (samples(1.0, 0), info)}))
    assert main(["report", run, "--out", str(tmp_path / "rep"), "--format", "md"]) == 0
    assert "eager" in (tmp_path / "rep" / "report.md").read_text()


def test_the_readme_sequence_of_report_commands_reruns(tmp_path, capsys, monkeypatch):
    """`mlxbench report` then `mlxbench report --format summary` (README's order), then the first again:
    the latest saved run's report goes to reports/<run>/, and a file already there unchanged is fine."""
    from mlxbench.measure import machine

    folder = tmp_path / "baselines" / machine.machine_id()
    folder.mkdir(parents=True)
    write(folder / "0001_a.json", make_run({"t::a[numpy]": (samples(1.0, 0), INFO)}))
    monkeypatch.chdir(tmp_path)
    for argv in (["report"], ["report", "--format", "summary"], ["report"]):
        assert main(["--storage", "baselines", *argv]) == 0
    out = capsys.readouterr().out
    assert "wrote reports/0001_a/report.md" in out and "unchanged reports/0001_a/summary.md" in out
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["0001_a"]


def test_report_never_overwrites(tmp_path, capsys):
    run = write(tmp_path / "0001_a.json", make_run({"t::a[numpy]": (samples(1.0, 0), INFO)}))
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.html").write_text("precious")
    assert main(["report", run, "--out", str(out)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert (out / "report.html").read_text() == "precious"


def test_compare_uses_the_saved_history_of_the_baseline_folder(tmp_path, capsys):
    for i in range(4):  # four saved runs of unchanged code, then a current run 40% slower
        write(tmp_path / f"000{i + 1}_run.json", make_run({"t::a[numpy]": (samples(1.0, 10 + i), INFO)}))
    cur = write(tmp_path / "cur.json", make_run({"t::a[numpy]": (samples(1.4, 20), INFO)}))
    assert main(["compare", str(tmp_path / "0004_run.json"), cur]) == 1
    assert "of the geometric mean of 4 saved runs" in capsys.readouterr().out


def test_report_of_two_named_runs_judges_with_their_folders_history_as_compare_does(tmp_path, capsys):
    """`mlxbench report 0003 0004` and `mlxbench compare 0003 0004` read the same saved runs: the three before
    0004 in its folder, not only the two runs named."""
    for i in range(4):
        write(tmp_path / f"000{i + 1}_run.json", make_run({"t::a[numpy]": (samples(1.0, 10 + i), INFO)}))
    named = [str(tmp_path / "0003_run.json"), str(tmp_path / "0004_run.json")]
    assert main(["compare", *named]) == 0
    compared = said(capsys.readouterr().out)
    assert main(["report", *named, "--out", str(tmp_path / "rep")]) == 0
    reported = (tmp_path / "rep" / "report.md").read_text()
    interval = re.search(r"x\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", compared)
    assert interval is not None and interval.group(0) in reported  # the same interval: the same evidence
    main(["report", str(tmp_path / "0004_run.json"), "--out", str(tmp_path / "alone")])  # one run: nothing judged
    assert interval.group(0) not in (tmp_path / "alone" / "report.md").read_text()


def saved_history(folder, factors: dict[str, float], remeasured: dict | None = None) -> str:
    """Three saved runs of unchanged code in `folder`, and a current run with the given slowdowns."""
    names = ("t::a[numpy]", "t::b[numpy]", "t::c[numpy]")
    for i in range(3):
        write(
            folder / f"000{i + 1}_x.json", make_run({n: (samples(1.0, 10 * i + k), INFO) for k, n in enumerate(names)})
        )
    current = make_run({n: (samples(factors.get(n, 1.0), 40 + k), INFO) for k, n in enumerate(names)})
    if remeasured:
        current["benchmarks"][0]["extra_info"] = {**INFO, "verdict": remeasured}
    return write(folder / "cur.json", current)


def test_compare_prints_medians_and_each_reason_once(tmp_path, capsys):
    cur = saved_history(tmp_path, {"t::a[numpy]": 1.3})
    assert main(["compare", str(tmp_path / "0003_x.json"), cur]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("  regressed"))
    assert re.fullmatch(r"  regressed  a\[numpy\]  +1 s  +1\.\d+ s  x1\.\d{3} \[1\.\d{3}, 1\.\d{3}\]  >=\d+%", line)
    rows = [x.split()[0] for x in out.splitlines() if x.startswith("  ") and x.split()[0] in ("regressed", "unchanged")]
    assert rows == ["regressed", "unchanged", "unchanged"]  # every benchmark, in the one verdict order
    assert out.count("of the geometric mean of 3 saved runs") == 1  # the reason of the verdict that moved, once


def test_compare_only_changed_and_the_recorded_remeasure(tmp_path, capsys):
    saved = {"verdict": "regressed", "reasons": ["median x1.300 ...", "re-measured: regressed, median x1.290 ..."]}
    cur = saved_history(tmp_path, {"t::a[numpy]": 1.3, "t::b[numpy]": 0.7}, saved)
    assert main(["compare", str(tmp_path / "0003_x.json"), cur, "--only-changed"]) == 1
    out = capsys.readouterr().out
    assert "1 regressed, 1 improved, " in out
    assert "a[numpy]" in out and "b[numpy]" in out and "c[numpy]" not in out
    assert "--only-changed: 2 of 3 moved" in out
    assert "in-pytest gate at run time: regressed" in out and "re-measured: regressed, median x1.290" in out


def test_compare_into_a_closed_pipe_exits_quietly(tmp_path):
    names = [f"t::bench_{i:04d}[numpy]" for i in range(2000)]
    for k in range(3):  # three saved runs: every benchmark gets a verdict, and its lines
        run = make_run({n: (samples(1.0, 1000 * k + i, 5), INFO) for i, n in enumerate(names)})
        base = write(tmp_path / f"000{k + 1}_x.json", run)
    cur = write(tmp_path / "cur.json", make_run({n: (samples(1.0, 5000 + i, 5), INFO) for i, n in enumerate(names)}))
    full = mlxbench_main("compare", str(base), str(cur))  # in this process: only how much it says matters here
    assert full.returncode == 0 and len(full.stdout) > 1 << 17, full.stderr  # more than a pipe holds
    cmd = f"{sys.executable} -m mlxbench compare {base} {cur} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("mlxbench compare: cur against 0003_x: 2000 benchmarks")
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.stderr == ""


def test_report_summary_format_has_tables_and_no_image(tmp_path):
    runs = [write(tmp_path / f"000{i}_a.json", make_run({"t::a[numpy]": (samples(1.0, i), INFO)})) for i in (1, 2)]
    out = tmp_path / "rep"
    assert main(["report", *runs, "--out", str(out), "--format", "summary"]) == 0
    assert [p.name for p in out.iterdir()] == ["summary.md"]
    text = (out / "summary.md").read_text()
    assert "| variant | numpy |" in text and "![" not in text and ".png" not in text


def machine(storage, name: str, cpu: str, factor: float, profile: str = "seed") -> None:
    folder = storage / name
    folder.mkdir(parents=True)
    facts = {**FACTS, "machine_id": name, "cpu_model": cpu}
    bench = {
        "t::a[numpy]": (samples(1.0 * factor, 1), INFO),
        "t::a[mlx-cpu]": (samples(0.5 * factor, 2), {**INFO, "backend": "mlx-cpu"}),
    }
    write(folder / "0001_old.json", make_run({"t::a[numpy]": (samples(9.0, 3), INFO)}, facts, profile))
    write(folder / "0002_new.json", make_run(bench, facts, profile))


def test_machines_side_by_side(tmp_path, capsys):
    storage = tmp_path / "baselines"
    machine(storage, "Box-A", "AMD EPYC", 1.0)
    machine(storage, "Box-B", "Intel Xeon", 0.5)
    machine(storage, "Box-C", "Apple M3", 0.1, profile="ci")  # no seed run: left out, said why
    out = tmp_path / "rep"
    assert main(["--storage", str(storage), "report", "--machines", "--out", str(out)]) == 0
    assert "Box-C: no saved run of the seed profile (it has: ci)" in capsys.readouterr().err
    assert {p.name for p in out.iterdir()} == {
        "machines.md",
        "machines-summary.md",
        "machines.html",
        "machines.json",
        "machines_linreg.png",
    }
    md = (out / "machines.md").read_text()
    assert "| CPU | AMD EPYC (2 cores) | Intel Xeon (2 cores) |" in md
    assert "- **Box-B · mlx-cpu: fastest in 1 of 1 variant (eager)**" in md
    assert re.search(r"\| eager \| Box-B \| 5\d\d ms \| 2\d\d ms ★ fastest \|", md)
    data = json.loads((out / "machines.json").read_text())
    assert data["workloads"]["linreg"]["fastest"]["eager"] == {"machine": "Box-B", "backend": "mlx-cpu"}
    assert len(data["workloads"]["linreg"]["medians"]) == 4  # the last seed run of each: not 0001_old
    assert main(["--storage", str(storage), "report", "--machines", "Box-A", "Nope", "--out", str(tmp_path / "x")]) == 2
    assert "no machine folder" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_every_line_of_compare_fits_120_columns_on_committed_runs(capsys):
    """Two committed runs of 70 benchmarks, none judged (one process each): a grouped reason, not 70
    lines of 180 characters, and the error message wrapped rather than 586 characters wide."""
    folder = Path(__file__).resolve().parents[2] / "baselines" / "Linux-x86_64-AMD_EPYC-2c-nogpu-CPython-3.11"
    first, third = sorted(folder.glob("000[13]_*.json"))
    assert main(["compare", str(first), str(third)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines() + err.splitlines()
    assert lines and all(len(x) <= 120 or len(x.split()) == 1 for x in lines), max(lines, key=len)
    assert said(out).count("rounds of one process only") == 2 and said(out).count("not judged (1)") >= 60


def test_report_profile_chooses_among_the_saved_runs(tmp_path, capsys, monkeypatch):
    """`--profile` was read by --machines only and silently ignored otherwise."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "M")
    folder = tmp_path / "baselines" / "M"
    folder.mkdir(parents=True)
    write(folder / "0001_ci.json", make_run({"t::a[numpy]": (samples(1.0, 0), INFO)}, profile="ci"))
    write(folder / "0002_seed.json", make_run({"t::a[numpy]": (samples(1.0, 1), INFO)}, profile="seed"))
    storage = ["--storage", str(tmp_path / "baselines")]
    assert main([*storage, "report", "--profile", "ci", "--out", str(tmp_path / "ci")]) == 0
    assert "0001_ci" in (tmp_path / "ci" / "report.md").read_text()
    assert main([*storage, "report", "--out", str(tmp_path / "newest")]) == 0  # default: the newest run's profile
    assert "seed profile" in (tmp_path / "newest" / "report.md").read_text()
    assert main([*storage, "report", "--profile", "sweep", "--out", str(tmp_path / "x")]) == 2
    assert (
        main([*storage, "report", str(folder / "0001_ci.json"), "--profile", "ci", "--out", str(tmp_path / "y")]) == 2
    )
    err = said(capsys.readouterr().err)
    assert "--profile sweep: no saved run of it in" in err and "its runs are of: ci, seed" in err
    assert "--profile chooses among saved runs when none are named" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
