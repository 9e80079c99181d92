"""`mlxbench releases FRAMEWORK` and `mlxbench bisect FRAMEWORK GOOD BAD`: which release changed a workload.

    mlxbench releases mlx --from 0.26.5 -- benchmarks --profile ci -k "mlx-cpu and linreg"
    mlxbench bisect mlx 0.26.5 0.32.4 -- benchmarks --profile ci -k "mlx-cpu and lazy_eval"

Exit codes: 0 done, 1 a step confirmed as a regression (releases), 2 bad input (every option is checked before
any work; OUT in use by another of these commands; an A/B that could not run, its steps not judged), 130
interrupted (Ctrl-C) and 143 terminated (SIGTERM): the finished releases and A/Bs are kept, the next
invocation goes on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from packaging.version import Version

from mlxbench import cancel
from mlxbench.ab import venvs
from mlxbench.ab.options import on_nodeids, with_test_path
from mlxbench.measure import machine
from mlxbench.paths import output_folder_problem
from mlxbench.releases import history, index, lock, report, search, state, steps
from mlxbench.reports import publish
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun, load_run, resolve
from mlxbench.units import echo

DEFAULT_BUDGET = 3.0  # minutes of one A/B
MAX_BUDGET = 600.0  # minutes: ten hours for one A/B is a typo, not a plan
RUN_ID = re.compile(r"\d{4}(_.*)?")  # a saved run's id, 0004 or 0004_<name>


def interruptible(func):
    """Run `func(args)`; on Ctrl-C, SIGTERM or SIGHUP (mlxbench.cancel) say what was kept, exit 130/143/129."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except KeyboardInterrupt as exc:
            code = cancel.exit_code(exc)
            echo(
                f"mlxbench {args.command}: {'terminated' if code != 130 else 'interrupted'}; what finished is kept in "
                f"{args.out} (the same command goes on from there)"
            )
            return code

    return wrapper


def is_run(ref: str) -> bool:
    """GOOD names a saved run (a file, a path, or an id such as 0004), not a release."""
    return bool(RUN_ID.fullmatch(ref)) or ref.endswith(".json") or "/" in ref or Path(ref).is_file()


def check(args: argparse.Namespace) -> None:
    """Every option and argument in range, before any work (the index, an environment, a measurement)."""
    budget = args.ab_budget
    if budget is not None and not 0 < budget <= MAX_BUDGET:
        raise BadRun(
            f"--ab-budget {budget:g}: give each A/B's minutes, a number above 0 and at most {MAX_BUDGET:g} "
            f"(e.g. {DEFAULT_BUDGET:g})"
        )
    if args.command == "releases":
        if args.newest is not None and args.newest < 2:
            raise BadRun(f"--newest {args.newest}: give 2 or more releases")
        for option, value in (("--from", args.start), ("--to", args.stop)):
            if value is not None and (problem := index.version_problem(option, value)):
                raise BadRun(problem)
        if args.start and args.stop and Version(args.start) > Version(args.stop):
            raise BadRun(f"--from {args.start} is newer than --to {args.stop}: give the older release to --from")
        if args.confirm == "none" and budget is not None:
            raise BadRun(
                f"--ab-budget {budget:g} sets each A/B's minutes, and --confirm none makes no A/B: leave either out"
            )
    else:
        if is_run(args.bad):
            raise BadRun(
                f"BAD {args.bad}: give a release of {args.framework} (a version such as 0.26.5); a saved run can be "
                "GOOD only (its version is read from it)"
            )
        if is_run(args.good):
            problem = index.version_problem("BAD", args.bad)
        else:
            problem = index.order_problem(args.framework, args.good, args.bad)
        if problem:
            raise BadRun(problem)
    if problem := output_folder_problem(args.out, "--out"):
        raise BadRun(problem)


