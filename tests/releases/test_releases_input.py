"""What `mlxbench releases` and `mlxbench bisect` say to input they cannot use, before any work: every option in
range, releases that do not exist (with the nearest that do), a saved run id that does not exist, GOOD not older
than BAD; and a release environment gone when an A/B needs it (built again, else said, never exit 0)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_releases import FakeReleases, environment_of

from conftest import make_run, said
from mlxbench import cli
from mlxbench.ab import venvs
from mlxbench.ab.options import with_test_path
from mlxbench.measure import machine
from mlxbench.releases import history, index, steps
from mlxbench.runs import BadRun

LISTED = "Available versions: 0.4.0, 0.3.0, 0.2.0, 0.1.0\n"


@pytest.fixture
def no_work(monkeypatch):
    """The index and the environments fail the test if asked: the input is refused before any work."""
    monkeypatch.setattr(index, "pip_versions", lambda dist: pytest.fail("asked the index"))
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: pytest.fail("built an environment"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["releases", "mlx", "--ab-budget", "nan"],
            "--ab-budget nan: give each A/B's minutes, a number above 0 and at most 600 (e.g. 3)",
        ),
        (["releases", "mlx", "--ab-budget", "-1"], "--ab-budget -1: give each A/B's minutes"),
        (["releases", "mlx", "--ab-budget", "inf"], "--ab-budget inf: give each A/B's minutes"),
        (["releases", "mlx", "--ab-budget", "601"], "--ab-budget 601: give each A/B's minutes"),
        (["bisect", "mlx", "0.1.0", "0.4.0", "--ab-budget", "0"], "--ab-budget 0: give each A/B's minutes"),
        (["releases", "mlx", "--newest", "0"], "--newest 0: give 2 or more releases"),
        (["releases", "mlx", "--newest", "-3"], "--newest -3: give 2 or more releases"),
        (["releases", "mlx", "--newest", "nan"], "argument --newest: invalid int value: 'nan'"),
        (["releases", "mlx", "--from", "0.x"], "--from 0.x: not a version; give a release such as 0.26.5"),
        (["releases", "mlx", "--to", ""], "--to '': not a version"),
        (
            ["releases", "mlx", "--from", "0.3.0", "--to", "0.2.0"],
            "--from 0.3.0 is newer than --to 0.2.0: give the older release to --from",
        ),
        (
            ["releases", "mlx", "--confirm", "none", "--ab-budget", "5"],
            "--ab-budget 5 sets each A/B's minutes, and --confirm none makes no A/B: leave either out",
        ),
        (["releases", "mlx", "--confirm", "some"], "argument --confirm: invalid choice: 'some'"),
        (
            ["bisect", "mlx", "0.4.0", "0.2.0"],
            "GOOD 0.4.0 is newer than BAD 0.2.0: bisect finds the first release after "
            "GOOD that made the benchmarks slower, so GOOD is the older one (mlxbench "
            "bisect mlx 0.2.0 0.4.0, if 0.2.0 is good)",
        ),
        (
            ["bisect", "mlx", "0.2.0", "0.2"],
            "GOOD 0.2.0 and BAD 0.2 are the same release: bisect searches the releases "
            "after a good one up to a bad one; give an older GOOD",
        ),
        (["bisect", "mlx", "good", "0.2.0"], "GOOD good: not a version; give a release such as 0.26.5"),
        (
            ["bisect", "mlx", "0.1.0", "0004"],
            "BAD 0004: give a release of mlx (a version such as 0.26.5); a saved run can be GOOD only",
        ),
    ],
)
def test_every_option_is_checked_before_any_work(argv, message, no_work, tmp_path, capsys):
    out = tmp_path / "o"
    try:
        code = cli.main([*argv, "--out", str(out)])
    except SystemExit as exc:  # argparse's own refusals (a type, a choice)
        code = exc.code
    err = said(capsys.readouterr().err)
    assert code == 2 and message in err, err
    assert "history needs" not in err and not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["releases", "mlx", "--from", "9.9.9"],
            "--from 9.9.9: no such release of mlx on the index (the newest is 0.4.0)",
        ),
        (["releases", "mlx", "--to", "0.0.1"], "--to 0.0.1: no such release of mlx on the index (the oldest is 0.1.0)"),
        (
            ["releases", "mlx", "--from", "0.2.5"],
            "--from 0.2.5: no such release of mlx on the index (nearest: 0.2.0 and 0.3.0)",
        ),
        (["releases", "mlx", "--from", "0.4.0"], "1 release of mlx in that range: a history needs 2 or more"),
        (
            ["bisect", "mlx", "0.1.5", "0.4.0"],
            "GOOD 0.1.5: no such release of mlx on the index (nearest: 0.1.0 and 0.2.0)",
        ),
    ],
)
def test_a_release_that_does_not_exist_is_named_with_the_nearest_that_do(argv, message, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(index, "pip_versions", lambda dist: LISTED)
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: pytest.fail("built an environment"))
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert message in said(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()  # read only: nothing written for a release that does not exist


def test_bisect_reads_a_saved_run_id_and_says_when_none_exists(tmp_path, monkeypatch, capsys):
    """`bisect mlx 0099 ...` read 0099 as version 99 ('0 releases in that range'); a run id is looked up in the
    storage, and one that does not exist is said (exit 2); one that does gives its recorded version."""
    monkeypatch.setattr(index, "pip_versions", lambda dist: LISTED)
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: Path("/envs", wanted[0].split("==")[1], "py"))
    storage = tmp_path / "baselines"
    folder = storage / machine.machine_id()
    folder.mkdir(parents=True)
    run = make_run({"b::t[x]": ([1.0, 1.1], {})}, {"versions": {"mlx": "0.2.0+local"}})
    (folder / "0001_abc.json").write_text(json.dumps(run))
    out = tmp_path / "o"
    assert cli.main(["--storage", str(storage), "bisect", "mlx", "0099", "0.4.0", "--out", str(out)]) == 2
    err = said(capsys.readouterr().err)
    assert f"no saved run '0099' in {folder}. Saved runs there: 0001_abc." in err and "releases in that" not in err
    assert not out.exists()

    def ab(python_a, python_b, pytest_args, budget, out, target):
        v = {"name": "b::t[x]", "verdict": "unchanged", "ratio": 1.0, "ci_low": 0.95, "ci_high": 1.05}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"verdicts": [v | {"mde": 0.05, "threshold": 0.1}]}))
        return 0

    monkeypatch.setattr(steps, "run_ab", ab)
    assert cli.main(["--storage", str(storage), "bisect", "mlx", "0001", "0.4.0", "--out", str(out)]) == 0
    assert "mlx 0.2.0 (good) to 0.4.0 (bad): 3 releases" in said(capsys.readouterr().out)
    assert cli.main(["--storage", str(storage), "bisect", "mlx", "0001", "0.2.0", "--out", str(out)]) == 2
    assert "GOOD 0.2.0 and BAD 0.2.0 are the same release" in said(capsys.readouterr().err)


def history_with_a_step(out: Path) -> None:
    """A finished history in OUT (the state a first `mlxbench releases mlx` leaves) with a step from 0.2.0 to
    0.3.0, whose environments' interpreters (/envs/V/bin/python) do not exist."""
    ok = {"test_workload[a]": "pass"}
    medians = {"0.1.0": 1.0, "0.2.0": 1.0, "0.3.0": 1.5, "0.4.0": 1.5}
    fake = FakeReleases({v: ok for v in medians}, medians)
    fw = index.framework("mlx")
    history.build(fw, list(medians), with_test_path([]), out, environment_of(set()), fake)


