"""The plugin's pytest options and ini settings (what `pytest --help` lists under mlxbench); their
values are resolved once, at configure, by mlxbench.session.settings."""

from __future__ import annotations

import pytest

from mlxbench.session.settings import DATA_DIR_ENV, PROFILE_ENV


def add(parser: pytest.Parser) -> None:
    """Every command-line option and ini setting of the plugin, in one group."""
    group = parser.getgroup("mlxbench", "mlxbench: ML workloads across MLX, NumPy and PyTorch")
    selection_options(group)
    gate_options(group)
    run_options(group)
    parser.addini(
        "mlxbench_progress_every",
        "seconds between progress lines of a long benchmark (and before the first one)",
        default="5",
    )
    parser.addini(
        "mlxbench_baselines",
        "folder (relative to rootdir) for saved runs, one subfolder per machine id; when unset, runs go to "
        "pytest-benchmark's own storage (.benchmarks), in the same machine-id subfolders",
        default=None,
    )


def selection_options(group: pytest.OptionGroup) -> None:
    """What runs: backends, profile, data, seed."""
    group.addoption(
        "--backend",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this backend (repeatable, or comma-separated): mlx-cpu, mlx-gpu, numpy, torch-cpu, "
        "torch-mps, torch-cuda, or one a package registers (an unknown name lists them all). Default: all.",
    )
    group.addoption(
        "--profile",
        default=None,
        metavar="NAME",
        help=f"workload sizes: 'seed' (the seed documents' sizes, default), 'ci' (same code, smaller counts) or "
        "'sweep' (each workload along a size axis: crossovers and scaling). "
        f"Env: {PROFILE_ENV}.",
    )
    group.addoption(
        "--data-dir",
        default=None,
        metavar="PATH",
        help=f"directory holding datasets (e.g. the four MNIST .gz files). Env: {DATA_DIR_ENV}.",
    )
    group.addoption(
        "--strict-data",
        action="store_true",
        default=False,
        help="fail, instead of skip, benchmarks whose dataset is unavailable (for CI)",
    )
    group.addoption(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="override the workloads' random seed (data, initial weights, shuffles): for robustness sweeps",
    )


def gate_options(group: pytest.OptionGroup) -> None:
    """The regression gate: judge each benchmark against the saved runs as it finishes."""
    group.addoption(
        "--regression-gate",
        action="store_true",
        default=False,
        help="judge every benchmark against the baseline (--benchmark-compare, default: last saved run of this "
        "machine and profile): statistics plus a threshold; a confirmed regression fails the test",
    )
    group.addoption(
        "--regression-threshold",
        type=float,
        default=None,
        metavar="FRACTION",
        help="smallest slowdown that counts, e.g. 0.1 for 10%% (default: each workload's own, else 10%%)",
    )
    group.addoption(
        "--allow-version-change",
        action="store_true",
        default=False,
        help="let a baseline made with other framework versions gate this run (nightly release checks)",
    )


def run_options(group: pytest.OptionGroup) -> None:
    """How the session runs: threads and progress lines."""
    group.addoption(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads per library (BLAS, OpenMP, PyTorch) for the whole run, recorded with it (default: half "
        "the logical CPUs, at least 1, so pools do not oversubscribe the cores). Env: MLXBENCH_THREADS.",
    )
    group.addoption(
        "--mlxbench-progress",
        action="store_true",
        default=False,
        help="progress lines (round N/M, time left) of long benchmarks as often as on a terminal when stdout is not "
        "one (CI logs; otherwise once a minute)",
    )
