"""verdicts.json, an A/B folder's verdicts and how they were made: written whole, by the one function that both
`mlxbench ab` (mlxbench.ab.command) and `mlxbench ab merge` (mlxbench.ab.merge) call, and read back by merge.

The file is written all at once or not at all (mlxbench.session.saving.atomic_write: a hidden temporary file
beside it, linked to its name), and never over a file already there: a run interrupted while it writes leaves
no verdicts.json, which is how an A/B that ended before judging is told apart (mlxbench.runs). The A/B report
reads it on its own side (mlxbench.reports.abreport), below this part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlxbench.runs import BadRun
from mlxbench.samples import parse
from mlxbench.session import saving

NAME = "verdicts.json"


def dumps(document: dict[str, Any]) -> bytes:
    """The document as verdicts.json holds it (and the --json copies of it)."""
    return json.dumps(document, indent=2).encode()


def write(folder: Path, document: dict[str, Any]) -> Path:
    """`document` as `folder`/verdicts.json, whole or not at all; FileExistsError where one is there already
    (left as it was)."""
    data = dumps(document)  # a document that cannot be written fails here, before any file is touched
    target = folder / NAME
    saving.atomic_write(target, data)
    return target


def read(folder: Path) -> dict[str, Any] | None:
    """`folder`'s verdicts.json, or None where it has none (an A/B that ended before judging); BadRun where it is
    not JSON or not an object."""
    path = folder / NAME
    if not path.exists():
        return None
    try:
        meta = parse(path.read_bytes())
    except ValueError:
        raise BadRun(f"{path}: not valid JSON; move it away to merge the pairs alone") from None
    if not isinstance(meta, dict):
        raise BadRun(f"{path}: not an A/B's verdicts (no object)")
    return meta
