"""The users' CI workflows: valid against GitHub's workflow schema, and clean under zizmor's audit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).parents[1] / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return path


def test_there_are_workflows():
    assert [p.name for p in WORKFLOWS] == ["nightly.yml", "pr-check.yml"]


def test_workflows_match_the_github_workflow_schema():
    out = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_workflows_pass_zizmor_offline():
    out = subprocess.run([tool("zizmor"), "--offline", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No findings" in out.stdout + out.stderr


def nightly_commands() -> list[str]:
    """The nightly workflow's shell commands, continuation lines joined."""
    return [line.strip() for line in WORKFLOWS[0].read_text().replace("\\\n", " ").splitlines()]


def test_nightly_requires_data_and_gates_with_ab():
    runs = nightly_commands()
    benchmarks = [r for r in runs if "pytest benchmarks" in r or "mlxbench.tools.nightly run" in r]
    assert len(benchmarks) == 3 and all("--strict-data" in r for r in benchmarks)
    night = [r for r in runs if "mlxbench.tools.nightly run" in r]  # gates with mlxbench ab (tests/tools)
    assert night and '--run-name "$RUN_NAME"' in night[0] and "-- benchmarks" in night[0]
    assert any("mlxbench.tools.nightly offer" in r for r in runs)
    assert any("report --machines --out machines-report" in r for r in runs)


def test_nightly_saves_runs_under_names_unique_to_the_workflow_run():
    text = WORKFLOWS[0].read_text()
    assert "RUN_NAME: nightly-${{ github.run_id }}-${{ github.run_attempt }}" in text
    assert any('--run-name "$RUN_NAME"' in r for r in nightly_commands())  # saved as NNNN_<run name>.json
    assert "--benchmark-autosave" not in text  # autosave names collide across unmerged nightly PRs
    summaries = [r for r in nightly_commands() if "GITHUB_STEP_SUMMARY" in r]
    # tables only, no images: each job summary gets one of the Markdown files written without image links
    table_only = (
        "report/summary.md",
        "machines-report/machines-summary.md",
        '"$run/report/ab-summary.md"',
        "merged/ab-summary.md",
        '"$f"',
    )
    assert summaries and all(any(f"cat {f} " in r for f in table_only) for r in summaries), summaries
    assert any('mlxbench report "$run"' in r for r in summaries)  # the A/B folder rendered by mlxbench report


def test_nightly_pools_the_pairs_of_ab_shards_in_one_merge_job():
    """A matrix of runners of one machine type, each an A/B shard, feeding one job that judges all their pairs
    as one run (mlxbench ab merge; tests/ab/test_merge_replay.py runs it)."""
    text = WORKFLOWS[0].read_text()
    shards = text[text.index("  ab-shards:") : text.index("  ab-merge:")]
    merge = text[text.index("  ab-merge:") : text.index("  offer-baseline:")]
    assert "shard: [1, 2]" in shards and "needs: ab-shards" in merge
    runs = nightly_commands()
    assert any("mlxbench ab --baseline-run" in r and "--out ab-shards" in r for r in runs)
    assert any("mlxbench ab merge $folders" in r for r in runs) and "cat merged/ab-summary.md" in merge


def test_nightly_checks_each_frameworks_newest_release_against_the_one_before():
    """mlxbench releases --newest 2 --confirm all on each self-hosted Mac (tests/releases runs the command)."""
    text = WORKFLOWS[0].read_text()
    job = text[text.index("  release-check:") : text.index("  offer-baseline:")]
    assert "self-hosted" in job and "for fw in mlx torch" in job
    assert 'mlxbench releases "$fw" --newest 2 --confirm all' in job
    assert "releases-summary.md" in job and "GITHUB_STEP_SUMMARY" in job


PR_CHECK = WORKFLOWS[1]


def step(name: str) -> str:
    """The shell script of the pr-check step named `name` (its `run: |` block, dedented)."""
    lines = PR_CHECK.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- name: {name}")
    at = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |")
    block = []
    for line in lines[at + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= len(lines[at]) - len(lines[at].lstrip()):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)) + "\n"


