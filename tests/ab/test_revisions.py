"""`mlxbench ab --a-rev REV [--b-rev REV]` on a scratch git repository: a commit that makes the fake workload
slower is found, the same commit twice gives no verdict and reuses its checkout (and says so), an interrupted
checkout is never reused, bad revisions are one line and exit 2, and a revision the running harness cannot
drive is named and refused before anything is measured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FAKES, said
from mlxbench.ab import revisions
from mlxbench.runs import BadRun

BENCH = textwrap.dedent("""
    import os

    import knobs

    os.environ["FAKE_DELAY"] = str(knobs.DELAY)  # read by the fake workload when it prepares

    import mlxbench_fake


    def test_sum(bench):
        bench.run(mlxbench_fake.WORKLOAD, "ok")
""")


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's repository: its own workload package (the fake one), a benchmark and a knob; two commits, the
    second twice as slow."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    files = {
        "mlxbench_fake.py": FAKES,
        "test_fake.py": BENCH,
        "knobs.py": "DELAY = 0.005\n",
        "conftest.py": 'pytest_plugins = ["mlxbench.plugin"]\n',
        "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
        ".gitignore": "ab-runs/\n",
    }
    commit(repo, files, "fast")
    commit(repo, {"knobs.py": "DELAY = 0.010\n"}, "twice as slow")
    return repo


@pytest.fixture
def pycache(child_bytecode: Path) -> Path:
    """Where the A/Bs' own processes (the coordinator, its checks of each arm) keep their bytecode: the session's
    folder (conftest's child_bytecode), never the harness's folders; what the tests before compiled is read, not
    compiled again."""
    return child_bytecode


def warm(pycache: Path, cache: Path) -> None:
    """The workers' bytecode folder of an A/B with `cache` (`<cache>/checkouts/pycache`, where the A/B puts it) starts
    with what `pycache` holds, hard-linked (Python replaces a bytecode file, never writes into one): its first pair
    of workers compiles only the revisions' own modules, not numpy, scipy and pytest again."""

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except FileNotFoundError:  # a temporary file of a process writing there, renamed away meanwhile
            pass
        except OSError:
            shutil.copy2(source, target)

    def writing(_: str, names: list[str]) -> list[str]:
        return [name for name in names if ".pyc." in name]  # `<module>.pyc.<id>`: a write under way

    folder = cache / "checkouts" / "pycache"
    if not folder.exists():
        shutil.copytree(pycache, folder, copy_function=link, ignore=writing)


def ab(repo: Path, cache: Path, pycache: Path, *args: str) -> subprocess.CompletedProcess:
    """`mlxbench ab ARGS` in `repo`, free to write bytecode (PYTHONDONTWRITEBYTECODE, which a machine may set, left
    out): each worker after the first reads what the first compiled instead of compiling numpy, scipy and pytest
    from source again; a revision's workers write theirs where the A/B puts it (its checkouts' pycache folder),
    which starts with what the session's processes compiled (warm)."""
    size = ["--processes", "3"] if "processes" in args else ["--pairs", "3"]
    cmd = [sys.executable, "-m", "mlxbench", "ab", *args, *size, "--", "test_fake.py", "--backend", "numpy"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(MLXBENCH_CACHE_DIR=str(cache), PYTHONPYCACHEPREFIX=str(pycache))
    warm(pycache, cache)
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env)


def verdicts(repo: Path) -> dict:
    return json.loads(sorted((repo / "ab-runs").glob("*/verdicts.json"))[-1].read_text())


def test_a_slower_commit_is_found_and_the_same_commit_twice_reuses_its_checkout_with_no_verdict(
    repo, tmp_path, pycache
):
    cache = tmp_path / "cache"
    head = git(repo, "rev-parse", "HEAD").strip()
    slower = ab(repo, cache, pycache, "--a-rev", "HEAD~1", "--b-rev", "HEAD")
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert "1 regressed" in said(slower.stdout) and f"checked out {head[:12]}" in slower.stdout
    doc = verdicts(repo)
    assert [v["verdict"] for v in doc["verdicts"]] == ["regressed"]
    assert doc["a"]["revision"]["rev"] == "HEAD~1" and doc["b"]["revision"]["commit"] == head
    assert Path(doc["b"]["cwd"]) == cache / "checkouts" / head  # the workers ran in the revision's checkout
    assert f"B: `HEAD ({head[:12]})`" in (sorted((repo / "ab-runs").glob("*/verdicts.md"))[-1]).read_text()
    assert not [p for p in (cache / "checkouts" / head).rglob("*") if p.name in ("__pycache__", ".pytest_cache")]
    assert list((cache / "checkouts" / "pycache").rglob("knobs.*.pyc"))  # the workers' bytecode: beside the cache

    same = ab(repo, cache, pycache, "--a-rev", "HEAD", "--b-rev", "HEAD")
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"reusing the checkout of {head[:12]}" in said(same.stdout)
    assert not [v for v in verdicts(repo)["verdicts"] if v["verdict"] in ("regressed", "improved")]


def test_the_working_tree_is_arm_b_by_default_and_says_it_has_uncommitted_changes(repo, tmp_path):
    (repo / "knobs.py").write_text("DELAY = 0.001\n")
    found = revisions.arms("HEAD", None, cwd=repo, cache=tmp_path / "cache", log=lambda _: None)
    assert found["B"].working_tree and found["B"].uncommitted and found["B"].checkout == repo.resolve()
    assert found["B"].label().endswith("with uncommitted changes")
    assert found["A"].checkout.parent == tmp_path / "cache"


@pytest.mark.parametrize(
    "a_rev, b_rev, says",
    [
        ("nosuchbranch", None, "--a-rev nosuchbranch: no commit of that name in"),
        ("HEAD", "v9.9", "--b-rev v9.9: no commit of that name"),
        (".", None, "--a-rev .: arm A cannot be the working tree, which is arm B's"),
        (None, "HEAD", "--b-rev HEAD needs --a-rev"),
        ("--help", None, "--a-rev '--help': give a branch, tag or commit id"),
    ],
)
def test_a_revision_that_names_no_commit_is_one_line(repo, tmp_path, a_rev, b_rev, says):
    with pytest.raises(BadRun, match=None) as caught:
        revisions.arms(a_rev, b_rev, cwd=repo, cache=tmp_path / "cache")
    assert says in str(caught.value)
    assert not (tmp_path / "cache").exists()  # nothing checked out before every name is checked


def test_a_shallow_clone_without_the_base_commit_says_fetch_unshallow(repo, tmp_path, pycache):
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)], check=True)
    with pytest.raises(BadRun) as caught:
        revisions.arms("HEAD~1", None, cwd=shallow, cache=tmp_path / "cache")
    assert "git fetch --unshallow" in str(caught.value) and "fetch-depth: 0" in str(caught.value)
    out = ab(shallow, tmp_path / "cache", pycache, "--a-rev", "HEAD~1")
    assert out.returncode == 2 and "shallow clone" in said(out.stderr + out.stdout)


