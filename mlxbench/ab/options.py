"""Which of `mlxbench ab`'s pytest arguments name the test path (`with_test_path`: `benchmarks` when none
does), and the same selection narrowed to some benchmarks (`on_nodeids`). The A/B's own options are typed and
checked in mlxbench.ab.config."""

from __future__ import annotations

from pathlib import Path

VALUE_OPTIONS = {  # pytest and mlxbench options whose value is the next argument (a path among them is no test path)
    "-k",
    "-m",
    "-p",
    "-o",
    "-c",
    "-W",
    "--data-dir",
    "--backend",
    "--profile",
    "--seed",
    "--rootdir",
    "--basetemp",
    "--confcutdir",
    "--ignore",
    "--ignore-glob",
    "--deselect",
    "--junitxml",
    "--junit-xml",
    "--benchmark-storage",
    "--benchmark-compare",
    "--regression-threshold",
    "--override-ini",
    "--maxfail",
    "--tb",
    "--durations",
}


def is_test_path(arg: str) -> bool:
    """A test file (.py) or a folder holding one (test_*.py, *_test.py or a conftest.py), as pytest collects."""
    path = Path(arg.split("::")[0])
    if path.is_file():
        return path.suffix == ".py"
    if not path.is_dir():
        return False
    return any(next(path.rglob(pattern), None) is not None for pattern in ("test_*.py", "*_test.py", "conftest.py"))


def with_test_path(pytest_args: list[str]) -> list[str]:
    """The pytest arguments, with `benchmarks` in front when none of them names a test path (the value of an
    option, such as `--data-dir DIR`, is not one)."""
    args = [a for a in pytest_args if a != "--"]
    named = any(
        not a.startswith("-") and (i == 0 or args[i - 1] not in VALUE_OPTIONS) and is_test_path(a)
        for i, a in enumerate(args)
    )
    return args if named else ["benchmarks", *args]


def on_nodeids(pytest_args: list[str], nodeids: list[str]) -> list[str]:
    """The pytest arguments with their test paths replaced by `nodeids` (the other options kept): the same
    selection, narrowed to those benchmarks."""
    args = with_test_path(pytest_args)
    kept = [
        a
        for i, a in enumerate(args)
        if a.startswith("-") or (i and args[i - 1] in VALUE_OPTIONS) or not is_test_path(a.split("::")[0])
    ]
    return [*nodeids, *kept]