def test_pr_check_runs_same_repository_branches_only_on_the_self_hosted_machine():
    text = PR_CHECK.read_text()
    assert "pull_request:" in text and "pull_request_target" not in text  # a fork never gets the token's rights
    assert "if: github.event.pull_request.head.repo.full_name == github.repository" in text
    assert "a fork's never do" in text and "runs-on: [self-hosted" in text
    assert "fetch-depth: 0" in text  # the base commit must be in the clone (mlxbench ab refuses a shallow one)
    ab = step("Paired A/B, base commit (A) against head commit (B)").replace("\\\n", " ")
    assert '--a-rev "$BASE_SHA" --b-rev "$HEAD_SHA" --time-budget "$TIME_BUDGET"' in ab
    assert "-- benchmarks --profile ci" in ab
    assert 'MARKER: "<!-- mlxbench-pr-check -->"' in text and "GITHUB_STEP_SUMMARY" in text


def test_pr_check_commands_on_a_scratch_repository(tmp_path, child_bytecode):
    """The workflow's own steps in a scratch repository (the fake workload, two commits, the second twice as
    slow): the verdicts reach the job summary and one comment (posted, then updated: `gh` is a fake that logs
    its calls), and the last step fails on `regressed`."""
    sys.path.insert(0, str(Path(__file__).parent / "ab"))
    try:
        from test_revisions import BENCH, commit, git, warm
    finally:
        sys.path.pop(0)
    from conftest import FAKES

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    base = commit(
        repo,
        {
            "mlxbench_fake.py": FAKES,
            "test_fake.py": BENCH,
            "knobs.py": "DELAY = 0.005\n",
            "conftest.py": 'pytest_plugins = ["mlxbench.plugin"]\n',
            ".gitignore": "ab-runs/\n",
            "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
        },
        "fast",
    )
    head = commit(repo, {"knobs.py": "DELAY = 0.010\n"}, "twice as slow")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "gh").write_text('#!/bin/sh\necho "$@" >> "$GH_LOG"\ncase "$*" in *"-X"*) ;; *) echo "$GH_ID" ;; esac\n')
    (bin_ / "gh").chmod(0o755)
    warm(child_bytecode, tmp_path / "cache")  # what the session's processes compiled, there before the first
    env = {
        # bytecode compiled once (PYTHONDONTWRITEBYTECODE, which a machine may set, left out), into the folder where
        # the A/B keeps its workers' (tests/ab/test_revisions.py checks that it does), and read by every process after
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(tmp_path / "cache" / "checkouts" / "pycache"),
        "BASE_SHA": base,
        "HEAD_SHA": head,
        "TIME_BUDGET": "0.05",
        "MARKER": "<!-- mlxbench-pr-check -->",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GH_LOG": str(tmp_path / "gh.log"),
        "GH_ID": "",
        "REPO": "o/r",
        "PR_NUMBER": "7",
        "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}",
        "MLXBENCH_CACHE_DIR": str(tmp_path / "cache"),
    }

    def run(name: str, **extra: str) -> subprocess.CompletedProcess:
        script = step(name).replace(".venv/bin/python", sys.executable)
        script = script.replace("-- benchmarks --profile ci", "-- test_fake.py --backend numpy")
        return subprocess.run(
            ["bash", "-e", "-c", script], cwd=repo, env={**env, **extra}, capture_output=True, text=True
        )

    ab = run("Paired A/B, base commit (A) against head commit (B)")
    assert ab.returncode == 0, ab.stdout + ab.stderr  # a regression fails the job at its last step
    assert (tmp_path / "output").read_text() == "status=1\n"
    assert run("Verdicts in the job summary and in the pull request's comment").returncode == 0
    comment = (repo / "comment.md").read_text()
    assert comment.startswith("<!-- mlxbench-pr-check -->\n### mlxbench: is this branch slower?")
    assert "| regressed | test_sum[numpy-seed]" in comment and f"B: `{head[:12]}`" in comment
    assert (tmp_path / "summary.md").read_text() == comment
    post = run("One comment per pull request, updated on each push (found by its marker)")
    update = run("One comment per pull request, updated on each push (found by its marker)", GH_ID="42")
    assert post.returncode == update.returncode == 0, post.stderr + update.stderr
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert calls[1] == "api -X POST repos/o/r/issues/7/comments -F body=@comment.md"
    assert calls[3] == "api -X PATCH repos/o/r/issues/comments/42 -F body=@comment.md"
    assert run("Fail on a regression", STATUS="1").returncode == 1
    assert run("Fail on a regression", STATUS="0").returncode == 0
