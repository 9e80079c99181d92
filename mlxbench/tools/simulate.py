"""Simulate paired A/Bs of benchmarks whose spreads you choose, judged as `mlxbench ab` judges: the false-alarm rate
and the power of the design, without any machine.

    python -m mlxbench.tools.simulate --benchmarks 17x3%/3% 3x30%/10% --runs 2000 --seed 2
    python -m mlxbench.tools.simulate --benchmarks 20x3%/3% --slowed 1 --slowdown 0.1 --runs 1000

Each `--benchmarks` kind is COUNTxSTATE/ROUND: COUNT benchmarks whose pairs of workers draw a lasting state of
spread STATE (the standard deviation it adds to a pair's mean log ratio) and whose rounds vary by ROUND (log scale),
`--rounds` rounds per arm in each pair. Every simulated A/B adds pairs one at a time up to `--pairs`, with the
engine's looks: at each interim look (mlxbench.verdicts.paired.look_number) the benchmarks still undecided are
judged at the interim level and those decided leave the later pairs; the final look judges the rest
(mlxbench.ab.paired.judge_pairs, the statistic every A/B uses: the shared spread, lasting states, levels).
`--slowed N` makes B of the first N benchmarks of the first kind slower by `--slowdown`.

It prints the share of A/Bs with any false `regressed`/`improved` (the family-wise false-alarm rate, to hold at most
alpha) with its 95% interval, the false verdicts per kind, the share of A/Bs whose unchanged benchmarks were all
decided `unchanged`, and with a slowdown the share of slowed benchmarks called `regressed`. Recorded pairs are
replayed by mlxbench.tools.replay instead; this tool asks what a mix of spreads the recordings lack would do.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench.ab.coordinator import PairResult
from mlxbench.ab.paired import judge_pairs
from mlxbench.tools import toolcli
from mlxbench.verdicts import paired as stats
from mlxbench.verdicts.paired import MIN_PAIRS
from mlxbench.verdicts.words import MOVED

NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
KIND = re.compile(rf"(\d+)x{NUMBER}(%?)/{NUMBER}(%?)")
MAX_RUNS = 100_000
MAX_BENCHMARKS = 1_000  # a kind's count, and all kinds together
MAX_PAIRS = 1_000
MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class Kind:
    """COUNT benchmarks of one lasting-state spread and one round noise (both on the log scale)."""

    count: int
    state: float
    round: float

    @classmethod
    def parse(cls, text: str) -> Kind:
        m = KIND.fullmatch(text.strip())
        if not m:
            raise ValueError(f"--benchmarks {text!r}: give COUNTxSTATE/ROUND, e.g. 17x3%/3% or 3x0.3/0.1")
        state = float(m[2]) / (100 if m[3] else 1)
        round_ = float(m[4]) / (100 if m[5] else 1)
        if not 1 <= int(m[1]) <= MAX_BENCHMARKS or not (0 <= state <= 5 and 0 < round_ <= 5):
            raise ValueError(
                f"--benchmarks {text!r}: a count of 1 to {MAX_BENCHMARKS:,}, spreads from 0 to 500% (rounds above 0)"
            )
        return cls(int(m[1]), state, round_)

    def label(self) -> str:
        return f"{self.count}x{100 * self.state:.3g}%/{100 * self.round:.3g}%"


def pair(
    rng: np.random.Generator, named: list[tuple[str, Kind]], undecided: set[str], slow: dict[str, float], rounds: int
) -> PairResult:
    """One simulated pair of workers: each undecided benchmark's rounds per arm, each worker in a lasting state."""
    times = {}
    for name, kind in named:
        if name not in undecided:
            continue
        arms = {}
        for arm, shift in (("A", 0.0), ("B", math.log1p(slow.get(name, 0.0)))):
            state = rng.normal(shift, kind.state / math.sqrt(2))  # each worker's own: the pair's adds up to STATE
            arms[arm] = [float(x) for x in np.exp(state + rng.normal(0, kind.round, rounds))]
        times[name] = arms
    return PairResult.of(times, {}, {})


