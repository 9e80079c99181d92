"""The only place that touches pytest-benchmark's internals; everything else asks here.

mlxbench relies on pytest-benchmark for timing, storage format and its compare CLI, and reaches past
its public surface (options, hooks, the `benchmark` fixture) in these places only:

- its session object, `config._benchmarksession`: the benchmarks it holds, the run file it saves;
- `pytest_benchmark.session.get_machine_id`, swapped for ours while configuring, so that the storage
  folder tells hardware apart (pytest-benchmark names it by OS and Python only);
- `FileStorage.save` and its `_next_num`, replaced so that a run file is written atomically under a
  number no other session holds; `save_json` and `json`, for `--benchmark-json`;
- the parser's `--benchmark-json` option, whose type before 5.3.1 opens (truncates) the file at parse time
  (`parse_json_as_path`: pytest's `Argument` keeps it in `_attrs` before pytest 9, in `_action` from 9 on);
- `pytest_benchmark.utils.safe_dumps`, so that our files are byte for byte what it would write.

A pytest-benchmark upgrade that changes any of these breaks this module alone (its tests say which).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEFAULT_STORAGE = "file://./.benchmarks"  # pytest-benchmark's default, which we redirect


def benchmark_session(config: pytest.Config) -> Any:
    """pytest-benchmark's session (None with `-p no:benchmark`)."""
    return getattr(config, "_benchmarksession", None)


def held(config: pytest.Config) -> list[Any]:
    """The benchmarks pytest-benchmark holds for this session (each with .stats, .extra_info, .as_dict)."""
    bsession = benchmark_session(config)
    return bsession.benchmarks if bsession is not None else []


def held_count(config: pytest.Config) -> int | None:
    bsession = benchmark_session(config)
    return len(bsession.benchmarks) if bsession is not None else None


def keep_only(config: pytest.Config, keep: Callable[[Any], bool]) -> None:
    """Drop the held benchmarks that `keep` refuses (before pytest-benchmark saves them)."""
    bsession = benchmark_session(config)
    if bsession is not None:
        bsession.benchmarks[:] = [b for b in bsession.benchmarks if keep(b)]