def holder(args: argparse.Namespace) -> str:
    """The command as the lock file names it to a second command refused the folder."""
    words = ["mlxbench", args.command, args.framework]
    words += [args.good, args.bad] if args.command == "bisect" else []
    return " ".join(words)


@interruptible
def cmd_releases(args: argparse.Namespace) -> int:
    check(args)
    fw = index.framework(args.framework)
    pytest_args = with_test_path(args.pytest_args)
    versions = index.releases(fw, args.start, args.stop, args.newest)  # read only: a bad range writes nothing
    with lock.holding(args.out, holder(args)):
        known = state.read(args.out, history.selection_key(fw, pytest_args))  # validated before any measuring
        return releases_in(args, fw, versions, pytest_args, known)


def releases_in(
    args: argparse.Namespace, fw: index.Framework, versions: list[str], pytest_args: list[str], known: state.State
) -> int:
    listed = f"{fw.dist} {', '.join(versions)} ({nouns(len(versions), 'release')})"
    echo(f"mlxbench releases: {listed}; results in {args.out}")
    started = time.perf_counter()
    hist = history.build(fw, versions, pytest_args, args.out, st=known)
    if not hist.timed:
        raise BadRun(f"no release could be timed: {hist.releases[0].version}: {hist.releases[0].reason}")
    all_series = steps.series(hist)
    found = steps.find_steps(all_series)
    if args.confirm == "all":
        found = every_step(hist, all_series, found)
    if args.confirm == "none":
        abs_ = []
        for s in found:
            s.note = "--confirm none"
    else:
        abs_ = steps.confirm(hist, found, args.ab_budget or DEFAULT_BUDGET)
    m = report.model(
        fw.dist,
        machine.machine_id(),
        pytest_args,
        [r.__dict__ for r in hist.releases],
        {
            n: s.__dict__ | {"points": [p.__dict__ for p in s.points], "visible": steps.visible_step(s)}
            for n, s in all_series.items()
        },
        steps.as_dicts(found),
        abs_,
    )
    out = new_folder(args.out, "report")
    lines = publish.written_lines(report.contents(m), out)
    minutes = (time.perf_counter() - started) / 60
    timed = f"{len(hist.timed)} of {nouns(len(versions), 'release')} timed"
    echo(f"\nmlxbench releases: {timed}, {nouns(len(found), 'step')}, {minutes:.1f} min")
    for r in hist.releases:
        if not r.timed or r.failed:
            echo(f"  {r.version}: {r.status}: {r.reason}")
    for s in sorted(found, key=lambda s: (s.outcome, s.title)):
        echo(f"  {s.outcome:<12} {s.line()}")
    echo("\n".join(lines))
    echo(f"saved runs (one per release): mlxbench --storage {args.out / 'runs'} report ...")
    regressed = any(s.outcome == "confirmed" and s.ratio > 1 for s in found)
    failed = [a for a in abs_ if a.get("error")]
    if failed:  # steps left unjudged never read as "nothing regressed"
        unjudged = sum(s.outcome == "not judged" for s in found)
        first = failed[0]
        again = "" if "same command again" in first["error"] else "; the same command again makes only those A/Bs"
        echo(
            f"mlxbench releases: {len(failed)} of {nouns(len(abs_), 'A/B')} could not run, so "
            f"{nouns(unjudged, 'step')} {'is' if unjudged == 1 else 'are'} not judged ({first['after']} against "
            f"{first['before']}: {first['error']}){again}",
            file=sys.stderr,
        )
        return 1 if regressed else 2
    return 1 if regressed else 0


def new_folder(out: Path, kind: str) -> Path:
    """OUT/<kind>-<UTC time>, a number added where a command of the same second took that name (the lock keeps
    any other command from taking it meanwhile)."""
    base = out / f"{kind}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    folder, n = base, 2
    while folder.exists():
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder


