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
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench.ab import merge, paired
from mlxbench.ab.coordinator import PairResult
from mlxbench.runs import BadRun
from mlxbench.verdicts.verdict import MOVED


def draw(pairs: list[PairResult], rng: np.random.Generator, n: int, rounds: int | None, flip: bool,
         slowdown: float, slow: str | None, exclude: str | None = None) -> list[PairResult]:  # fmt: skip
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
        out.append(PairResult.of(times, pair.facts))
    return out


def replay(pairs: list[PairResult], *, n: int, trials: int, alpha: float = 0.05, rounds: int | None = None,
           flip: bool = False, slowdown: float = 0.0, slow: str | None = None, threshold: float | None = None,
           seed: int = 0, exclude: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Trials of a design on recorded pairs: false-alarm rate (no slowdown) or power (with one)."""
    from mlxbench.verdicts.paired import MIN_PAIRS

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
        "trials": trials, "pairs": n, "rounds": rounds, "alpha": alpha, "slowdown": slowdown,
        "false_alarm_rate": alarms / trials, "power_where_seen": (caught / seen) if seen else None,
        "slowed_benchmarks_seen": seen, "slowed_called_improved": false_slow,
        "median_mde": float(np.median(finite)) if finite else None,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlxbench.tools.replay", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path, help="paired A/B folders holding pair-*/pair.json")
    p.add_argument("--pairs", type=int, default=4, help="pairs per replayed A/B (default 4)")
    p.add_argument("--rounds", type=int, default=None, help="keep the first R rounds of each arm of each pair")
    p.add_argument("--trials", type=int, default=200, help="replayed A/Bs (default 200)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--threshold", type=float, default=None, help="default: each workload's, else 10%%")
    p.add_argument("--slowdown", type=float, default=0.0, help="multiply B's times by 1 + this (e.g. 0.1)")
    p.add_argument("--slow", default=None, help="slow only benchmarks whose name holds this (default: all)")
    p.add_argument("--flip", action="store_true", help="swap each drawn pair's arms at random (sign-flip null)")
    p.add_argument("--exclude", default=None, help="leave out benchmarks whose name holds this (e.g. a workload "
                   "whose arms really differ in the record)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    try:
        checks = [(args.trials >= 1, f"--trials {args.trials}: give at least 1"),
                  (0 < args.alpha < 1, f"--alpha {args.alpha}: give a rate between 0 and 1"),
                  (0 <= args.slowdown < 10, f"--slowdown {args.slowdown}: give a fraction such as 0.1"),
                  (args.rounds is None or args.rounds >= 2, f"--rounds {args.rounds}: give at least 2")]  # fmt: skip
        for ok, why in checks:
            if not ok:
                raise BadRun(why)
        pairs = [pair for folder in args.folders for pair in merge.read_folder(folder)[0]]
        figures = replay(pairs, n=args.pairs, trials=args.trials, alpha=args.alpha, rounds=args.rounds,
                         flip=args.flip, slowdown=args.slowdown, slow=args.slow, threshold=args.threshold,
                         seed=args.seed, exclude=args.exclude)  # fmt: skip
    except BadRun as exc:
        print(f"mlxbench.tools.replay: {exc}", file=sys.stderr)
        return 2
    power = figures["power_where_seen"]
    print(f"replayed {args.trials} A/Bs of {args.pairs} pairs from {len(pairs)} recorded"
          + (f", first {args.rounds} rounds" if args.rounds else "")
          + (f", B slowed {args.slowdown:.0%}" + (f" on '{args.slow}'" if args.slow else "") if args.slowdown else ""))
    print(f"  false alarms (any regressed/improved among unchanged benchmarks): {figures['false_alarm_rate']:.1%} "
          f"of A/Bs (alpha {args.alpha:g})")  # fmt: skip
    if args.slowdown:
        shown = "no slowed benchmark could see it" if power is None else f"{power:.1%}"
        print(f"  slowed benchmarks called regressed where their MDE <= threshold: {shown} "
              f"({figures['slowed_benchmarks_seen']} seen)")  # fmt: skip
    if figures["median_mde"] is not None:
        print(f"  median smallest change seen: {figures['median_mde']:.1%}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
