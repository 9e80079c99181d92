"""Where a release history moved, and each step confirmed or refuted by an A/B of the two releases.

A step is a pair of adjacent timed releases where a benchmark's median moved by at least its threshold
(the workload's, else 10%), or where the change-point search (mlxbench.verdicts.changepoints, on the
log medians over the releases, once there are enough of them) puts a change. One history median per
release is one process, and processes differ by more than rounds do (25-34% between fresh processes
on a shared 2-core machine): so each step is judged by `mlxbench ab` between the two releases'
environments, on the benchmarks that moved there, and called confirmed (the A/B's verdict goes the
history's way), refuted (unchanged, or the other way) or inconclusive (with what the A/B can see).
An A/B already made with the same releases, benchmarks and budget is reused, once its file reads back as
verdicts (a damaged one is named, kept aside and made again). An A/B that cannot run (an environment gone
and not buildable, a worker that fails) leaves its steps `not judged`, with why.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench.ab import command as ab
from mlxbench.ab.config import ABConfig
from mlxbench.ab.options import on_nodeids
from mlxbench.releases import history, state
from mlxbench.releases.history import History
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun
from mlxbench.units import echo
from mlxbench.verdicts import changepoints
from mlxbench.verdicts.verdict import DEFAULT_THRESHOLD, median_ci
from mlxbench.verdicts.words import interval, sees


@dataclass
class Point:
    version: str
    median: float
    low: float
    high: float


@dataclass
class Step:
    name: str  # benchmark fullname
    title: str
    before: str  # release
    after: str
    ratio: float  # history: median after / median before
    why: str  # "moved 23%" or "change point"
    verdict: str = "not judged"  # the A/B's verdict
    ab_ratio: float = math.nan
    ab_low: float = math.nan
    ab_high: float = math.nan
    sees: float = math.nan  # the A/B's minimum detectable effect
    outcome: str = "not judged"  # confirmed | refuted | inconclusive | not judged
    ab_folder: str = ""
    note: str = ""  # why it is not judged

    def line(self) -> str:
        moved = f"{self.title}: {self.before} -> {self.after} x{self.ratio:.3f} ({self.why})"
        if self.outcome == "not judged":
            return f"{moved}; not judged: {self.note or 'no A/B verdict'}"
        ab_part = self.verdict
        if self.ab_ratio == self.ab_ratio:
            ab_part = f"A/B {interval(self.ab_ratio, self.ab_low, self.ab_high)} {self.verdict}, sees {sees(self.sees)}"
        return f"{moved}; {ab_part}: {self.outcome}"


@dataclass
class Series:
    name: str
    title: str
    workload: str
    threshold: float
    points: list[Point] = field(default_factory=list)


def series(hist: History) -> dict[str, Series]:
    """Per benchmark, its median with a 95% interval in each timed release it ran in, oldest first."""
    out: dict[str, Series] = {}
    for rel in hist.timed:
        for name, b in hist.runs[rel.version].benchmarks.items():
            st = b.get("stats") or {}
            median = st.get("median")
            if not isinstance(median, (int, float)) or not (math.isfinite(median) and median > 0):
                continue
            info = b.get("extra_info") or {}
            s = out.setdefault(
                name,
                Series(
                    name,
                    changepoints.title(b),
                    str(info.get("workload", "?")),
                    float(info.get("regression_threshold") or DEFAULT_THRESHOLD),
                ),
            )
            low, high = median_ci(list(st.get("data") or []), median)
            s.points.append(Point(rel.version, float(median), low, high))
    return out


JUMP_Z = 4.0  # a move between two adjacent releases this many times the series' own noise is a step by itself


def visible_step(s: Series) -> float:
    """The smallest move between adjacent releases this history tells from its own noise (a fraction)."""
    if len(s.points) <= 2:
        return s.threshold
    logs = [math.log(p.median) for p in s.points]
    noise = changepoints.series_noise(logs)
    if len(logs) > 8:  # the larger of two robust spreads (either alone is low by chance on 10-20 releases)
        q1, q3 = np.percentile(np.diff(logs), [25, 75])
        noise = max(noise, float(q3 - q1) / 1.349 / math.sqrt(2))
    return max(s.threshold, math.expm1(JUMP_Z * noise))


def find_steps(all_series: dict[str, Series]) -> list[Step]:
    """Where a benchmark's history moved between adjacent releases: a change point (a lasting level shift of at
    least 10%, mlxbench.verdicts.changepoints), or a move of at least its threshold that the series' own noise
    cannot explain (JUMP_Z times it: one process per release differs from the next by its noise alone)."""
    steps = []
    for s in all_series.values():
        logs = [math.log(p.median) for p in s.points]
        cuts = set(changepoints.detect(logs))
        seen = visible_step(s)
        for k in range(1, len(s.points)):
            ratio = s.points[k].median / s.points[k - 1].median
            moved = abs(math.log(ratio)) >= math.log1p(seen)
            if moved or k in cuts:
                why = f"moved {max(ratio, 1 / ratio) - 1:.0%}" if moved else "change point"  # x0.907: 10% faster
                if moved and k in cuts:
                    why += ", change point"
                steps.append(Step(s.name, s.title, s.points[k - 1].version, s.points[k].version, ratio, why))
    return steps


def outcome(step: Step) -> str:
    """confirmed: the A/B's verdict goes the history's way; refuted: unchanged, the other way, or an interval that
    excludes the step the history shows (x2.0 in the history, [0.88, 1.09] in the A/B: that step did not happen,
    whatever smaller change may lie inside the interval); inconclusive otherwise."""
    if step.verdict == ("regressed" if step.ratio > 1 else "improved"):
        return "confirmed"
    if step.verdict != "inconclusive":
        return "refuted"
    if step.ab_low == step.ab_low and not step.ab_low <= step.ratio <= step.ab_high:
        return "refuted"
    return "inconclusive"


def ab_key(before: str, after: str, names: Sequence[str], pytest_args: Sequence[str], budget: float) -> str:
    text = json.dumps([before, after, sorted(names), list(pytest_args), budget])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_ab(python_a: str, python_b: str, pytest_args: list[str], budget: float, out: Path, target: Path) -> int:
    """`mlxbench ab --a A --b B --time-budget MIN --json target --out out -- pytest_args`, in this process."""
    config = ABConfig(a=python_a, b=python_b, time_budget=budget, json=target, out=out, pytest_args=pytest_args)
    return ab.run(config)


VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")
NUMBERS = ("ratio", "ci_low", "ci_high", "mde", "threshold")


def verdicts_problem(doc: Any) -> str | None:
    """Why an A/B's verdicts file (`mlxbench ab --json`) does not read back as verdicts, or None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("verdicts"), list):
        return "it holds no 'verdicts' list"
    for i, v in enumerate(doc["verdicts"]):
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            return f"verdict {i + 1} is not a mapping with a benchmark's name"
        if v.get("verdict") not in VERDICTS:
            return f"{v['name']}: the verdict is {v.get('verdict')!r}, not one of {', '.join(VERDICTS)}"
        for k in NUMBERS:
            x = v.get(k)
            if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float))):
                return f"{v['name']}: {k!r} is {json.dumps(x)[:40]}, not a number"
    return None


