"""Report files: what a report of given formats consists of, and writing them all or nothing.

Formats: `md` (report.md, linking the PNG plots written beside it), `summary` (summary.md: tables
only, no image, for a GitHub job summary), `html` (report.html, plots inlined) and `json`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlxbench.paths import output_folder_problem
from mlxbench.reports import cadence, sweeptables
from mlxbench.reports.report import Report, memory_words
from mlxbench.runs import BadRun, Run

FILE_NAMES = {"md": "report.md", "summary": "summary.md", "html": "report.html", "json": "report.json"}


def to_json(rep: Report) -> dict[str, Any]:
    return {
        "title": rep.title,
        "runs": [str(r.path) for r in rep.runs],
        "reference_backend": rep.reference,
        "baseline": rep.baseline,
        "machine": rep.current.facts,
        "notes": rep.notes,
        "counts": rep.counts,
        "matrix": [c.__dict__ | {"ci": list(c.ci), "memory_words": memory_words(c.memory)} for c in rep.cells],
        "verdicts": [v.as_dict() for v in rep.sorted_verdicts()],
        "not_judged": dict(sorted(rep.not_judged.items())),
        "verdict_table": rep.table.as_json() if rep.table is not None else None,
        "cadence": [row.as_dict() for row in cadence.rows(rep)],
        "change_points": [c.__dict__ | {"sentence": c.sentence()} for c in rep.changes],
        "change_points_searched": {"runs": rep.searched, "of": len(rep.runs)},
        "gate_verdicts_marked": {"runs": rep.judged, "of": len(rep.runs)},
        "sweep": sweeptables.as_json(rep.sweep.crossovers, rep.sweep.exponents) if rep.sweep else None,
    }


def run_id(run: Run) -> str:
    """A run as a folder name says it: `0004` for a saved run (`0004_<commit>_<date>.json`), else its file's stem."""
    number = run.path.stem.split("_")[0]
    return number if len(number) == 4 and number.isdigit() else safe_name(run.path.stem)


def safe_name(text: str) -> str:
    """`text` with every character a folder name should not hold as `_`."""
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in text)


def default_folder(
    runs: Sequence[Run],
    named: bool,
    history: int | None = None,
    baseline: Run | None = None,
    reference: str | None = None,
) -> Path:
    """reports/<what it reports>/, so that two different selections of runs never meet in one folder:
    `<run>` the latest saved run with its history (`mlxbench report`), `<run>-history-N` with `--history N`,
    `<run>-alone` one named run, `<run>-vs-0004` named runs (the others, oldest first); then
    `-baseline-<run>` and `-reference-<backend>` when given."""
    name = safe_name(runs[-1].path.stem)
    if named:
        others = [run_id(r) for r in runs[:-1]]
        listed = "-".join(others)
        if len(listed) > 40:  # many runs: the first and the last, and a digest of them all
            digest = hashlib.sha256("\n".join(str(r.path) for r in runs).encode()).hexdigest()[:8]
            listed = f"{others[0]}..{others[-1]}-{len(others)}runs-{digest}"
        name += f"-vs-{listed}" if others else "-alone"
    elif history is not None:
        name += f"-history-{history}"
    if baseline is not None:
        name += f"-baseline-{run_id(baseline)}"
    if reference is not None:
        name += f"-reference-{safe_name(reference)}"
    return Path("reports") / name


def dumps(value: Any) -> str:
    return json.dumps(strict(value), indent=2, default=str, allow_nan=False)


def contents(rep: Report, formats: Sequence[str]) -> dict[str, bytes]:
    """Every file a report of these formats consists of: the reports, then the plots report.md links."""
    from mlxbench.reports import plots, render

    images = plots.make_all(rep) if {"md", "html"} & set(formats) else {}  # {filename: png bytes}
    files: dict[str, bytes] = {}
    for fmt in dict.fromkeys(formats):
        if fmt == "json":
            text = dumps(to_json(rep))
        elif fmt == "md":
            text = render.markdown(rep, list(images))
        elif fmt == "summary":
            text = render.markdown(rep, [])
        else:
            inline = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}
            text = render.html_page(rep, inline)
        files[FILE_NAMES[fmt]] = text.encode("utf-8")
    if "md" in formats:
        files.update(images)  # Markdown links to the plot files; HTML inlines them
    return files