def rounds_of(benchmark: Any) -> list[float]:
    """A held benchmark's timed rounds (a session holds Metadata objects; their .stats holds the rounds)."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None and not hasattr(stats, "data"):
        stats = getattr(stats, "stats", None)
    return list(getattr(stats, "data", None) or [])


def swap_machine_id(machine_id: Callable[[], str]) -> Callable[[], None]:
    """Make pytest-benchmark name its storage folder by `machine_id`; returns the undo."""
    import pytest_benchmark.session as module

    original = module.get_machine_id
    module.get_machine_id = machine_id

    def undo() -> None:
        module.get_machine_id = original

    return undo


MACHINE_INFO_WARNING = "Benchmark machine_info is different"  # pytest-benchmark's, 5 KB of two JSON dumps


def hide_machine_info_warning() -> None:
    """Hide pytest-benchmark's machine_info warning (mlxbench says which facts differ, in one line).

    Called from pytest_configure, inside the warnings context pytest keeps for configuring, where
    pytest-benchmark loads the baseline and compares machine_info right after us."""
    import warnings

    warnings.filterwarnings("ignore", message=MACHINE_INFO_WARNING)


def mend_storage_location() -> Callable[[], None]:
    """pytest-benchmark names its storage relative to the working directory and crashes (INTERNALERROR,
    ValueError) when `--benchmark-storage` lies outside it and the baseline's machine_info differs
    (ionelmc/pytest-benchmark#217, open): name such a folder by its absolute path. Returns the undo."""
    from pytest_benchmark.storage.file import FileStorage

    original = FileStorage.location

    def location(self: Any) -> str:
        try:
            return str(self.path.relative_to(Path.cwd()))
        except ValueError:
            return str(self.path)

    FileStorage.location = property(location)

    def undo() -> None:
        FileStorage.location = original

    return undo


def differing_facts(current: dict, saved: dict, prefix: str = "") -> list[str]:
    """The keys (dotted, two levels deep) whose values differ between two machine_info mappings, as JSON
    sees them (a tuple in this process is the list its saved run holds)."""
    import json

    if not prefix:
        current, saved = (json.loads(json.dumps(m, default=str)) for m in (current, saved))
    out = []
    for key in sorted(set(current) | set(saved)):
        a, b = current.get(key), saved.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and not prefix:
            out += differing_facts(a, b, f"{key}.")
        else:
            out.append(prefix + str(key))
    return out


def is_file_storage(config: pytest.Config) -> bool:
    return "://" not in str(config.option.benchmark_storage).removeprefix("file://")


def storage_root(config: pytest.Config) -> Path:
    """The folder `--benchmark-storage` names (the machine folders are under it)."""
    path = Path(str(config.option.benchmark_storage).removeprefix("file://"))
    return path if path.is_absolute() else Path.cwd() / path


def dumps(output_json: dict) -> bytes:
    """A run file's bytes, as pytest-benchmark writes them."""
    from pytest_benchmark.utils import safe_dumps

    return safe_dumps(output_json, ensure_ascii=True, indent=4).encode()


def json_path(value: Any) -> Path | None:
    """The path `--benchmark-json` names: a string from pytest-benchmark 5.3.1 on, an open file before it (its
    argparse type opened the file at parse time: closed here, the suite writes the path itself, atomically)."""
    if not value:
        return None
    if hasattr(value, "write") and hasattr(value, "name"):
        with contextlib.suppress(OSError):
            value.close()
        return Path(value.name)
    return Path(value)


def parse_json_as_path(parser: pytest.Parser) -> bool:
    """Have `--benchmark-json` parsed as a path, as pytest-benchmark does from 5.3.1 on. Before it, its type is
    `argparse.FileType("wb")`, which opens the file with truncation when the command line is parsed: with
    `--benchmark-json /dev/stdout >> ci.log` that empties the log before anything runs. The suite writes the
    path itself (atomically, a stream through its descriptor). True once the option takes a path."""
    for option in parser.getgroup("benchmark").options:
        if "--benchmark-json" not in option.names():
            continue
        if not isinstance(option.type, argparse.FileType):
            return True
        action = getattr(option, "_action", None)
        if action is not None:  # pytest 9: the option is its argparse action
            action.type = Path
        else:  # pytest 8: the attributes the argparse action is made from, when the parser is built
            option._attrs["type"] = option.type = Path
        return True
    return False


class JsonOptionWatch:
    """Registered as a plugin where pytest-benchmark's options are not there yet (its plugin loads after ours):
    `parse_json_as_path` as each plugin registers, before the command line is parsed."""

    def __init__(self, parser: pytest.Parser) -> None:
        self.parser: pytest.Parser | None = parser

    def pytest_plugin_registered(self) -> None:
        if self.parser is not None and parse_json_as_path(self.parser):
            self.parser = None  # done: later registrations have nothing to change


def json_option(config: pytest.Config) -> Path | None:
    return json_path(config.option.benchmark_json)


def json_opened_early(bsession: Any) -> bool:
    """Whether pytest-benchmark opened (created, truncated) the --benchmark-json file when it parsed the option."""
    return hasattr(getattr(bsession, "json", None), "write")


def json_target(bsession: Any) -> Path | None:
    """Where `--benchmark-json` writes, or None."""
    return json_path(getattr(bsession, "json", None))


def redirect_json(bsession: Any, target: Path) -> None:
    bsession.json = target


def replace_json_writer(bsession: Any, write: Callable[[dict], None]) -> bool:
    """Have `--benchmark-json` written by `write(output_json)`; False when there is nothing to replace."""
    if not (getattr(bsession, "json", None) and hasattr(bsession, "save_json")):
        return False
    bsession.save_json = write
    return True


def file_storage(bsession: Any) -> Any:
    """pytest-benchmark's FileStorage of this session, or None (another storage backend, or none)."""
    storage = getattr(bsession, "storage", None)
    if storage is None or not hasattr(storage, "get") or not hasattr(storage, "_next_num"):
        return None
    return storage


def storage_folder_of(storage: Any) -> Path:
    """The machine folder a FileStorage saves into."""
    return Path(storage.get("x")).parent


def next_number(storage: Any) -> int:
    """The run number pytest-benchmark would give the next saved run."""
    return int(storage._next_num)


def saves(bsession: Any) -> bool:
    """Whether this session saves a run (--benchmark-save / --benchmark-autosave)."""
    return bool(getattr(bsession, "save", None) or getattr(bsession, "autosave", None)) and hasattr(bsession, "storage")


def replace_save(bsession: Any, save: Callable[[dict, str], None]) -> None:
    """Have the run file saved by `save(output_json, name)` instead of pytest-benchmark's storage."""
    bsession.storage.save = save


def log_saved(storage: Any, target: Path) -> None:
    storage.logger.info(f"Saved benchmark data in: {target}")
