"""Replay paired A/B designs on recorded pairs: false alarms and power without new machine time.

    python -m mlxbench.tools.replay ab-runs/20261203-110202 --pairs 4 --trials 400
    python -m mlxbench.tools.replay ab-runs/* --pairs 6 --rounds 10 --slowdown 0.1 --slow linreg

Record real pairs once on a machine (an A/A: both arms the same code; many pairs, many rounds), then
replay design choices on them. Each trial draws `--pairs` of the recorded pairs without replacement
(and keeps the first `--rounds` rounds of each arm, if given) and judges them with the paired
statistic of `mlxbench ab` (mlxbench.verdicts.paired, one look at `--alpha`):

- unchanged comparisons: the record as it is (A/A), or with `--flip`, each drawn pair's arms swapped
  at random (for a record whose arms differ: the sign-flip null);
- slowdowns: B's times of the benchmarks matching `--slow` (default: all) multiplied by 1 + `--slowdown`;
- `--exclude SUBSTR` leaves out benchmarks whose arms really differ in the record (a slowed workload).

It prints the share of trials with any false `regressed`/`improved` (the family-wise false-alarm rate,
to hold at most alpha), and with `--slowdown` the share of slowed benchmarks called `regressed` among
those whose minimum detectable effect was at most the threshold (the power where the design says it sees).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench.ab import merge, paired
from mlxbench.ab.coordinator import PairResult
from mlxbench.measure import pairfile
from mlxbench.runs import BadRun
from mlxbench.tools import toolcli
from mlxbench.verdicts.paired import MIN_PAIRS
from mlxbench.verdicts.verdict import threshold_problem
from mlxbench.verdicts.words import MOVED


def draw(
    pairs: list[PairResult],
    rng: np.random.Generator,
    n: int,
    rounds: int | None,
    flip: bool,
    slowdown: float,
    slow: str | None,
    exclude: str | None = None,
) -> list[PairResult]:
    picked = [pairs[i] for i in rng.choice(len(pairs), size=n, replace=False)]
    out = []
    for pair in picked:
        swap = flip and rng.random() < 0.5
        times = {}
        for name, t in pair.times.items():
            if exclude and exclude in name:
                continue
            a, b = (t["B"], t["A"]) if swap else (t["A"], t["B"])
            a, b = (a[:rounds], b[:rounds]) if rounds else (a, b)
            if slowdown and (slow is None or slow in name):
                b = [x * (1 + slowdown) for x in b]
            times[name] = {"A": a, "B": b}
        # where each preparation began (--draws), within the rounds kept
        draws = {n: [s for s in starts if not rounds or s < rounds] for n, starts in pair.draws.items() if n in times}
        out.append(PairResult.of(times, pair.facts, draws))
    return out


def replay(
    pairs: list[PairResult],
    *,
    n: int,
    trials: int,
    alpha: float = 0.05,
    rounds: int | None = None,
    flip: bool = False,
    slowdown: float = 0.0,
    slow: str | None = None,
    threshold: float | None = None,
    seed: int = 0,
    exclude: str | None = None,
) -> dict[str, Any]:
    """Trials of a design on recorded pairs: false-alarm rate (no slowdown) or power (with one)."""
    if not MIN_PAIRS <= n <= len(pairs):
        raise BadRun(f"--pairs {n}: give {MIN_PAIRS} to {len(pairs)} (a verdict needs {MIN_PAIRS}; the pairs recorded)")
    rng = np.random.default_rng(seed)
    alarms, caught, seen, mdes, false_slow = 0, 0, 0, [], 0
    for _ in range(trials):
        sample = draw(pairs, rng, n, rounds, flip, slowdown, slow, exclude)
        results, _ = paired.judge_pairs(sample, paired.thresholds_for(threshold, sample), alpha)
        slowed = {r.name for r in results if slowdown and (slow is None or slow in r.name)}
        alarms += any(r.verdict in MOVED for r in results if r.name not in slowed)
        for r in results:
            mdes.append(r.mde)
            if r.name in slowed and r.mde <= r.threshold:
                seen += 1
                caught += r.regressed
            false_slow += r.name in slowed and r.verdict == "improved"
    finite = [m for m in mdes if m == m]
    return {
        "trials": trials,
        "pairs": n,
        "rounds": rounds,
        "alpha": alpha,
        "slowdown": slowdown,
        "false_alarm_rate": alarms / trials,
        "power_where_seen": (caught / seen) if seen else None,
        "slowed_benchmarks_seen": seen,
        "slowed_called_improved": false_slow,
        "median_mde": float(np.median(finite)) if finite else None,
    }


MAX_TRIALS = 10_000  # the false-alarm rate's standard error is under 0.3% there: more trials add time, not precision


def parser() -> argparse.ArgumentParser:
    p = toolcli.Parser(prog="python -m mlxbench.tools.replay", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path, help=f"paired A/B folders holding {pairfile.GLOB}")
    p.add_argument("--pairs", type=int, default=4, help="pairs per replayed A/B (default 4)")
    p.add_argument("--rounds", type=int, default=None, help="keep the first R rounds of each arm of each pair")
    p.add_argument("--trials", type=int, default=200, help=f"replayed A/Bs, 1 to {MAX_TRIALS:,} (default 200)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--threshold", type=float, default=None, help="default: each workload's, else 10%%")
    p.add_argument("--slowdown", type=float, default=0.0, help="multiply B's times by 1 + this (e.g. 0.1)")
    p.add_argument("--slow", default=None, help="slow only benchmarks whose name holds this (default: all)")
    p.add_argument("--flip", action="store_true", help="swap each drawn pair's arms at random (sign-flip null)")
    p.add_argument(
        "--exclude",
        default=None,
        help="leave out benchmarks whose name holds this (e.g. a workload whose arms really differ in the record)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p


def option_problem(args: argparse.Namespace) -> str | None:
    """Why an option cannot be used, checked before any folder is read; None when all can."""
    from mlxbench.ab.config import alpha_problem
    from mlxbench.paths import output_file_problem

    trials = f"--trials {args.trials}: give 1 to {MAX_TRIALS} (at {MAX_TRIALS:,} the false-alarm rate is known"
    slow = f"--slow {args.slow!r} picks what --slowdown slows: give a --slowdown above 0 too, or leave --slow out"
    checks = [
        (1 <= args.trials <= MAX_TRIALS, f"{trials} within 0.3%; more add time, not precision)"),
        (args.pairs >= MIN_PAIRS, f"--pairs {args.pairs}: give {MIN_PAIRS} or more (a verdict needs {MIN_PAIRS})"),
        (args.rounds is None or args.rounds >= 2, f"--rounds {args.rounds}: give at least 2"),
        (not alpha_problem(args.alpha), alpha_problem(args.alpha)),
        (args.threshold is None or not threshold_problem(args.threshold), f"--{threshold_problem(args.threshold)}"),
        (0 <= args.slowdown < 10, f"--slowdown {args.slowdown}: give a fraction from 0 to 10, such as 0.1"),
        (args.slow is None or args.slowdown > 0, slow),
        (args.slow != "", "--slow '': give part of the names of the benchmarks to slow"),
        (args.exclude != "", "--exclude '': give part of the names of the benchmarks to leave out"),
        (args.seed >= 0, f"--seed {args.seed}: give a whole number, 0 or more"),
    ]
    for ok, why in checks:
        if not ok:
            return why
    return output_file_problem(args.json, "--json") if args.json is not None else None


def names_problem(pairs: list[PairResult], exclude: str | None, slow: str | None) -> str | None:
    """Why --exclude or --slow does not fit the recorded benchmarks (leaves none, or names none), or None."""
    names = sorted({name for pair in pairs for name in pair.times})
    kept = [n for n in names if not (exclude and exclude in n)]
    example = f"e.g. {names[0]}" if names else "none recorded"
    if exclude is not None and not kept:
        return f"--exclude {exclude!r} leaves out all {len(names)} recorded benchmarks: nothing is left to judge"
    if exclude is not None and len(kept) == len(names):
        return f"--exclude {exclude!r} matches no recorded benchmark ({example}): give part of a name"
    if slow is not None and not any(slow in n for n in kept):
        return f"--slow {slow!r} matches no benchmark replayed ({example}): give part of a name"
    return None


complain = functools.partial(toolcli.complain, "replay")  # one line on stderr, exit code 2


def main(argv: list[str] | None = None) -> int:
    return toolcli.main(parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    try:
        if problem := option_problem(args):
            raise BadRun(problem)
        pairs = [pair for folder in args.folders for pair in merge.read_folder(folder)[0]]
        if problem := names_problem(pairs, args.exclude, args.slow):
            raise BadRun(problem)
        figures = replay(
            pairs,
            n=args.pairs,
            trials=args.trials,
            alpha=args.alpha,
            rounds=args.rounds,
            flip=args.flip,
            slowdown=args.slowdown,
            slow=args.slow,
            threshold=args.threshold,
            seed=args.seed,
            exclude=args.exclude,
        )
    except BadRun as exc:
        return complain(str(exc))
    except OSError as exc:
        return complain(f"{exc.filename or ''}: {exc.strerror or exc}; check the path")
    power = figures["power_where_seen"]
    design = f"replayed {args.trials} A/Bs of {args.pairs} pairs from {len(pairs)} recorded"
    if args.rounds:
        design += f", first {args.rounds} rounds"
    if args.slowdown:
        design += f", B slowed {args.slowdown:.0%}" + (f" on '{args.slow}'" if args.slow else "")
    print(design)
    rate = f"{figures['false_alarm_rate']:.1%} of A/Bs (alpha {args.alpha:g})"
    print(f"  false alarms (any regressed/improved among unchanged benchmarks): {rate}")
    if args.slowdown:
        shown = "no slowed benchmark could see it" if power is None else f"{power:.1%}"
        seen = figures["slowed_benchmarks_seen"]
        print(f"  slowed benchmarks called regressed where their MDE <= threshold: {shown} ({seen} seen)")
    if figures["median_mde"] is not None:
        print(f"  median smallest change seen: {figures['median_mde']:.1%}")
    return toolcli.write_json("replay", args.json, figures)


if __name__ == "__main__":
    sys.exit(main())
