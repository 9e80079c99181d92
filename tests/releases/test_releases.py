"""`mlxbench releases` and `mlxbench bisect`: the release list, the environment cache, one saved run per
release (reused, interrupted, failing), steps confirmed by A/Bs, bisect's search and the report."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from conftest import make_run, said
from mlxbench import cli
from mlxbench.ab import venvs
from mlxbench.releases import history, index, report, search, steps
from mlxbench.releases.index import Framework
from mlxbench.runs import BadRun

LISTED = "mlx (0.32.4)\nAvailable versions: 0.32.4, 0.31.0, 0.30.0rc1, 0.29.1, 0.26.5, 0.2.0\n"
MLX = Framework("mlx", "mlx", "cpu")


def lister(_dist: str) -> str:
    return LISTED


def test_the_release_list_is_the_final_releases_in_range_oldest_first():
    assert index.parse_versions(LISTED) == ["0.2.0", "0.26.5", "0.29.1", "0.30.0rc1", "0.31.0", "0.32.4"]
    assert index.releases(MLX, "0.26.5", None, lister=lister) == ["0.26.5", "0.29.1", "0.31.0", "0.32.4"]
    assert index.releases(MLX, None, "0.31", newest=2, lister=lister) == ["0.29.1", "0.31.0"]
    assert MLX.requirement("0.29.1") == "mlx[cpu]==0.29.1"
    with pytest.raises(BadRun, match=r"--from 0\.x: not a version"):
        index.releases(MLX, "0.x", None, lister=lister)
    with pytest.raises(BadRun, match="1 release of mlx in that range: a history needs 2 or more"):
        index.releases(MLX, "0.32.4", None, lister=lister)
    with pytest.raises(BadRun, match=r"--from 0\.32: no such release of mlx on the index \(nearest: 0\.31\.0 and"):
        index.releases(MLX, "0.32", None, lister=lister)
    with pytest.raises(BadRun, match=r"BAD 0\.30\.1: no such release"):
        index.between(MLX, "0.26.5", "0.30.1", lister=lister)


def fake_installer(calls: list, fail: str | None = None):
    def install(cmd: list[str]) -> subprocess.CompletedProcess:
        calls.append(cmd)
        if cmd[1] == "venv":
            Path(cmd[-1]).mkdir(parents=True)
        if fail and any(fail in c for c in cmd):
            return subprocess.CompletedProcess(
                cmd,
                1,
                "",
                "  × No solution found when resolving dependencies:\n"
                "  ╰─▶ Because there is no version of mlx-cpu==0.2.0 ...",
            )
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return install


def test_environments_are_cached_reused_and_an_interrupted_build_is_never_reused(tmp_path):
    calls: list = []
    first = venvs.environment(["mlx[cpu]==0.29.1"], tmp_path, lambda _: None, fake_installer(calls), ["uv"])
    assert len(calls) == 2 and calls[1][:3] == ["uv", "pip", "install"] and "mlx[cpu]==0.29.1" in calls[1]
    again = venvs.environment(["mlx[cpu]==0.29.1"], tmp_path, lambda _: None, fake_installer(calls), ["uv"])
    assert again == first and len(calls) == 2  # reused: nothing installed
    # an interrupted build leaves only a .partial folder: the next call builds afresh, never uses it
    other = venvs.environment(["mlx[cpu]==0.31.0"], tmp_path, lambda _: None, fake_installer(calls), ["uv"])
    env = other.parents[1]
    (env / "mlxbench-env.txt").unlink()
    env.rename(env.with_name(env.name + ".partial"))
    (env.with_name(env.name + ".partial") / "stale").write_text("x")
    rebuilt = venvs.environment(["mlx[cpu]==0.31.0"], tmp_path, lambda _: None, fake_installer(calls), ["uv"])
    assert rebuilt == other and len(calls) == 6 and not (env / "stale").exists()
    with pytest.raises(BadRun, match=r"could not install mlx\[cpu\]==0\.2\.0: .*no version of mlx-cpu"):
        venvs.environment(["mlx[cpu]==0.2.0"], tmp_path, lambda _: None, fake_installer(calls, "==0.2.0"), ["uv"])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def junit(path: Path, cases: dict[str, str]) -> None:
    """cases: test name -> "pass" | "fail:<message>" | "error:<message>" | "skip:<why>"."""
    parts = []
    for name, how in cases.items():
        kind, _, msg = how.partition(":")
        m = quoteattr(msg)
        inner = {
            "pass": "",
            "fail": f"<failure message={m}/>",
            "error": f"<error message={m}/>",
            "skip": f"<skipped message={m}/>",
        }[kind]
        parts.append(f"<testcase classname='benchmarks.test_workloads' name='{name}'>{inner}</testcase>")
    path.write_text(f"<testsuites><testsuite>{''.join(parts)}</testsuite></testsuites>")


def bench(name: str, seconds: float) -> dict:
    info = {"workload": "linreg", "backend": "mlx-cpu", "variant": name, "regression_threshold": 0.1}
    samples = [seconds * (1 + 0.001 * i) for i in range(9)]
    return {f"benchmarks/test_workloads.py::test_workload[{name}]": (samples, info)}


class FakeReleases:
    """Sessions of pretend releases: each saves a run of the tests that pass into the storage it is given."""

    def __init__(self, plan: dict[str, dict[str, str]], medians: dict[str, float]):
        self.plan, self.medians, self.calls = plan, medians, []

    def __call__(self, cmd: list[str], log: Path) -> int:
        version = log.name.split("-")[0]
        self.calls.append((version, cmd))
        log.write_text("collected\n")
        deselected = {c.split("::")[-1] for c in cmd if c.startswith("--deselect=")}
        cases = {n: how for n, how in self.plan[version].items() if n not in deselected}
        junit(Path(next(c for c in cmd if c.startswith("--junitxml=")).split("=", 1)[1]), cases)
        if any(h.startswith(("fail", "error")) for h in cases.values()):
            return 1
        passed = {n for n, h in cases.items() if h == "pass"}
        if not passed:
            return 0
        store = Path(next(c for c in cmd if c.startswith("--benchmark-storage=")).split("=", 1)[1]) / "machine"
        store.mkdir(parents=True, exist_ok=True)
        number = len(list(store.glob("*.json"))) + 1
        name = next(c for c in cmd if c.startswith("--benchmark-save=")).split("=", 1)[1]
        runs = {}
        for n in passed:
            runs.update(bench(n.removeprefix("test_workload[").rstrip("]"), self.medians[version]))
        (store / f"{number:04d}_{name}.json").write_text(json.dumps(make_run(runs)))
        return 0


def environment_of(failing: set[str]):
    def environment(wanted: list[str]) -> Path:
        version = wanted[0].split("==")[1]
        if version in failing:
            raise BadRun(f"could not install {wanted[0]}: no wheel for this platform")
        return Path(f"/envs/{version}/bin/python")

    return environment


def test_each_release_is_timed_or_named_with_its_reason_and_a_second_invocation_reuses_them(tmp_path):
    ok = {"test_workload[a]": "pass", "test_workload[b]": "pass"}
    plan = {
        "0.1.0": ok,
        "0.2.0": ok,
        "0.3.0": {"test_workload[a]": "pass", "test_workload[b]": "fail:accuracy gate: loss 9.1 above 0.5"},
        "0.4.0": {
            "test_workload[a]": "error:AttributeError: module 'mlx.core' has no attribute 'compile'",
            "test_workload[b]": "error:AttributeError: module 'mlx.core' has no attribute 'compile'",
        },
        "0.5.0": {"test_workload[a]": "skip:mlx is not installed"},
        "0.6.0": ok,
    }
    fake = FakeReleases(plan, {v: 1.0 for v in plan} | {"0.6.0": 1.3})
    versions = [*plan, "0.7.0"]
    hist = history.build(MLX, versions, ["benchmarks"], tmp_path, environment_of({"0.7.0"}), fake)
    got = {r.version: (r.status, r.reason) for r in hist.releases}
    assert got["0.1.0"] == ("timed", "")
    assert got["0.3.0"][0] == "partly timed" and "accuracy gate" in got["0.3.0"][1]
    assert hist.runs["0.3.0"].benchmarks.keys() == {"benchmarks/test_workloads.py::test_workload[a]"}
    assert got["0.4.0"][0] == "cannot run" and "has no attribute 'compile'" in got["0.4.0"][1]
    assert got["0.5.0"] == ("cannot run", "every benchmark was skipped: mlx is not installed")
    assert got["0.7.0"] == ("cannot install", "mlx[cpu]==0.7.0: no wheel for this platform")
    assert [r.version for r in hist.timed] == ["0.1.0", "0.2.0", "0.3.0", "0.6.0"]
    calls = len(fake.calls)
    again = history.build(MLX, versions, ["benchmarks"], tmp_path, environment_of({"0.7.0"}), fake)
    assert len(fake.calls) == calls  # every finished release reused (the install failure is tried again)
    assert [(r.version, r.status) for r in again.releases] == [(r.version, r.status) for r in hist.releases]
    other = history.build(MLX, versions[:2], ["benchmarks", "-k", "a"], tmp_path, environment_of(set()), fake)
    assert len(fake.calls) == calls + 2 and len(other.timed) == 2  # another selection: measured anew


def test_an_interrupted_release_is_not_kept_and_the_finished_ones_are(tmp_path):
    ok = {"test_workload[a]": "pass"}
    fake = FakeReleases({"0.1.0": ok, "0.2.0": ok}, {"0.1.0": 1.0, "0.2.0": 1.0})

    def interrupted(cmd, log):
        if "0.2.0" in log.name:
            raise KeyboardInterrupt
        return fake(cmd, log)

    with pytest.raises(KeyboardInterrupt):
        history.build(MLX, ["0.1.0", "0.2.0"], ["benchmarks"], tmp_path, environment_of(set()), interrupted)
    state = json.loads((tmp_path / "state.json").read_text())
    assert list(state["releases"]) == ["0.1.0"]
    hist = history.build(MLX, ["0.1.0", "0.2.0"], ["benchmarks"], tmp_path, environment_of(set()), fake)
    assert [v for v, _ in fake.calls] == ["0.1.0", "0.2.0"] and len(hist.timed) == 2


def test_steps_of_the_history_are_judged_by_an_ab_of_the_two_releases(tmp_path, capsys):
    ok = {"test_workload[a]": "pass", "test_workload[b]": "pass"}
    medians = {"0.1.0": 1.0, "0.2.0": 1.02, "0.3.0": 1.3, "0.4.0": 1.31}
    fake = FakeReleases({v: ok for v in medians}, medians)
    hist = history.build(MLX, list(medians), ["benchmarks", "--profile", "ci"], tmp_path, environment_of(set()), fake)
    found = steps.find_steps(steps.series(hist))
    assert {(s.before, s.after) for s in found} == {("0.2.0", "0.3.0")} and len(found) == 2
    made = []

    def ab(python_a, python_b, pytest_args, budget, out, target):
        made.append((python_a, python_b, pytest_args))
        verdicts = [
            {
                "name": "benchmarks/test_workloads.py::test_workload[a]",
                "verdict": "regressed",
                "ratio": 1.27,
                "ci_low": 1.2,
                "ci_high": 1.34,
                "mde": 0.05,
                "threshold": 0.1,
            },
            {
                "name": "benchmarks/test_workloads.py::test_workload[b]",
                "verdict": "unchanged",
                "ratio": 1.0,
                "ci_low": 0.97,
                "ci_high": 1.03,
                "mde": 0.05,
                "threshold": 0.1,
            },
        ]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"verdicts": verdicts}))
        return 1

    steps.confirm(hist, found, 2.0, ab)
    # B first, as everywhere in the CLI (`mlxbench compare: <current> against <baseline>`, bisect's A/Bs)
    assert "A/B 1/1, 0.3.0 against 0.2.0 on 2 benchmarks" in said(capsys.readouterr().out)
    a, b = "benchmarks/test_workloads.py::test_workload[a]", "benchmarks/test_workloads.py::test_workload[b]"
    assert made == [("/envs/0.2.0/bin/python", "/envs/0.3.0/bin/python", [a, b, "--profile", "ci"])]
    assert {s.name.split("[")[1]: s.outcome for s in found} == {"a]": "confirmed", "b]": "refuted"}
    steps.confirm(hist, found, 2.0, ab)
    assert len(made) == 1  # the same A/B is reused

    model = report.model(
        "mlx",
        "machine",
        hist.pytest_args,
        [r.__dict__ for r in hist.releases],
        {n: s.__dict__ | {"points": [p.__dict__ for p in s.points]} for n, s in steps.series(hist).items()},
        steps.as_dicts(found),
        [],
    )
    files = report.contents(model)
    md = files["releases.md"].decode()
    row = "| confirmed | linreg/mlx-cpu a | 0.2.0 → 0.3.0 | x1.275<br>moved 27% | regressed<br>x1.270 [1.200, 1.340]"
    assert row in md, md
    assert "| refuted | linreg/mlx-cpu b |" in md
    assert "| 0.3.0 | 1.3" in md and "![linreg per release](releases_linreg.png)" in md
    assert files["releases_linreg.png"].startswith(b"\x89PNG") and len(files["releases_linreg.png"]) > 5000
    assert "data:image/png;base64," in files["releases.html"].decode()
    assert json.loads(files["releases.json"])["steps"][0]["outcome"] in ("confirmed", "refuted")
    assert "releases_linreg.png" not in files["releases-summary.md"].decode()


def synthetic_judge(first_bad: int, undecided: int | None = None):
    calls = []

    def judge(good: str, candidate: str, names):
        calls.append(candidate)
        k = int(candidate)
        if k == undecided:
            return search.Probe(good, candidate, [], ["t[x]"], 0.3, 0.1, 1.0)
        return search.Probe(good, candidate, ["t[x]"] if k >= first_bad else [], [], 0.05, 0.1, 1.0)

    return judge, calls


@pytest.mark.parametrize("first_bad", [1, 2, 7, 11, 15])
def test_bisect_finds_the_first_bad_release_in_at_most_log2_n_plus_one_ab(first_bad):
    releases = [str(i) for i in range(16)]
    judge, calls = synthetic_judge(first_bad)
    out = search.bisect(releases, judge, log=lambda _: None)
    assert out.first_bad == str(first_bad) and out.followed == ["t[x]"]
    assert len(calls) <= search.bound(16) == 5


def test_bisect_names_the_inconclusive_step_and_the_budget_that_would_decide_it():
    releases = [str(i) for i in range(9)]
    judge, calls = synthetic_judge(6, undecided=4)
    out = search.bisect(releases, judge, log=lambda _: None)
    assert out.first_bad is None and out.open_range == ("0", "8") and calls == ["8", "4"]
    assert "4 against 0 was inconclusive on t[x] (it sees >= 30%, the threshold is 10%)" in out.why
    assert out.probes[-1].budget_to_decide(3.0) == pytest.approx(27.0)
    nothing = search.bisect(releases, synthetic_judge(99)[0], log=lambda _: None)
    assert nothing.first_bad is None and "8 is not slower than 0" in nothing.why


def test_the_releases_command_runs_a_history_end_to_end(tmp_path, monkeypatch, capsys):
    """`mlxbench releases` as a user types it: releases from the index, a real pytest session per release
    (this interpreter stands in for each release's environment), saved runs, the report."""
    monkeypatch.setattr(index, "pip_versions", lambda dist: "Available versions: 0.2.0, 0.1.0\n")
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: Path(sys.executable))
    test = tmp_path / "bench" / "test_tiny.py"
    test.parent.mkdir()
    test.write_text("def test_tiny(benchmark):\n    benchmark.pedantic(sum, args=(range(100),), rounds=5)\n")
    out = tmp_path / "out"
    code = cli.main(["releases", "mlx", "--out", str(out), "--confirm", "none", "--", str(test.parent)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 of 2 releases timed" in said(printed)
    saved = sorted(p.name.split("_", 1)[1] for p in (out / "runs").glob("*/*.json"))
    assert saved == ["mlx-0.1.0.json", "mlx-0.2.0.json"]
    (report_dir,) = out.glob("report-*")
    assert (report_dir / "releases.html").is_file() and list(report_dir.glob("releases_*.png"))


def test_the_bisect_command_finds_the_first_bad_release_and_says_b_against_a(tmp_path, monkeypatch, capsys):
    """`mlxbench bisect` as a user types it: the releases from the index, one A/B per probe (the candidate as B
    against the good release as A, its verdicts as `mlxbench ab --json` writes them), the first bad release
    named, bisect.json written."""
    monkeypatch.setattr(index, "pip_versions", lambda dist: "Available versions: 0.4.0, 0.3.0, 0.2.0, 0.1.0\n")
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: Path("/envs", wanted[0].split("==")[1], "py"))
    made = []

    def ab(python_a, python_b, pytest_args, budget, out, target):
        a, b = Path(python_a).parent.name, Path(python_b).parent.name
        made.append((b, a))
        slower = b >= "0.3.0"  # 0.3.0 made t[x] 30% slower
        ratio, verdict = (1.3, "regressed") if slower else (1.0, "unchanged")
        v = {"name": "b::t[x]", "verdict": verdict, "ratio": ratio, "ci_low": ratio - 0.05, "ci_high": ratio + 0.05}
        v |= {"mde": 0.05, "threshold": 0.1}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"verdicts": [v]}))
        return int(slower)

    monkeypatch.setattr(steps, "run_ab", ab)
    out = tmp_path / "out"
    assert cli.main(["bisect", "mlx", "0.1.0", "0.4.0", "--out", str(out), "--", "benchmarks"]) == 0
    printed = said(capsys.readouterr().out)
    assert made == [("0.4.0", "0.1.0"), ("0.2.0", "0.1.0"), ("0.3.0", "0.1.0")]
    assert "mlxbench bisect: mlx 0.1.0 (good) to 0.4.0 (bad): 4 releases, at most 3 A/Bs of 3 min" in printed
    assert "A/B 1: 0.4.0 against 0.1.0: bad: regressed on t[x]" in printed
    assert "A/B 2: 0.2.0 against 0.1.0: good" in printed
    assert "the first bad release is mlx 0.3.0 (3 A/Bs; it regressed on t[x])" in printed
    (saved,) = out.glob("bisect-*/bisect.json")
    assert json.loads(saved.read_text())["first_bad"] == "0.3.0"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["releases", "tensorflow"], "framework 'tensorflow': give one of mlx, torch, numpy"),
        (["releases", "mlx", "--newest", "1"], "--newest 1: give 2 or more releases"),
        (["releases", "mlx", "--ab-budget", "0"], "--ab-budget 0: give each A/B's minutes, a number above 0"),
        (["bisect", "mlx", "0.1.0", "0.9.0"], "BAD 0.9.0: no such release of mlx on the index"),
    ],
)
def test_bad_input_to_releases_and_bisect_is_one_message_and_exit_2(argv, message, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(index, "pip_versions", lambda dist: "Available versions: 0.2.0, 0.1.0\n")
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert message in said(capsys.readouterr().err)


def test_a_history_noisier_than_a_move_shows_no_step_there_but_a_lasting_shift_is_one():
    """One process per release: moves within the series' own noise are mostly not steps (each would cost an A/B
    and be refuted; by the threshold alone a series of 12% noise has a 'step' at most releases), while a lasting
    level shift is found, at its release."""
    import numpy as np

    rng = np.random.default_rng(3)
    false, by_threshold, found = 0, 0, 0
    for _ in range(50):
        noise = np.exp(rng.normal(0, 0.12, 14))
        for levels, shifted in ((noise, False), (noise * np.r_[np.ones(7), np.full(7, 2.5)], True)):
            pts = [steps.Point(f"0.{i}.0", float(m), float(m), float(m)) for i, m in enumerate(levels)]
            series = steps.Series("b", "w/x b", "w", 0.1, pts)
            got = steps.find_steps({"b": series})
            if shifted:
                found += any((s.before, s.after) == ("0.6.0", "0.7.0") for s in got)
            else:
                false += len(got)
                moves = [abs(np.log(b.median / a.median)) for a, b in itertools.pairwise(pts)]
                by_threshold += sum(m >= np.log1p(0.1) for m in moves)
    assert found == 50  # every 2.5x shift, at its release
    assert false / 50 < 0.5 and by_threshold / 50 > 6  # noise: under one step in two series, against 6+ per series


def test_a_recorded_local_build_is_pinned_with_its_label_and_installed_by_pip(tmp_path, monkeypatch):
    """A run measured on torch 2.13.0+cpu: its environment asks for that build (a plain torch==2.13.0 takes
    PyPI's CUDA build of several GB on Linux), with pip, which reads the configuration that finds such builds."""
    from conftest import make_run
    from mlxbench.runs import Run

    made: list = []  # the environments pip installs into, made with pip in them (a fake, like the installer's)
    monkeypatch.setattr(venvs.venv, "create", lambda folder, with_pip: made.append(with_pip) or folder.mkdir())
    data = make_run({"t::a[numpy]": ([1.0] * 5, {})})
    data["machine_info"]["mlxbench"] = {
        **data["machine_info"]["mlxbench"],
        "versions": {"torch": "2.13.0+cpu", "numpy": "2.4.6"},
    }
    wanted = venvs.pins(Run(tmp_path / "0001_x.json", data), ["torch", "numpy"])
    assert wanted == ["torch==2.13.0+cpu", "numpy==2.4.6"]
    calls: list = []
    venvs.environment(wanted, tmp_path, lambda _: None, fake_installer(calls), ["uv"])
    assert calls[-1][1:4] == ["-m", "pip", "install"] and "torch==2.13.0+cpu" in calls[-1]  # pip, not uv
    assert made == [True]
    with pytest.raises(BadRun, match=r"torch==2\.13\.0\+cpu is a build with a local label.*PIP_EXTRA_INDEX_URL"):
        venvs.environment(["torch==2.13.0+cpu"], tmp_path / "b", lambda _: None, fake_installer([], "+cpu"), ["uv"])