def simulate(
    kinds: list[Kind],
    *,
    runs: int,
    pairs: int = 8,
    rounds: int = 7,
    alpha: float = 0.05,
    threshold: float = 0.1,
    slowed: int = 0,
    slowdown: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """`runs` simulated A/Bs of these benchmarks, each judged with the engine's looks (module docstring)."""
    named = [(f"k{k}-b{i}", kind) for k, kind in enumerate(kinds) for i in range(kind.count)]
    slow = {name: slowdown for name, _ in named[:slowed] if name.startswith("k0-")} if slowdown else {}
    thresholds = {name: threshold for name, _ in named}
    rng = np.random.default_rng(seed)
    alarms, all_unchanged, caught = 0, 0, 0
    false_by_kind = [0] * len(kinds)
    for _ in range(runs):
        done: list[PairResult] = []
        decided: dict[str, str] = {}
        for k in range(1, pairs + 1):
            done.append(pair(rng, named, {n for n, _ in named} - set(decided), slow, rounds))
            look = stats.look_number(k)
            if k < pairs and look is None:
                continue
            level = stats.final_alpha(alpha, True) if k == pairs else stats.interim_alpha(alpha, look)
            undecided = {n for n, _ in named} - set(decided)
            results, _ = judge_pairs(done, thresholds, level, undecided, len(named))
            for r in results:
                if r.verdict != "inconclusive" or k == pairs:
                    decided[r.name] = r.verdict
        false = [n for n, _ in named if n not in slow and decided[n] in MOVED]
        alarms += bool(false)
        for n in false:
            false_by_kind[int(n[1 : n.index("-")])] += 1
        all_unchanged += all(decided[n] == "unchanged" for n, _ in named if n not in slow)
        caught += sum(decided[n] == ("regressed" if slowdown > 0 else "improved") for n in slow)
    return {
        "runs": runs,
        "pairs": pairs,
        "rounds": rounds,
        "alpha": alpha,
        "benchmarks": [k.label() for k in kinds],
        "looks_after": [k for k in range(1, pairs) if stats.look_number(k)],
        "false_alarm_rate": alarms / runs,
        "false_alarm_interval": interval(alarms, runs),
        "false_verdicts_by_kind": false_by_kind,  # in the order of `benchmarks`
        "all_unchanged_rate": all_unchanged / runs,
        "slowed": len(slow),
        "slowdown": slowdown,
        "slowed_caught_rate": caught / (runs * len(slow)) if slow else None,  # regressed (improved for a speed-up)
    }


def interval(hits: int, n: int) -> list[float]:
    """The 95% Clopper-Pearson interval of a share."""
    from scipy import stats as scipy_stats

    ci = scipy_stats.binomtest(hits, n).proportion_ci(0.95)
    return [float(ci.low), float(ci.high)]


def parser() -> argparse.ArgumentParser:
    p = toolcli.Parser(
        prog="python -m mlxbench.tools.simulate",
        description="Simulate paired A/Bs of benchmarks of chosen spreads with the engine's statistic and looks.",
    )
    p.add_argument(
        "--benchmarks", nargs="+", required=True, metavar="COUNTxSTATE/ROUND", help="e.g. 17x3%%/3%% 3x30%%/10%%"
    )
    p.add_argument("--runs", type=int, default=1000, help=f"simulated A/Bs, 1 to {MAX_RUNS:,} (default 1000)")
    p.add_argument("--pairs", type=int, default=8, help=f"pairs of workers per A/B, at least {MIN_PAIRS} (default 8)")
    p.add_argument("--rounds", type=int, default=7, help="rounds per arm in each pair, at least 2 (default 7)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--threshold", type=float, default=0.1, help="smallest change that counts (default 0.1)")
    p.add_argument("--slowed", type=int, default=0, help="B slower on this many benchmarks of the first kind")
    p.add_argument("--slowdown", type=float, default=0.0, help="by this much (e.g. 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p


def option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, in one line, or None."""
    if not 1 <= args.runs <= MAX_RUNS:
        return f"--runs {args.runs}: give 1 to {MAX_RUNS:,}"
    if not MIN_PAIRS <= args.pairs <= MAX_PAIRS:
        return f"--pairs {args.pairs}: give {MIN_PAIRS} to {MAX_PAIRS:,} (a verdict needs {MIN_PAIRS})"
    if args.rounds > MAX_ROUNDS:
        return f"--rounds {args.rounds}: give 2 to {MAX_ROUNDS:,}"
    if args.seed < 0:
        return f"--seed {args.seed}: give 0 or more"
    if args.rounds < 2:
        return f"--rounds {args.rounds}: give 2 or more (the first round of a pair is left out)"
    if not 0 < args.alpha < 1:
        return f"--alpha {args.alpha:g}: give a level between 0 and 1, e.g. 0.05"
    if not 0 < args.threshold < 10:
        return f"--threshold {args.threshold:g}: give a change between 0 and 10, e.g. 0.1"
    if args.slowed < 0 or (args.slowed and not args.slowdown) or (args.slowdown and not args.slowed):
        return "--slowed N and --slowdown F go together (N >= 1 benchmarks of the first kind, F e.g. 0.1)"
    if not -0.9 < args.slowdown < 10:
        return f"--slowdown {args.slowdown:g}: give a change between -0.9 and 10, e.g. 0.1"
    from mlxbench.paths import output_file_problem

    return output_file_problem(args.json, "--json") if args.json is not None else None


complain = functools.partial(toolcli.complain, "simulate")  # one line on stderr, exit code 2


def main(argv: list[str] | None = None) -> int:
    return toolcli.main(parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    try:
        kinds = [Kind.parse(text) for text in args.benchmarks]
    except ValueError as exc:
        return complain(str(exc))
    if problem := option_problem(args):
        return complain(problem)
    if sum(k.count for k in kinds) > MAX_BENCHMARKS:
        return complain(f"--benchmarks: {sum(k.count for k in kinds):,} in all; give at most {MAX_BENCHMARKS:,}")
    if args.slowed > kinds[0].count:
        return complain(f"--slowed {args.slowed}: the first kind has {kinds[0].count} benchmarks")
    figures = simulate(
        kinds,
        runs=args.runs,
        pairs=args.pairs,
        rounds=args.rounds,
        alpha=args.alpha,
        threshold=args.threshold,
        slowed=args.slowed,
        slowdown=args.slowdown,
        seed=args.seed,
    )
    looks = ", ".join(map(str, figures["looks_after"])) or "none"
    print(
        f"simulated {args.runs} A/Bs of {' + '.join(figures['benchmarks'])} (count x lasting state / round noise), "
        f"{args.rounds} rounds a pair; interim looks after pairs {looks}, the final look after pair {args.pairs}"
    )
    low, high = figures["false_alarm_interval"]
    print(
        f"  any false regressed/improved: {figures['false_alarm_rate']:.2%} of A/Bs (95% interval {low:.2%} to "
        f"{high:.2%}; alpha {args.alpha:g})"
    )
    counts = zip(figures["benchmarks"], figures["false_verdicts_by_kind"], strict=True)
    by_kind = ", ".join(f"{k}: {n}" for k, n in counts)
    print(f"  false verdicts by kind: {by_kind}")
    print(f"  every unchanged benchmark decided unchanged: {figures['all_unchanged_rate']:.1%} of A/Bs")
    if figures["slowed"]:
        print(
            f"  slowed benchmarks ({figures['slowed']}, B {args.slowdown:+.0%}) called "
            f"{'regressed' if args.slowdown > 0 else 'improved'}: {figures['slowed_caught_rate']:.1%}"
        )
    return toolcli.write_json("simulate", args.json, figures)


if __name__ == "__main__":
    sys.exit(main())
