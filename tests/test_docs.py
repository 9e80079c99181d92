"""Every shell block of README.md and docs/extending.md runs here as printed, or is named below with the
reason it cannot run inside the unit tests; the extending page's copy-paste example runs as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/extending.md")

# Blocks the unit tests do not run, each with why (matched by the block's first line).
NOT_HERE = {
    'python -m pip install -e ".[all]" && python -m pytest benchmarks --benchmark-autosave --benchmark-compare': (
        "every workload on every backend takes minutes; .ci/run runs it (without --benchmark-autosave, "
        "which would add a run to the tracked baselines/)"
    ),
    'python -m pip install -e ".[all]" && python -m pytest': "it is this test suite; .ci/run runs it as printed",
    "git clone <URL of this repository> mlxbench && python -m pip install ./mlxbench": (
        "a placeholder URL, and installing would replace the editable install under test; the example "
        "below runs against the installed plugin"
    ),
    "python -m pip install jax==0.10.2 ./examples/mlxbench-jax": (
        "installs into the environment under test; .ci/run installs the example the same way"
    ),
    "python -m pytest benchmarks --backend jax-cpu": (
        "every workload in the seed profile takes minutes; .ci/run's benchmark run includes jax-cpu"
    ),
}
RUN_HERE = ["python -m pytest test_square.py --backend numpy --profile ci"]


def blocks(page: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block of a page."""
    return re.findall(r"^```(\w*)\n(.*?)^```", (ROOT / page).read_text(), flags=re.S | re.M)


def shell_blocks() -> list[tuple[str, str]]:
    return [(page, text) for page in PAGES for lang, text in blocks(page) if lang == "sh"]


def test_every_shell_block_is_run_or_says_why_not():
    unexplained = [
        text.splitlines()[0]
        for _, text in shell_blocks()
        if text.splitlines()[0].split("   #")[0].strip() not in NOT_HERE
    ]
    assert unexplained == ["python -m pytest test_square.py --backend numpy --profile ci"], unexplained


def test_the_example_from_another_repository_runs_as_printed(tmp_path):
    """square.py and test_square.py from docs/extending.md, in a folder that is not this repository
    (its own `workloads` package included, which the installed suite must not shadow)."""
    files = [text for lang, text in blocks("docs/extending.md") if lang == "python" and text.startswith("# ")]
    assert [f.splitlines()[0] for f in files] == ["# square.py", "# test_square.py"]
    for text in files:
        (tmp_path / text.splitlines()[0][2:]).write_text(text)
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "__init__.py").write_text("MINE = True\n")
    (command,) = RUN_HERE
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, *command.split()[1:], "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout and "sum_of_squares" in proc.stdout and "accuracy gate" in proc.stdout
    check = subprocess.run(
        [sys.executable, "-c", "import workloads, mlxbench_workloads; print(workloads.MINE)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert check.stdout.strip() == "True", check.stderr


@pytest.mark.parametrize("page", PAGES)
def test_pages_link_only_to_files_that_exist(page):
    text = (ROOT / page).read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (ROOT / page).parent.joinpath(target).exists(), f"{page} links to {target}"


def test_every_benchmark_id_the_docs_show_exists():
    """An id a page shows (`test_workload[linreg-mlx-cpu-seed-eager-step]`) is one `pytest benchmarks` collects
    (docs/running.md once showed one that selected nothing: exit 4)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    shown = {m for p in pages for m in re.findall(r"test_workload\[([^\]\s]+)\]", p.read_text()) if "..." not in m}
    assert shown
    profiles = {p for p in ("seed", "ci", "sweep") if any(f"-{p}-" in s for s in shown)}
    collected: set[str] = set()
    for profile in profiles:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--profile",
            profile,
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        collected |= set(re.findall(r"test_workload\[([^\]]+)\]", proc.stdout))
    assert shown <= collected, sorted(shown - collected)
