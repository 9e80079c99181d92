"""What OUT/state.json records for `mlxbench releases`, read back as strictly as a saved run.

The file belongs to one selection (its key: the requirement pattern, the pytest arguments, the machine id and
the environment cache) and records what each finished release came to (history.Release's fields, with its
saved run in OUT/runs), the release being measured when it was last written (so that a run which that
release's pytest session saved after this process was killed is recognised, not measured again) and the
saved runs the storage already held when the selection began (another selection's: left alone).

It is read back before anything is measured. A damaged file (empty, truncated, NUL bytes, not JSON, a field
of the wrong type) is named, kept aside as `state.json.damaged-<UTC time>` and the history starts afresh;
the file of another selection is kept aside as `state-<key>.json` and taken back when that selection runs
again. Nothing is deleted.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun
from mlxbench.session import saving
from mlxbench.units import echo

TIMED, PARTLY, NO_INSTALL, NO_RUN, ACCURACY = "timed", "partly timed", "cannot install", "cannot run", "accuracy broke"
STATUSES = (TIMED, PARTLY, NO_INSTALL, NO_RUN, ACCURACY)
NAME = "state.json"
RUN_NAME = re.compile(r"\d{4}_.+\.json")

# history.Release's fields, each with the types it may have
RELEASE_FIELDS: dict[str, tuple[type, ...]] = {
    "version": (str,),
    "status": (str,),
    "reason": (str,),
    "run": (str, type(None)),
    "python": (str, type(None)),
    "failed": (list,),
    "seconds": (int, float),
}
KIND_NAMES = {
    "str": "a string",
    "list": "a list",
    "dict": "a mapping",
    "int": "a number",
    "float": "a number",
    "NoneType": "null",
}
MEASURING_FIELDS: dict[str, tuple[type, ...]] = {"version": (str,), "deselected": (dict,), "before": (list,)}


@dataclass
class State:
    key: str
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> history.Release's fields
    measuring: dict[str, Any] | None = None  # {version, deselected: {nodeid: why}, before: [stored run]}
    earlier: list[str] | None = None  # stored runs when this selection began; None: not recorded (older files)


def stored(out: Path) -> list[str]:
    """The saved runs in OUT/runs, each as `<machine id>/<file name>` (how state.json names them)."""
    return sorted(stored_name(p) for p in (out / "runs").glob("*/*.json") if RUN_NAME.fullmatch(p.name))


def stored_name(path: str | Path) -> str:
    path = Path(path)
    return f"{path.parent.name}/{path.name}"


def _wrong(where: str, value: Any, kinds: tuple[type, ...]) -> str | None:
    if isinstance(value, kinds) and not isinstance(value, bool):
        return None
    names = " or ".join(dict.fromkeys(KIND_NAMES[k.__name__] for k in kinds))
    return f"'{where}' is {json.dumps(value)[:40]}, not {names}"


def _fields(where: str, doc: Any, fields: dict[str, tuple[type, ...]]) -> str | None:
    if not isinstance(doc, dict):
        return f"'{where}' is {json.dumps(doc)[:40]}, not a mapping"
    for name in doc:
        if name not in fields:
            return f"'{where}' holds '{name}', which mlxbench never writes there"
    for name, kinds in fields.items():
        if name not in doc:
            return f"'{where}' lacks '{name}'"
        if problem := _wrong(f"{where}.{name}", doc[name], kinds):
            return problem
    return None


def release_problem(version: str, r: Any) -> str | None:
    where = f"releases.{version}"
    if problem := _fields(where, r, RELEASE_FIELDS):
        return problem
    if r["version"] != version:
        return f"'{where}.version' is {r['version']!r}, not {version!r}"
    if r["status"] not in STATUSES:
        return f"'{where}.status' is {r['status']!r}, not one of: {', '.join(STATUSES)}"
    if r["status"] in (TIMED, PARTLY) and not r["run"]:
        return f"'{where}' is {r['status']} but names no saved run"
    if not (math.isfinite(r["seconds"]) and r["seconds"] >= 0):
        return f"'{where}.seconds' is {r['seconds']}, not a time in seconds"
    if any(not isinstance(n, str) for n in r["failed"]):
        return f"'{where}.failed' holds something other than test names"
    return None


def problem(doc: Any) -> str | None:
    """Why `doc` (state.json as parsed) is not a state this module wrote, in a few words; None when it is."""
    if not isinstance(doc, dict):
        return f"it holds {type(doc).__name__ if doc is not None else 'null'}, not a mapping"
    if unknown := sorted(set(doc) - {"key", "releases", "measuring", "earlier"}):
        return f"it holds '{unknown[0]}', which mlxbench never writes there"
    if not isinstance(doc.get("key"), str) or not re.fullmatch(r"[0-9a-f]{16}", doc["key"]):
        return f"'key' is {json.dumps(doc.get('key'))[:40]}, not a selection key (16 hexadecimal digits)"
    if not isinstance(doc.get("releases"), dict):
        return _wrong("releases", doc.get("releases"), (dict,))
    for version, r in doc["releases"].items():
        if found := release_problem(version, r):
            return found
    measuring = doc.get("measuring")
    if measuring is not None:
        if found := _fields("measuring", measuring, MEASURING_FIELDS):
            return found
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in measuring["deselected"].items()):
            return "'measuring.deselected' is not a mapping of test names to reasons"
        if any(not isinstance(x, str) for x in measuring["before"]):
            return "'measuring.before' holds something other than run names"
    earlier = doc.get("earlier")
    if earlier is not None and (not isinstance(earlier, list) or any(not isinstance(x, str) for x in earlier)):
        return f"'earlier' is {json.dumps(earlier)[:40]}, not a list of run names"
    return None


def damage(raw: bytes) -> str | None:
    """Why the bytes of a state file are damaged (empty, NUL bytes, not JSON, a field of the wrong type), or None."""
    if not raw.strip():
        return f"it is empty ({len(raw)} bytes)" if raw else "it is empty"
    if b"\0" in raw:
        nul = raw.count(b"\0")
        return f"it holds NUL bytes ({nul} of {len(raw)} bytes: a write the disk never finished)"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"it is not text (byte {exc.start} is not UTF-8)"
    except json.JSONDecodeError as exc:
        said = re.sub(r" \(char \d+\)$", "", str(exc))
        if exc.pos >= len(raw.decode("utf-8").rstrip()) or exc.msg.startswith("Unterminated string"):
            return f"truncated: it ends at byte {len(raw)}, inside its JSON ({said})"
        return f"not valid JSON ({said})"
    except RecursionError:
        return "not valid JSON (nested too deeply to be a state file)"
    return problem(doc)


def aside(path: Path, label: str) -> Path:
    """Move `path` beside itself as `<name>.<label>` (a number added where that is taken); the new path."""
    for n in range(1000):
        target = path.with_name(f"{path.name}.{label}" + (f"-{n}" if n else ""))
        if not target.exists():
            os.rename(path, target)
            return target
    raise BadRun(f"cannot set {path} aside: 1000 files named {path.name}.{label}-N are there already; move them")


def warn(text: str) -> None:
    """A problem the command goes on past, on stderr: `mlxbench releases: ...` unless `text` names its command."""
    echo(text if text.startswith("mlxbench ") else f"mlxbench releases: {text}", file=sys.stderr, flush=True)


def read(out: Path, key: str) -> State:
    """This selection's state in OUT, validated before anything is measured: a damaged file is named and kept
    aside (the history starts afresh); another selection's is kept aside as state-<its key>.json, and this
    selection's is taken back from state-<key>.json where an earlier switch kept it."""
    path = out / NAME
    doc = _load(path, out)
    if doc is not None and doc["key"] != key:
        kept = path.with_name(f"state-{doc['key']}.json")
        if kept.exists():
            kept = aside(path, f"other-{_stamp()}")
        else:
            os.rename(path, kept)
        warn(
            f"{path} was of another selection (other pytest arguments, machine or environment cache): kept as "
            f"{kept.name}, taken back when that selection runs again"
        )
        doc = None
    if doc is None and (mine := path.with_name(f"state-{key}.json")).is_file():
        doc = _load(mine, out)
        if doc is not None and doc["key"] == key:
            os.rename(mine, path)
            echo(f"mlxbench releases: took back this selection's state from {mine.name}", flush=True)
            recorded = {stored_name(r["run"]) for r in doc["releases"].values() if r["run"]}
            since = set(stored(out)) - recorded  # saved while it was kept aside: another selection's
            doc["earlier"] = sorted(set(doc.get("earlier") or ()) | since)
        else:
            doc = None
    if doc is None:
        return State(key, earlier=stored(out))
    return State(key, {v: dict(r) for v, r in doc["releases"].items()}, doc.get("measuring"), doc.get("earlier"))


def _stamp() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"


def _load(path: Path, out: Path) -> dict[str, Any] | None:
    """The parsed state file at `path`, or None where there is none or it was damaged (then named and kept aside)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise BadRun(f"{path} is a folder, not the state file of mlxbench releases: move it away") from None
    except OSError as exc:
        raise BadRun(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from None
    why = damage(raw)
    if why is None:
        return json.loads(raw)
    kept = aside(path, f"damaged-{_stamp()}")
    runs = stored(out)
    left = ""
    if runs:
        verb = "is left as it is" if len(runs) == 1 else "are left as they are"
        left = f"; the {nouns(len(runs), 'saved run')} in {out / 'runs'} {verb}"
    warn(f"{path} is damaged ({why}): kept as {kept.name}; starting afresh, so every release is measured again{left}")
    return None


def write(out: Path, state: State) -> None:
    doc: dict[str, Any] = {"key": state.key, "releases": state.releases}
    if state.measuring is not None:
        doc["measuring"] = state.measuring
    if state.earlier is not None:
        doc["earlier"] = state.earlier
    saving.replace_atomically(out / NAME, json.dumps(doc, indent=2).encode())
