"""`mlxbench compare BASELINE CURRENT`, `mlxbench report RUN...`, `mlxbench report --machines` (and the
parsers of `report`, `ab`, `ab merge`, `releases` and `bisect`, each from its part).

Exit codes: 0 fine, 1 a regression (compare), 2 bad input (a corrupt or foreign run file, a missing
run id, a folder given as a run, runs with no benchmark in common or nothing the gate could judge,
an incomparable baseline, an existing output file, an output folder that cannot be written),
3 an internal error (a bug: never read as a regression), 130 interrupted. Bad input gets one line
on stderr naming the problem and what to do, never a traceback; no existing file is changed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from mlxbench import cancel
from mlxbench.ab import command as ab
from mlxbench.ab import merge
from mlxbench.measure import machine
from mlxbench.paths import OUTPUT_ERRNOS, default_storage, output_folder_problem, relative_text
from mlxbench.releases import command as releases
from mlxbench.reports import options
from mlxbench.runs import (
    BadRun,
    Run,
    baseline_run,
    comparability,
    load_folder,
    load_run,
    resolve,
    runs_before,
)
from mlxbench.units import fit, fitted, tolerant_output
from mlxbench.verdicts.verdict import threshold_problem

REGRESSION, BAD_INPUT, INTERNAL_ERROR, INTERRUPTED = 1, 2, 3, 130


def complain(message: object) -> None:
    """One message on stderr: one line, wrapped at 120 columns, paths under the working directory relative."""
    text = relative_text(" ".join(str(message).splitlines()))
    try:
        print("\n".join(fit(f"mlxbench: {text}")), file=sys.stderr)
    except OSError:
        pass  # stderr itself cannot be written (closed, a full disk): the exit status still says it


def _load(ref: str, storage: Path) -> Run:
    return load_run(resolve(ref, storage / machine.machine_id()))


def _saved(folder: Path, use: str) -> list[Run]:
    """The saved runs of `folder`, naming each unreadable one (skipped, left as is)."""
    saved, unreadable = load_folder(folder)
    for exc in unreadable:
        complain(f"unreadable saved run, {use} and left as is: {exc}")
    return saved


def latest_runs(storage: Path, count: int, profile: str | None = None) -> list[Run]:
    """The last `count` saved runs of this machine with `profile` (default: the newest run's) and the newest
    such run's host, oldest first. Files are read newest first, only until `count` are found; each unreadable
    one met on the way is named (oldest first) and left out."""
    from mlxbench.reports.selection import newest_first

    folder = storage / machine.machine_id()
    picked: list[Run] = []
    unreadable: list[BadRun] = []
    profiles: set[str] = set()
    for run in newest_first(folder):
        if isinstance(run, BadRun):
            unreadable.append(run)
            continue
        profiles.add(str(run.profile))
        if profile is not None and run.profile != profile:
            continue
        if not picked or (run.profile == picked[0].profile and run.host == picked[0].host):
            picked.append(run)
            if len(picked) == count:
                break
    for exc in reversed(unreadable):
        complain(f"unreadable saved run, not reported and left as is: {exc}")
    if not profiles:
        raise BadRun(
            f"no saved runs in {folder}: run the benchmarks with --benchmark-autosave first, or name run files"
        )
    if not picked:
        kinds = ", ".join(sorted(profiles))
        raise BadRun(f"--profile {profile or repr(profile)}: no saved run of it in {folder}; its runs are of: {kinds}")
    return picked[::-1]


def cmd_compare(args: argparse.Namespace) -> int:
    from mlxbench.reports import comparison
    from mlxbench.verdicts.gate import RegressionGate, judge_run

    path = resolve(args.baseline, args.storage / machine.machine_id())
    saved = _saved(path.parent, "not used as history")  # earlier saved runs give the run-to-run spread
    base = baseline_run(str(path), path.parent, saved)  # read once: it is one of them when saved
    cur = _load(args.current, args.storage)
    common = sorted(set(base.benchmarks) & set(cur.benchmarks))
    if not common:
        raise BadRun(
            f"{base.path} and {cur.path} have no benchmark in common: compare runs of the same benchmarks "
            f"(same profile; names include it)"
        )
    why = comparability(base.facts, cur.facts, args.allow_version_change)
    if why:
        raise BadRun(f"{base.path} cannot gate {cur.path}: {why}")
    gate = RegressionGate.from_runs(base, runs_before(base, saved), args.threshold)
    judge_run(gate, cur)
    lines = comparison.lines(gate.results, base, cur, gate.not_judged, args.threshold, args.only_changed)
    gone = len(set(base.benchmarks) - set(cur.benchmarks))
    if gone:
        lines.append(
            f"  ({gone} benchmark{'s' * (gone != 1)} of the baseline {'are' if gone != 1 else 'is'} not in "
            f"{cur.label} and {'were' if gone != 1 else 'was'} not compared)"
        )
    problem = gate.problem(held=len(cur.benchmarks))
    if problem:  # a valid comparison that could not judge: the medians above are the answer; said, exit 0
        lines.append(f"mlxbench compare: no verdicts: {problem}")
    emit(lines)
    return REGRESSION if any(r.regressed for r in gate.results) else 0


def emit(lines: list[str]) -> None:
    """Print to stdout, every line within 120 columns; a reader that went away (`| head -1`) ends the
    output quietly."""
    try:
        print("\n".join(fitted(lines)), flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so that the interpreter's last flush does not fail
        os.dup2(devnull, sys.stdout.fileno())


def cmd_report(args: argparse.Namespace) -> int:
    from mlxbench.reports import abreport, publish, report

    if args.history is not None and args.history < 1:
        raise BadRun(f"--history {args.history}: give the number of saved runs to report, 1 or more")
    if args.profile is not None and not args.profile.strip():
        raise BadRun("--profile '': give a profile name, e.g. seed or ci")
    if args.machines is not None:
        return cmd_machines(args)
    if args.out is not None and (problem := output_folder_problem(args.out, "--out")):
        raise BadRun(problem)  # before reading runs of millions of samples
    ab_folder = len(args.runs) == 1 and abreport.is_ab_folder(Path(args.runs[0]))
    given = [o for o, v in (("--history", args.history), ("--profile", args.profile)) if v is not None]
    if args.runs and given:
        one = len(given) == 1
        raise BadRun(
            f"{', '.join(given)} choose{'s' if one else ''} among saved runs when none are named; leave "
            f"{'it' if one else 'them'} out, or the {'A/B folder' if ab_folder else 'run names'}"
        )
    if ab_folder and (args.baseline or args.reference or args.allow_version_change):
        raise BadRun("--baseline, --reference and --allow-version-change act on runs, not on an A/B folder")
    if args.allow_version_change and not args.baseline:
        raise BadRun(
            "--allow-version-change acts on --baseline only (a baseline of other framework versions); "
            "without --baseline each run is compared with the one before it, whatever its versions"
        )
    if ab_folder:
        ab_run = abreport.ABReport.load(Path(args.runs[0]))
        out = args.out if args.out is not None else Path(args.runs[0]) / "report"
        formats = [f for f in args.format]
        emit(publish.written_lines(abreport.contents(ab_run, formats), out))
        return 0
    runs = (
        [_load(r, args.storage) for r in args.runs]
        if args.runs
        else latest_runs(args.storage, args.history or 10, args.profile)
    )
    if not runs[-1].benchmarks:
        raise BadRun(f"{runs[-1].path} holds no benchmarks: nothing to report; name a run that measured something")
    baseline = _load(args.baseline, args.storage) if args.baseline else None
    if baseline is not None:
        why = comparability(baseline.facts, runs[-1].facts, args.allow_version_change)
        if why:
            raise BadRun(f"{baseline.path} cannot be the baseline of {runs[-1].path}: {why}")
        if not set(baseline.benchmarks) & set(runs[-1].benchmarks):
            raise BadRun(f"{baseline.path} and {runs[-1].path} have no benchmark in common")
    backends = {str((b.get("extra_info") or {}).get("backend")) for b in runs[-1].benchmarks.values()}
    if args.reference is not None and args.reference not in backends:  # the default may be absent
        raise BadRun(
            f"--reference {args.reference!r}: no benchmark of {runs[-1].path.name} ran on it; give one of: "
            f"{', '.join(sorted(backends - {'None'})) or 'none (the run names no backend)'}"
        )
    # named runs are judged against their folder's history, as `mlxbench compare` judges them
    saved = _saved(runs[-1].path.parent, "not used as history") if args.runs else ()
    rep = report.build(runs, reference=args.reference or "numpy", baseline=baseline, saved=saved)
    if args.history is not None and len(runs) < args.history:
        rep.notes.insert(
            0, f"--history {args.history}: {len(runs)} saved runs of this profile and host are all there is"
        )
    if args.out is None:  # named after what it reports: another selection of runs never meets this one's files
        args.out = publish.default_folder(runs, bool(args.runs), args.history, baseline, args.reference)
    emit(publish.written_lines(publish.contents(rep, args.format), args.out))
    return 0


def cmd_machines(args: argparse.Namespace) -> int:
    from mlxbench.reports import machines, publish

    if args.runs:
        raise BadRun("--machines takes machine folder names, not run files: put them after --machines")
    chosen = {
        "--history": args.history,
        "--baseline": args.baseline,
        "--reference": args.reference,
        "--allow-version-change": args.allow_version_change or None,
    }
    given = [option for option, value in chosen.items() if value is not None]
    if given:
        raise BadRun(f"{', '.join(given)}: not for --machines, which shows each machine's last run side by side")
    ms = machines.load(args.storage, args.machines, args.profile or "seed")
    for why in ms.skipped:
        complain(why)
    out = args.out if args.out is not None else machines.default_folder(ms)
    emit(publish.written_lines(machines.contents(ms, args.format), out))
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        complain(f"{message} (see: {self.prog} --help)")
        sys.exit(BAD_INPUT)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mlxbench", description="Compare, report and A/B-test mlxbench runs.")
    p.add_argument(
        "--storage",
        type=options.folder_path,
        default=None,
        help="baseline folder (default: the one pytest saves into: mlxbench_baselines of the nearest "
        "ini file above, else baselines/); run ids (e.g. 0003) are looked up in STORAGE/<machine id>",
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="verdicts of CURRENT against BASELINE; exit 1 on a regression")
    c.add_argument("baseline", help="run file, or saved run id")
    c.add_argument("current", help="run file, or saved run id")
    c.add_argument("--threshold", type=float, default=None, help="smallest slowdown that counts (fraction)")
    c.add_argument("--allow-version-change", action="store_true", help="gate across framework versions")
    c.add_argument(
        "--only-changed",
        action="store_true",
        help="show only the benchmarks that moved: regressed, improved, and unjudged ones whose medians are "
        "apart by more than the threshold",
    )
    c.set_defaults(func=cmd_compare)
    options.add_report_parser(sub, cmd_report)
    ab.add_parser(sub)
    merge.add_parser(sub)
    releases.add_parsers(sub)
    _as_typed(sub, "ab-merge", "ab merge")
    return p


def _as_typed(sub: argparse._SubParsersAction, name: str, typed: str) -> None:
    """Subcommand `name` (typed as two words, `typed`: see merge.spelled) listed, used and helped as typed."""
    sub.choices[name].prog = f"{sub.choices[name].prog.removesuffix(name)}{typed}"
    for action in sub._choices_actions:
        if action.dest == name:
            action.metavar, action.help = typed, (action.help or "").removeprefix(f"(mlxbench {typed} FOLDER...) ")
    sub.metavar = "{" + ",".join(typed if n == name else n for n in sub.choices) + "}"


STORAGE_COMMANDS = ("compare", "report", "bisect")  # the subcommands that read saved runs from --storage


def storage_problem(storage: Path, found: str | None) -> str | None:
    """Why the storage folder cannot hold saved runs (a file stands there), or None."""
    named = f"--storage {storage}" if found is None else f"the storage {storage} ({found})"
    if storage.exists() and not storage.is_dir():
        return f"{named}: that is a file, not a folder; name the folder of saved runs (one folder per machine id in it)"
    mine = storage / machine.machine_id()
    if mine.exists() and not mine.is_dir():
        return f"{named}: {mine} is a file, not this machine's folder of saved runs; move it away, or choose another"
    return None


def main(argv: list[str] | None = None) -> int:
    with tolerant_output():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    own, after = releases.split(merge.spelled(sys.argv[1:] if argv is None else list(argv)))
    args = parser().parse_args(own)
    releases.default_out(args, after)
    found = None
    if getattr(args, "storage", False) is None:  # the same folder pytest saves into, wherever this runs
        args.storage, found = default_storage()
    if (found is None or args.command in STORAGE_COMMANDS) and (problem := storage_problem(args.storage, found)):
        complain(problem)
        return BAD_INPUT
    problem = threshold_problem(getattr(args, "threshold", None))
    if problem:
        complain(f"--{problem}")
        return BAD_INPUT
    try:
        with cancel.as_interrupt():  # SIGTERM, SIGHUP: like Ctrl-C, exit 143 or 129
            return args.func(args)
    except BadRun as exc:
        where = f" (the storage: {found}; choose another with --storage)" if found and "saved run" in str(exc) else ""
        complain(f"{exc}{where}")
        return BAD_INPUT
    except OSError as exc:  # a path that cannot be read or written
        if exc.filename is None and exc.errno in OUTPUT_ERRNOS:
            complain(f"cannot write this command's output ({exc.strerror or exc}); check where its output goes")
        elif exc.filename is None:  # no path: a resource (memory, processes, open files)
            complain(f"{exc.strerror or exc}; check the machine's resources and rerun")
        else:
            complain(f"{exc.filename}: {exc.strerror or exc}; check the path and its permissions")
        return BAD_INPUT
    except KeyboardInterrupt as exc:
        complain(f"{'interrupted' if cancel.exit_code(exc) == INTERRUPTED else exc}; no existing file was changed")
        return cancel.exit_code(exc)
    except Exception as exc:  # a bug: exit 1 would read as a regression in CI
        if os.environ.get("MLXBENCH_DEBUG"):
            raise
        complain(f"internal error ({type(exc).__name__}: {exc}); rerun with MLXBENCH_DEBUG=1 for the traceback")
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