def test_an_interrupted_checkout_is_never_reused(repo, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    commit_id = git(repo, "rev-parse", "HEAD").strip()
    real = revisions.git

    def interrupted(top, *args, env=None):
        if args[0] == "checkout-index":
            real(top, *args, env=env)  # the files are there, the marker is not: Ctrl-C (SIGTERM raises alike)
            raise KeyboardInterrupt
        return real(top, *args, env=env)

    monkeypatch.setattr(revisions, "git", interrupted)
    with pytest.raises(KeyboardInterrupt):
        revisions.checkout(repo, commit_id, cache, log=lambda _: None)
    assert sorted(p.name for p in cache.iterdir()) == []  # nothing half-made left behind
    # a kill that left no chance to clean up: its folder is swept once its process is gone, never taken
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (cache / f".partial-{commit_id[:12]}-{int(dead.stdout)}-deadbeef").mkdir()
    (cache / commit_id).mkdir()  # a folder without the marker is no complete checkout: set aside
    monkeypatch.setattr(revisions, "git", real)
    said_: list[str] = []
    folder, reused = revisions.checkout(repo, commit_id, cache, log=said_.append)
    assert not reused and (folder / revisions.MARKER).is_file() and (folder / "knobs.py").is_file()
    assert not list(cache.glob(".partial-*")) and len(list(cache.glob(".damaged-*"))) == 1
    assert "checked out" in said_[0]
    assert revisions.checkout(repo, commit_id, cache, log=said_.append) == (folder, True)


def test_a_revision_the_running_harness_cannot_drive_is_named_and_refused(repo, tmp_path, pycache):
    old = BENCH.replace("import mlxbench_fake", "import mlxbench_fake\nfrom mlxbench.workload import Fixture1999")
    commit(repo, {"test_fake.py": old}, "written for an mlxbench this one is not")
    out = ab(repo, tmp_path / "cache", pycache, "--a-rev", "HEAD", "--b-rev", "HEAD~1")
    text = said(out.stderr + out.stdout)
    assert out.returncode == 2, text
    assert "arm A runs HEAD (" in text and "which this mlxbench" in text and "cannot drive" in text
    assert "Fixture1999" in text and "Nothing was measured" in text
    assert not list((repo / "ab-runs").glob("*/pair-01"))  # never half of an A/B


def test_a_revision_that_breaks_only_when_its_benchmark_runs_is_named_and_refused(repo, tmp_path, pycache):
    """It collects, so the preflight passes; its benchmark calls an API this harness lacks only when it runs."""
    newer = BENCH.replace(
        'bench.run(mlxbench_fake.WORKLOAD, "ok")', "bench.run_on_every_backend(mlxbench_fake.WORKLOAD)"
    )
    commit(repo, {"test_fake.py": newer}, "written for an mlxbench newer than this one")
    out = ab(repo, tmp_path / "cache", pycache, "--a-rev", "HEAD~1", "--b-rev", "HEAD")
    text = said(out.stderr + out.stdout)
    assert out.returncode == 2, text
    assert "arm B runs HEAD (" in text
    assert "its first worker failed test_sum[numpy-seed], which did not fail in arm A's" in text
    assert "(AttributeError: 'Bench' object has no attribute 'run_on_every_backend')" in text
    assert "Nothing was judged" in text
    assert not list((repo / "ab-runs").glob("*/verdicts.json"))  # never half of an A/B

    processes = ab(repo, tmp_path / "cache", pycache, "--a-rev", "HEAD~1", "--b-rev", "HEAD", "--design", "processes")
    text = said(processes.stderr + processes.stdout)
    assert processes.returncode == 2 and "its first process failed test_sum[numpy-seed]" in text, text
    assert "process 3/" not in text  # refused once each arm has run one process


@pytest.mark.parametrize(
    ("a", "b", "refused"),
    [
        ({}, {"test_x": "AttributeError: 'Bench' object has no attribute 'y'"}, "arm B"),
        ({"test_x": "ImportError: cannot import name 'y'"}, {}, "arm A"),
        ({}, {"test_x": "Failed: accuracy gate failed for x[ok] on numpy:"}, None),  # judged: failed only in B
        ({}, {"test_x": "Failed: regression in x[ok] on numpy against run 3:"}, None),
        ({"test_x": "OSError: no data"}, {"test_x": "OSError: no data"}, None),  # both arms: said as today
    ],
)
def test_only_a_failure_in_one_arm_other_than_by_the_gates_refuses_the_first_pair(tmp_path, a, b, refused):
    rev = revisions.Revision("HEAD", "0" * 40, tmp_path)
    arms = {"A": {"revision": rev}, "B": {"revision": rev}}
    revisions.refuse_half({"A": a, "B": b}, {"A": {}, "B": {}}, tmp_path, "worker")  # no revision: judged as ever
    if refused is None:
        revisions.refuse_half({"A": a, "B": b}, arms, tmp_path, "worker")
        return
    with pytest.raises(BadRun, match=f"^{refused} runs HEAD \\(000000000000\\), and its first worker failed test_x"):
        revisions.refuse_half({"A": a, "B": b}, arms, tmp_path, "worker")


def test_the_ab_report_names_each_arms_revision_and_the_harness_that_drove_it(tmp_path):
    from mlxbench.reports import abreport

    meta = {
        "design": "paired",
        "pairs": 3,
        "a": {"python": "py", "revision": {"label": "a1b2c3d (main)"}},
        "b": {"python": "py", "revision": {"label": "working tree with uncommitted changes"}},
        "verdicts": [],
    }
    text = abreport.markdown(abreport.ABReport.of(tmp_path, meta), None)
    assert "at a1b2c3d (main) (driven by the running harness)" in text
    assert "at working tree with uncommitted changes (driven by the running harness)" in text