def every_step(hist: history.History, all_series: dict, found: list[steps.Step]) -> list[steps.Step]:
    """--confirm all: every benchmark between every two adjacent timed releases, not only those that moved."""
    have = {(s.name, s.before, s.after) for s in found}
    out = list(found)
    for s in all_series.values():
        for a, b in zip(s.points, s.points[1:], strict=False):
            if (s.name, a.version, b.version) not in have:
                out.append(steps.Step(s.name, s.title, a.version, b.version, b.median / a.median, "every step"))
    return out


@interruptible
def cmd_bisect(args: argparse.Namespace) -> int:
    check(args)
    fw = index.framework(args.framework)
    good = good_release(args, fw)
    versions = index.between(fw, good, args.bad)  # read only: a release that does not exist writes nothing
    with lock.holding(args.out, holder(args)):
        return bisect_in(args, fw, good, versions)


def good_release(args: argparse.Namespace, fw: index.Framework) -> str:
    """GOOD as a version: as given, or the version of the framework a saved run (a file or an id) measured."""
    if not is_run(args.good):
        return args.good
    run = load_run(resolve(args.good, args.storage / machine.machine_id()))
    good = str((run.facts.get("versions") or {}).get(fw.dist) or "").split("+")[0]
    if not good:
        raise BadRun(f"{args.good} records no {fw.dist} version: give the good release's version instead")
    if problem := index.order_problem(fw.name, good, args.bad):
        raise BadRun(f"{problem} (GOOD {good} is what {run.path.name} measured)")
    return good