def write(rep: Report, out: Path, formats: Sequence[str]) -> list[Path]:
    """Write the report files (and the plots that report.md links) into `out`, all or nothing."""
    return write_files(contents(rep, formats), out)


def written_lines(files: Mapping[str, bytes], out: Path) -> list[str]:
    """`write_files`, said in lines: `wrote PATH` for each new file, `unchanged PATH` for each that was
    already there with exactly this content (the same report made again)."""
    before = {name for name in files if _holds(Path(out) / name, files[name])}
    placed = write_files(files, out)
    return [f"wrote {p}" for p in placed] + [
        f"unchanged {Path(out) / n} (already there, the same)" for n in sorted(before)
    ]


def write_files(files: Mapping[str, bytes], out: Path) -> list[Path]:
    """Write `files` ({name: bytes}) into `out`, all or nothing.

    A file already there with exactly the same content is left as it is (a report made again).
    Refuses before writing anything when any other of them exists. Everything is written into a temporary
    folder next to `out`, then linked into place one by one, each only if its name is still free; on
    any failure (or Ctrl-C) the files placed so far, the temporary folder and the folders this call
    created are removed. Existing files are never changed.
    """
    out = Path(out)
    if problem := output_folder_problem(out, "--out"):
        raise BadRun(problem)
    same = {name for name in files if _holds(out / name, files[name])}  # a rerun: already there, nothing to do
    files = {name: data for name, data in files.items() if name not in same}
    existing = [name for name in files if (out / name).exists() or (out / name).is_symlink()]
    if existing:
        one = len(existing) == 1
        raise BadRun(
            f"{', '.join(existing)} already exist{'s' if one else ''} in {out} and differ{'s' if one else ''} from "
            f"this report: nothing was written (a saved report is never overwritten); write it elsewhere with "
            f"--out DIR, or move {'it' if one else 'them'} away"
        )
    created = [d for d in (out, *out.parents) if not d.exists()]
    placed: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = _temp_folder(out)
        try:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            for name in files:
                try:
                    _place(tmp / name, out / name)
                except FileExistsError:
                    raise BadRun(f"{out / name} appeared while the report was written: nothing was written") from None
                placed.append(out / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as exc:
        for path in placed:
            path.unlink(missing_ok=True)
        for folder in created:  # innermost first; only the empty ones we made
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise BadRun(
                f"cannot write the report into {out} ({exc.strerror or exc}): nothing was written; "
                f"choose a writable --out folder"
            ) from None
        raise
    return placed


def _holds(path: Path, data: bytes) -> bool:
    """Whether `path` is a plain file with exactly `data` in it (so writing it again would change nothing)."""
    try:
        return (
            path.is_file() and not path.is_symlink() and path.stat().st_size == len(data) and path.read_bytes() == data
        )
    except OSError:
        return False


def _temp_folder(out: Path) -> Path:
    """A fresh folder next to `out` (inside it when its parent is read-only): an interrupted write
    leaves no file under a report's name."""
    try:
        return Path(tempfile.mkdtemp(prefix=".mlxbench-report-", dir=out.parent))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=".mlxbench-report-", dir=out))


def _place(src: Path, dst: Path) -> None:
    """Give `src`'s content the name `dst`, failing with FileExistsError if that name is taken."""
    try:
        os.link(src, dst)  # atomic, and never replaces an existing file
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: exclusive create, then copy
        with dst.open("xb") as fh:
            try:
                fh.write(src.read_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            except BaseException:  # a full disk, Ctrl-C: no half-written file stays under a report's name
                dst.unlink(missing_ok=True)
                raise


def strict(value: Any) -> Any:
    """`value` with NaN and infinities as None, so report.json is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value
