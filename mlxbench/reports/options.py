"""The options of `mlxbench report` (runs, an A/B folder, or machines side by side); mlxbench.cli runs it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

FORMATS = ("md", "summary", "html", "json")  # every report's files: `--format`, and the releases report


def folder_path(text: str) -> Path:
    """A folder option's value: an empty one is refused (it would quietly be the working folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a folder")
    return Path(text)


def add_report_parser(sub: argparse._SubParsersAction, func: Callable[[argparse.Namespace], int]) -> None:
    r = sub.add_parser("report", help="Markdown, HTML and JSON report of one or more runs (oldest first)")
    r.add_argument(
        "runs",
        nargs="*",
        help="run files or saved run ids, oldest first; the last one is reported, "
        "all give history (default: the last --history saved runs of this machine); or one A/B folder "
        "(ab-runs/<time>/ of mlxbench ab): its verdicts, intervals and samples",
    )
    r.add_argument("--history", type=int, default=None, help="how many saved runs to use when none are named (10)")
    r.add_argument("--baseline", default=None, help="run to give verdicts against (default: the previous run given)")
    r.add_argument("--reference", default=None, help="backend that speedups are relative to (default numpy)")
    r.add_argument(
        "--out",
        type=folder_path,
        default=None,
        help="output folder; a saved report is never overwritten (default: named after what it reports: "
        "reports/<reported run>/ for the latest saved run with its history, then -history-N with --history, "
        "-alone for one named run, -vs-<the other runs> for several, -baseline-<run>, -reference-<backend>; for "
        "an A/B folder: AB_FOLDER/report; with --machines: reports/machines-<profile>-<N>-<digest of their runs>/)",
    )
    r.add_argument(
        "--format",
        nargs="+",
        choices=FORMATS,
        default=list(FORMATS),
        help="md: report.md with its PNG plots beside it; summary: summary.md, tables only (for a GitHub job "
        "summary); html: report.html, plots inlined; json: report.json (default: all four)",
    )
    r.add_argument(
        "--machines",
        nargs="*",
        default=None,
        metavar="MACHINE_ID",
        help="machines side by side: the last --profile run of each machine folder under --storage "
        "(all of them, or the ones named); writes machines.{md,html,json}",
    )
    r.add_argument(
        "--profile",
        default=None,
        help="the profile of the saved runs reported when none are named (default: the newest run's); with "
        "--machines, the profile whose runs are compared (default seed)",
    )
    r.add_argument("--allow-version-change", action="store_true", help="accept a baseline of other versions")
    r.set_defaults(func=func)