def test_an_environment_gone_is_built_again_and_one_that_cannot_be_is_said_never_exit_0(tmp_path, monkeypatch, capsys):
    """The sweep: the recorded interpreter no longer existed; the A/B said 'give an existing interpreter with --b',
    an option releases does not have, then 'not judged: not judged', exit 0."""
    out = tmp_path / "o"
    history_with_a_step(out)
    monkeypatch.setattr(index, "pip_versions", lambda dist: LISTED)

    def cannot(wanted, log=None):
        raise BadRun(f"could not install {wanted[0]}: no wheel for this platform")

    monkeypatch.setattr(venvs, "environment", cannot)
    capsys.readouterr()
    assert cli.main(["releases", "mlx", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    printed, err = said(captured.out), said(captured.err)
    assert "--b" not in printed + err and "not judged: not judged" not in printed
    assert "the environment of mlx 0.2.0 is gone (/envs/0.2.0/bin/python does not exist" in printed
    assert "not judged: its A/B, 0.3.0 against 0.2.0, could not run" in printed
    assert "mlxbench releases: 1 of 1 A/B could not run, so 1 step is not judged (0.3.0 against 0.2.0: the " in err
    assert "could not be built again (could not install mlx" in err
    assert "once it can be installed, run the same command again: it builds the environments that are gone" in err
    (report,) = out.glob("report-*/releases.json")
    assert "could not be built again" in json.loads(report.read_text())["ab"][0]["error"]
    md = report.with_name("releases.md").read_text()
    assert "not judged<br>its A/B, 0.3.0 against 0.2.0, could not run" in md, md

    made = []

    def ab(python_a, python_b, pytest_args, budget, out, target):
        made.append((python_a, python_b))
        v = {"name": "benchmarks/test_workloads.py::test_workload[a]", "verdict": "regressed", "ratio": 1.5}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"verdicts": [v | {"ci_low": 1.4, "ci_high": 1.6, "mde": 0.05}]}))
        return 1

    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: Path(sys.executable))
    monkeypatch.setattr(steps, "run_ab", ab)
    assert cli.main(["releases", "mlx", "--out", str(out)]) == 1  # built again: the A/B confirms the regression
    assert made == [(sys.executable, sys.executable)]
    assert "confirmed" in said(capsys.readouterr().out)


def test_an_ab_that_leaves_no_verdicts_leaves_its_steps_not_judged_and_says_why(tmp_path, monkeypatch, capsys):
    out = tmp_path / "o"
    history_with_a_step(out)
    monkeypatch.setattr(index, "pip_versions", lambda dist: LISTED)
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: Path(sys.executable))
    monkeypatch.setattr(steps, "run_ab", lambda *a: 2)  # `mlxbench ab` refused, wrote nothing
    assert cli.main(["releases", "mlx", "--out", str(out), "--ab-budget", "1"]) == 2
    err = said(capsys.readouterr().err)
    assert "1 of 1 A/B could not run, so 1 step is not judged (0.3.0 against 0.2.0: it left no verdicts in " in err
    assert "(mlxbench ab exit 2)" in err