def bisect_in(args: argparse.Namespace, fw: index.Framework, good: str, versions: list[str]) -> int:
    pytest_args = with_test_path(args.pytest_args)
    budget = args.ab_budget or DEFAULT_BUDGET
    span = f"{fw.dist} {good} (good) to {args.bad} (bad): {nouns(len(versions), 'release')}"
    echo(f"mlxbench bisect: {span}, at most {nouns(search.bound(len(versions)), 'A/B')} of {budget:g} min")
    pythons: dict[str, str] = {}

    def python(v: str) -> str:
        if v not in pythons:
            pins = venvs.suite_pins(leave_out=[fw.dist])
            pythons[v] = str(venvs.environment([fw.requirement(v), *pins], log=lambda line: echo(line, flush=True)))
        return pythons[v]

    def judge(a: str, b: str, names) -> search.Probe:
        args_ = on_nodeids(pytest_args, list(names)) if names else pytest_args
        t0 = time.perf_counter()
        target, verdicts = steps.ab_verdicts(
            args.out,
            a,
            b,
            names or [],
            pytest_args,
            budget,
            lambda file: steps.run_ab(python(a), python(b), args_, budget, args.out / "ab", file),
            f"mlxbench bisect: A/B of {b} against {a}",
        )
        if not verdicts:  # never read as "nothing regressed"
            raise BadRun(f"the A/B of {b} against {a} left no verdicts in {target}; see {args.out / 'ab'}")
        followed = [v for v in verdicts.values() if names is None or v["name"] in names]
        mdes = [v["mde"] for v in followed if v.get("mde") == v.get("mde") and v.get("mde") is not None]
        sees = max(mdes, default=float("nan"))
        return search.Probe(
            a,
            b,
            [v["name"] for v in followed if v["verdict"] == "regressed"],
            [v["name"] for v in followed if v["verdict"] == "inconclusive"],
            sees,
            max((v["threshold"] for v in followed), default=0.1),
            (time.perf_counter() - t0) / 60,
            str(target),
        )

    outcome = search.bisect(versions, judge, log=lambda line: echo(line, flush=True))
    n = nouns(len(outcome.probes), "A/B")
    if outcome.first_bad:
        echo(
            f"mlxbench bisect: the first bad release is {fw.dist} {outcome.first_bad} ({n}; it regressed on "
            f"{', '.join(search.short(x) for x in outcome.followed)})"
        )
    elif outcome.open_range:
        need = outcome.probes[-1].budget_to_decide(budget)
        echo(
            f"mlxbench bisect: undecided between {outcome.open_range[0]} and {outcome.open_range[1]} after {n}: "
            f"{outcome.why}; --ab-budget {need:.0f} would likely decide it"
        )
    else:
        echo(f"mlxbench bisect: nothing to bisect: {outcome.why}")
    (args.out / "bisect.json").parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "framework": fw.dist,
        "releases": versions,
        "first_bad": outcome.first_bad,
        "followed": outcome.followed,
        "open_range": outcome.open_range,
        "why": outcome.why,
        "probes": [p.__dict__ | {"state": p.state} for p in outcome.probes],
    }
    publish.write_files(
        {"bisect.json": json.dumps(publish.strict(doc), indent=2).encode()}, new_folder(args.out, "bisect")
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "releases",
        help="the benchmarks across a framework's releases: history, steps, A/Bs",
        description="Time the selected benchmarks under each release of FRAMEWORK on the package index (--from, "
        "--to, --newest choose them), each in an environment of its own (cached) and saved as a run in DIR/runs "
        "(--out DIR). Where a benchmark's median moved between two adjacent releases by more than its history's "
        "noise (a step), an A/B of the two releases confirms or refutes it. The report goes to DIR/report-<UTC "
        "time>/; the same command again reuses the finished releases and A/Bs. Exit 1 when a step is a confirmed "
        "regression.",
    )
    r.add_argument("framework", help="mlx, torch or numpy")
    r.add_argument("--from", dest="start", default=None, metavar="V", help="oldest release (default: the oldest)")
    r.add_argument("--to", dest="stop", default=None, metavar="V", help="newest release (default: the newest)")
    r.add_argument("--newest", type=int, default=None, metavar="N", help="only the newest N releases of the range")
    r.add_argument(
        "--confirm",
        choices=("moved", "all", "none"),
        default="moved",
        help="A/B the steps that moved (default), every adjacent pair, or none",
    )
    b = sub.add_parser(
        "bisect",
        help="the first bad release between GOOD and BAD, by A/Bs",
        description="Find the first release of FRAMEWORK after GOOD that made the selected benchmarks slower, by "
        "A/Bs in the releases' own environments: BAD against GOOD names the benchmarks that regressed, then the "
        "release halfway is A/B'd against GOOD on those, halving the range (about log2(n) + 1 A/Bs over n "
        "releases). An A/B that cannot decide ends the search, naming the range still open and the --ab-budget "
        "that would likely decide it. The outcome goes to DIR/bisect-<UTC time>/bisect.json (--out DIR).",
    )
    b.add_argument("framework", help="mlx, torch or numpy")
    b.add_argument("good", help="a good release, or a saved run (its version of the framework)")
    b.add_argument("bad", help="a bad release")
    for p, func in ((r, cmd_releases), (b, cmd_bisect)):
        p.add_argument(
            "--ab-budget",
            type=float,
            default=None,
            metavar="MIN",
            help=f"minutes of each A/B (default {DEFAULT_BUDGET:g})",
        )
        p.add_argument(
            "--out",
            type=Path,
            default=None,
            metavar="DIR",
            help="environments' runs, logs, A/Bs and reports (default releases/FRAMEWORK)",
        )
        p.add_argument("pytest_args", nargs="*", help="-- then pytest's arguments (default: benchmarks)")
        p.set_defaults(func=func)


def split(argv: list[str]) -> tuple[list[str], list[str]]:
    """`releases`/`bisect` ARGS -- PYTEST_ARGS: the part before `--` for argparse (a positional comes before
    the options), the rest for pytest."""
    if "--" in argv and any(w in ("releases", "bisect") for w in argv[: argv.index("--")]):
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def default_out(args: argparse.Namespace, pytest_args: list[str]) -> None:
    if getattr(args, "command", None) in ("releases", "bisect"):
        args.pytest_args = [*args.pytest_args, *pytest_args]
        args.out = args.out if args.out is not None else Path("releases") / args.framework
