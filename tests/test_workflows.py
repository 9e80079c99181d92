"""The users' CI workflows: valid against GitHub's workflow schema, and clean under zizmor's audit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).parents[1] / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return path


def test_there_are_workflows():
    assert [p.name for p in WORKFLOWS] == ["nightly.yml"]


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
    table_only = ("report/summary.md", "machines-report/machines-summary.md", '"$run/report/ab-summary.md"',
                  "merged/ab-summary.md", '"$f"')
    assert summaries and all(any(f"cat {f} " in r for f in table_only) for r in summaries), summaries
    assert any('mlxbench report "$run"' in r for r in summaries)  # the A/B folder rendered by mlxbench report


def test_nightly_pools_the_pairs_of_ab_shards_in_one_merge_job():
    """A matrix of runners of one machine type, each an A/B shard, feeding one job that judges all their pairs
    as one run (mlxbench ab merge; tests/ab/test_merge_replay.py runs it)."""
    text = WORKFLOWS[0].read_text()
    shards = text[text.index("  ab-shards:"):text.index("  ab-merge:")]
    merge = text[text.index("  ab-merge:"):text.index("  offer-baseline:")]
    assert "shard: [1, 2]" in shards and "needs: ab-shards" in merge
    runs = nightly_commands()
    assert any("mlxbench ab --baseline-run" in r and "--out ab-shards" in r for r in runs)
    assert any("mlxbench ab merge $folders" in r for r in runs) and "cat merged/ab-summary.md" in merge


def test_nightly_checks_each_frameworks_newest_release_against_the_one_before():
    """mlxbench releases --newest 2 --confirm all on each self-hosted Mac (tests/releases runs the command)."""
    text = WORKFLOWS[0].read_text()
    job = text[text.index("  release-check:"):text.index("  offer-baseline:")]
    assert "self-hosted" in job and "for fw in mlx torch" in job
    assert "mlxbench releases \"$fw\" --newest 2 --confirm all" in job
    assert "releases-summary.md" in job and "GITHUB_STEP_SUMMARY" in job
