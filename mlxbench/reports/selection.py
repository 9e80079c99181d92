"""Which saved runs a report reads: the newest first, and no more of them than it reports.

A machine folder may hold thousands of saved runs; `mlxbench report` (its last 10) or `--machines` (each
folder's last run of a profile) read files newest first and stop once they have what they report, so
their cost follows the runs reported, not the runs kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlxbench.runs import SAVED_RUN_GLOB, BadRun, Run, load_run


def newest_first(folder: Path) -> Iterator[Run | BadRun]:
    """The saved runs of `folder`, newest (highest number) first, each read when asked for; an unreadable
    one as the BadRun that says why (it is left as it is)."""
    paths = sorted(folder.glob(SAVED_RUN_GLOB), reverse=True) if folder.is_dir() else []
    for path in paths:
        try:
            yield load_run(path)
        except BadRun as exc:
            yield exc