def read_verdicts(target: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The verdicts of an A/B file by benchmark name (numbers as floats, NaN where absent), and why it is damaged."""
    try:
        doc = json.loads(target.read_bytes())
    except OSError as exc:
        return {}, f"it cannot be read ({exc.strerror or exc})"
    except (ValueError, RecursionError) as exc:
        return {}, f"not valid JSON ({str(exc)[:80]})"
    if problem := verdicts_problem(doc):
        return {}, problem
    out = {}
    for v in doc["verdicts"]:
        numbers = {k: math.nan if v.get(k) is None else float(v[k]) for k in NUMBERS}
        if numbers["threshold"] != numbers["threshold"]:
            numbers["threshold"] = DEFAULT_THRESHOLD
        out[v["name"]] = v | numbers
    return out, None


def ab_verdicts(
    out: Path,
    before: str,
    after: str,
    names: Sequence[str],
    pytest_args: Sequence[str],
    budget: float,
    start: Callable[[Path], Any],
    head: str,
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """The A/B of `after` against `before` on `names`: its file, reused when the same A/B (releases, benchmarks,
    selection, budget) was made before and reads back as verdicts, else made by `start(file)` (a damaged file
    is named and kept aside first); and its verdicts by name ({} if it has none)."""
    target = out / "ab" / f"{before}-{after}-{ab_key(before, after, names, pytest_args, budget)}.json"
    if target.is_file():
        verdicts, problem = read_verdicts(target)
        if problem is None:
            echo(f"{head}: reused {target}", flush=True)
            return target, verdicts
        kept = state.aside(target, f"damaged-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")
        state.warn(
            f"{head.split(':')[0]}: {target} is damaged ({problem}): kept as {kept.name}; that A/B is made again"
        )
    echo(f"{head} (budget {budget:g} min)...", flush=True)
    start(target)
    return target, read_verdicts(target)[0] if target.is_file() else {}


def in_release_words(text: str, dist: str, before: str, after: str) -> str:
    """An A/B's refusal as `releases` can act on it: which release each arm is; no advice about `ab`'s options."""
    text = re.sub(r"; give an existing interpreter with --[ab]\b", "", text)
    return text.replace("arm A:", f"arm A ({dist} {before}):").replace("arm B:", f"arm B ({dist} {after}):")


def confirm(
    hist: History, steps: list[Step], budget: float, runner: Callable[..., int] | None = None
) -> list[dict[str, Any]]:
    """One A/B per pair of adjacent releases with steps, on their benchmarks (by `runner`, default run_ab); each
    step's verdict filled in, or why it has none. Returns what each A/B was (releases, benchmarks, file, exit, or
    `error`: why it left no verdicts)."""
    run = runner or run_ab
    pairs: dict[tuple[str, str], list[Step]] = {}
    for s in steps:
        pairs.setdefault((s.before, s.after), []).append(s)
    done = []
    dist = hist.framework.dist
    for n, ((before, after), group) in enumerate(sorted(pairs.items(), key=lambda kv: kv[0]), 1):
        names = sorted({s.name for s in group})
        record: dict[str, Any] = {"before": before, "after": after, "benchmarks": names}
        head = f"mlxbench releases: A/B {n}/{len(pairs)}, {after} against {before} on {nouns(len(names), 'benchmark')}"

        def start(target: Path, before=before, after=after, names=names, record=record) -> None:
            try:
                a, b = history.interpreter(hist, before), history.interpreter(hist, after)
                record["exit"] = run(a, b, on_nodeids(hist.pytest_args, names), budget, hist.out / "ab", target)
            except BadRun as exc:
                record["error"] = in_release_words(str(exc), dist, before, after)[:600]
                echo(f"mlxbench releases: that A/B could not run: {record['error']}", flush=True)

        target, verdicts = ab_verdicts(hist.out, before, after, names, hist.pytest_args, budget, start, head)
        record["file"] = str(target)
        if not verdicts and "error" not in record:
            code = f" (mlxbench ab exit {record['exit']})" if "exit" in record else ""
            record["error"] = f"it left no verdicts in {target}{code}; see {hist.out / 'ab'}"
        done.append(record)
        for s in group:
            v = verdicts.get(s.name)
            if v is None:
                s.note = f"its A/B, {after} against {before}, " + (
                    "could not run" if "error" in record else "has no verdict on it"
                )
                continue
            s.verdict, s.ab_ratio, s.ab_low, s.ab_high = str(v["verdict"]), v["ratio"], v["ci_low"], v["ci_high"]
            s.sees, s.outcome, s.ab_folder = v["mde"], outcome(s), str(target)
    return done


def as_dicts(steps: Sequence[Step]) -> list[dict[str, Any]]:
    return [asdict(s) for s in steps]
