"""Harness overhead: the suite's median for one benchmark against a bare `perf_counter` loop
around the same implementation, in the same process.

    python -m mlxbench.tools.overhead linreg eager numpy --profile seed --repeats 3

Each repeat runs the real benchmark through pytest (in-process, --benchmark-json) and then a
bare loop over a freshly prepared callable with the same rounds and warm-up, forcing completion
the same way. It prints both medians and their ratio; a ratio of 1.00 means no overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import pytest

from mlxbench.measure.timing import time_rounds
from mlxbench.registry import Registry
from mlxbench.session.context import RunContext
from mlxbench.session.settings import Settings


def bare_median(registry: Registry, workload, variant: str, backend, profile: str, data_dir: str | None) -> float:
    spec = workload.spec(profile)
    context = RunContext(settings=Settings(profile=profile, data_dir=data_dir))
    with backend.activate():
        impl = registry.implementation(workload, backend.framework)
        prepared = workload.prepare(backend, spec, variant, context, impl)
        times = time_rounds(prepared, backend.sync, warmup=prepared.warmup_rounds)
    return statistics.median(times)


def suite_median(root: Path, workload: str, variant: str, backend: str, profile: str, data_dir: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        node = f"{root / 'benchmarks' / 'test_workloads.py'}"
        args = [
            node,
            "-q",
            "-p",
            "no:cacheprovider",
            "--backend",
            backend,
            "--profile",
            profile,
            "-k",
            f"{workload}-{backend}-{profile}-{variant}]",
            f"--benchmark-json={out}",
            f"--rootdir={root}",
        ]
        if data_dir:
            args.append(f"--data-dir={data_dir}")
        code = pytest.main(args)
        if code != 0:
            raise SystemExit(f"the suite's run failed (pytest exit {code})")
        (bench,) = json.loads(out.read_text())["benchmarks"]
        return bench["stats"]["median"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlxbench.tools.overhead", description=__doc__.split("\n\n")[0])
    parser.add_argument("workload")
    parser.add_argument("variant")
    parser.add_argument("backend")
    parser.add_argument("--profile", default="seed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: give 1 or more")
    registry = Registry.load()
    if args.backend not in registry.backends:
        parser.error(f"unknown backend {args.backend!r}; valid backends: {', '.join(registry.backend_names)}")
    backend = registry.backends[args.backend]
    if reason := backend.unavailable_reason():
        parser.error(f"{args.backend} is unavailable here: {reason}")
    if args.workload not in registry.workload_names:
        parser.error(f"unknown workload {args.workload!r}; valid: {', '.join(registry.workload_names)}")
    workload = registry.workload(args.workload)
    if args.variant not in workload.variants:
        parser.error(f"unknown variant {args.variant!r}; valid: {', '.join(workload.variants)}")
    root = Path(__file__).resolve().parents[2]
    bare, suite = [], []
    for _ in range(args.repeats):
        bare.append(bare_median(registry, workload, args.variant, backend, args.profile, args.data_dir))
        suite.append(suite_median(root, args.workload, args.variant, args.backend, args.profile, args.data_dir))
    b, s = statistics.median(bare), statistics.median(suite)
    print(f"\n{args.workload}[{args.variant}] on {args.backend} ({args.profile}), {args.repeats} repeats")
    print(f"  bare perf_counter loop median: {b:.6g} s   (per repeat: {', '.join(f'{x:.4g}' for x in bare)})")
    print(f"  suite (pytest-benchmark) median: {s:.6g} s   (per repeat: {', '.join(f'{x:.4g}' for x in suite)})")
    print(f"  suite / bare = {s / b:.4f}  ({(s / b - 1) * 100:+.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
