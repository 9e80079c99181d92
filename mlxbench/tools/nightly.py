"""The nightly workflow's steps as commands, so that they run (and are tested) outside GitHub Actions.

    python -m mlxbench.tools.nightly baseline --profile seed
    python -m mlxbench.tools.nightly run --profile seed --run-name nightly-123-1 -- benchmarks --strict-data
    python -m mlxbench.tools.nightly offer --run-id 123 --remote https://...

- `baseline`: the last saved run of this machine id, profile and host under `--storage` (what the gate
  compares with), or a warning that there is none; written to $GITHUB_OUTPUT as `run=` when set.
- `run`: a night. With a baseline, gate first: `mlxbench ab --baseline-run <baseline>` (arm A in an
  environment with the baseline's framework versions; `--a PYTHON` names one instead) within
  `--time-budget` minutes; a regression (exit 1) ends the night, nothing saved. Then save the run as
  `NNNN_<run name>.json` (`pytest --benchmark-save`) and `run.json`. Without a baseline it only saves.
- `offer`: put the new runs under `--storage` on a branch `baseline/nightly-<run id>` in one commit,
  and push it to `--remote` when given (the workflow then opens the pull request). It refuses, exit 1,
  when a saved run would be modified or deleted: saved runs are history, only ever added.

Exit codes: 0 done, 1 a regression (run) or a refused offer, 2 bad input, else the failing step's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mlxbench import paths  # standard library only: `offer` runs where nothing else is installed


class BadInput(Exception):
    """A value that cannot work: one line, exit 2."""


def say(line: str, file: TextIO | None = None) -> None:
    """One message, within 120 columns (a GitHub annotation stays on one line: it is read by the runner).
    mlxbench.units needs the standard library only: `offer` runs where nothing but the checkout is installed."""
    from mlxbench.units import fit

    text = f"mlxbench nightly: {line}"
    print(text if "::warning::" in text else "\n".join(fit(text)), flush=True, file=file or sys.stdout)


def github_output(**values: str) -> None:
    if path := os.environ.get("GITHUB_OUTPUT"):
        with open(path, "a") as out:
            out.writelines(f"{k}={v}\n" for k, v in values.items())


def last_baseline(storage: Path, profile: str) -> tuple[Path | None, str]:
    """(the last saved run of this machine id, profile and host, or None; why none)."""
    from mlxbench.measure import machine
    from mlxbench.runs import load_folder, split_by_host
    from mlxbench.session import outcome

    folder = storage / machine.machine_id()
    runs = [r for r in load_folder(folder)[0] if r.profile == profile]
    own, others = split_by_host(runs, machine.host_id())
    if own:
        return own[-1].path, ""
    return None, outcome.no_history(folder, profile, others)


def baseline(args: argparse.Namespace) -> int:
    path, why = last_baseline(args.storage, args.profile)
    github_output(run=str(path or ""))
    if path is None:
        annotation = "::warning::" if os.environ.get("GITHUB_ACTIONS") else ""
        say(f"{annotation}{why}: tonight only saves a first baseline")
    else:
        say(f"baseline: {path}")
    return 0


def check(args: argparse.Namespace) -> None:
    """Every value in its meaningful range before any work starts (a night of benchmarks is long)."""
    from mlxbench.workload import PROFILES

    if args.profile not in PROFILES:
        raise BadInput(f"--profile {args.profile!r}: not a profile; give one of {', '.join(PROFILES)}")
    from mlxbench.paths import output_folder_problem

    if args.step != "run":  # `baseline` only reads it
        if args.storage.exists() and not args.storage.is_dir():
            raise BadInput(f"--storage {args.storage}: that is a file, not a folder; name the folder of saved runs")
        return
    if problem := output_folder_problem(args.storage, "--storage"):
        raise BadInput(problem)
    if not (0 < args.time_budget < 24 * 60):  # NaN fails too
        raise BadInput(f"--time-budget {args.time_budget}: give the gate's minutes, above 0 (e.g. 40)")
    name = args.run_name
    if not name or name != name.strip() or any(c in name for c in '/\\:*?"<>|') or name.startswith("."):
        raise BadInput(
            f"--run-name {name!r}: give a name usable in a file name (letters, digits, '-', '_'), e.g. nightly-123-1"
        )


def run(args: argparse.Namespace) -> int:
    pytest_args = [a for a in args.pytest_args if a != "--"] or ["benchmarks"]
    profiled = [*pytest_args, "--profile", args.profile]
    path, why = last_baseline(args.storage, args.profile)
    if path is None:
        say(f"no gate tonight ({why}); saving a first baseline")
    else:
        arm_a = ["--a", args.a] if args.a else ["--baseline-run", str(path)]
        words = " ".join(args.ab).replace("=", " ").split()
        processes = any(w == "--design" and words[i + 1 : i + 2] == ["processes"] for i, w in enumerate(words))
        budget = [] if processes else ["--time-budget", str(args.time_budget)]  # the paired design's only
        gate = [sys.executable, "-m", "mlxbench", "ab", *arm_a, *budget, "--json", "ab.json", *args.ab, "--", *profiled]
        say(f"gate against {path}: {' '.join(gate[1:])}")
        rc = subprocess.run(gate).returncode
        if rc == 1:
            say("the gate found a regression: this run is not saved and not offered")
            return 1
        if rc != 0:
            say(f"the gate could not run (exit {rc}): this run is not saved")
            return rc
    save = [
        sys.executable,
        "-m",
        "pytest",
        *profiled,
        f"--benchmark-storage={args.storage}",
        f"--benchmark-save={args.run_name}",
        "--benchmark-json=run.json",
    ]
    say(f"save: {' '.join(save[1:])}")
    return subprocess.run(save).returncode


def git(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def offer(args: argparse.Namespace) -> int:
    folder = str(args.storage)
    changed = [line for line in git("status", "--porcelain", "--", folder).splitlines() if not line.startswith("??")]
    if changed:
        say(f"refusing: saved runs would be modified or deleted: {', '.join(c[3:] for c in changed)}")
        return 1
    untracked = git("ls-files", "--others", "--exclude-standard", "--", folder).split()
    mine = f"_nightly-{args.run_id}-"  # the runs this workflow run saved: NNNN_nightly-<run id>-<attempt>.json
    new = [p for p in untracked if mine in Path(p).name]
    if others := sorted(set(untracked) - set(new)):
        say(
            f"left out {len(others)} new file{'s' * (len(others) != 1)} this nightly did not make: "
            f"{', '.join(others[:5])}{' ...' if len(others) > 5 else ''}"
        )
    if not new:
        say(f"nothing new under {folder} to offer")
        return 0
    branch = f"baseline/nightly-{args.run_id}"
    before = git("rev-parse", "--abbrev-ref", "HEAD").strip()
    git("checkout", "-b", branch)
    try:
        git("add", "--", *new)
        git(
            "-c",
            "user.name=mlxbench-nightly",
            "-c",
            "user.email=mlxbench-nightly@users.noreply.github.com",
            "commit",
            "-m",
            f"baselines: nightly run {args.run_id}",
        )
    finally:
        git("checkout", before if before != "HEAD" else "-")  # the clone is left on the branch it was on
    if args.remote:
        git("push", args.remote, branch)
    github_output(branch=branch)
    say(f"offered {len(new)} new run{'s' * (len(new) != 1)} on branch {branch}" + (" (pushed)" if args.remote else ""))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mlxbench.tools.nightly", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    for name, help_ in (
        ("baseline", "the baseline tonight's gate compares with"),
        ("run", "gate, then save"),
        ("offer", "the new runs on a branch, one commit"),
    ):
        s = sub.add_parser(name, help=help_)
        s.add_argument("--storage", type=Path, default=Path("baselines"), help="saved runs (default baselines/)")
        if name in ("baseline", "run"):
            s.add_argument("--profile", default="seed")
    r = sub.choices["run"]
    r.add_argument("--run-name", required=True, help="the saved run's name (unique to the workflow run)")
    r.add_argument("--a", default=None, metavar="PYTHON", help="arm A's interpreter (default: the baseline's versions)")
    r.add_argument("--time-budget", type=float, default=40.0, metavar="MIN", help="the gate's budget (minutes)")
    r.add_argument("--ab", action="append", default=[], metavar="ARG", help="one more argument for mlxbench ab")
    r.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then the pytest arguments (default: benchmarks)")
    o = sub.choices["offer"]
    o.add_argument("--run-id", required=True, help="the workflow run's id (names the branch)")
    o.add_argument("--remote", default=None, help="push the branch here (a URL or a remote's name)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.step in ("baseline", "run"):
            check(args)
        return {"baseline": baseline, "run": run, "offer": offer}[args.step](args)
    except (RuntimeError, BadInput) as exc:
        say(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:  # its output stream, a file or a command: one line, never a traceback
        if exc.filename is not None:
            line = f"cannot use {exc.filename}: {exc.strerror or exc}"
        elif exc.errno in paths.OUTPUT_ERRNOS:
            line = f"cannot write its output (standard output): {exc.strerror or exc}"
        else:
            line = f"{exc.strerror or exc}"
        try:
            say(line, file=sys.stderr)
        except OSError:
            pass
        return 2


if __name__ == "__main__":
    sys.exit(main())
