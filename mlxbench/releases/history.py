"""One cached environment and one saved run per release: the history `mlxbench releases` reports.

For each release, oldest first: its environment (mlxbench.ab.venvs: the release, this interpreter's
versions of the suite's own requirements, this checkout; built once and reused), then the pytest
selection in it, saved like any other run (`--benchmark-save=<framework>-<version>` into OUT/runs, so
`mlxbench --storage OUT/runs compare` and `report` read them). What each release came to is kept in
OUT/state.json after every release, so an interrupted invocation keeps the finished releases and the
next one with the same selection reuses them (a release interrupted midway is run again).

A release that cannot be installed, or whose tests fail (an API the workload needs is missing, an
accuracy gate fails), is named with the reason; when only some tests fail, the others are run again
without them and timed, the failed ones listed. Nothing is timed silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from mlxbench import cancel
from mlxbench.ab import venvs
from mlxbench.measure import machine
from mlxbench.releases.index import Framework
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun, Run, load_run
from mlxbench.session import saving
from mlxbench.units import echo

TIMED, PARTLY, NO_INSTALL, NO_RUN, ACCURACY = "timed", "partly timed", "cannot install", "cannot run", "accuracy broke"


@dataclass
class Release:
    version: str
    status: str
    reason: str = ""
    run: str | None = None  # the saved run
    python: str | None = None  # its environment's interpreter
    failed: list[str] = field(default_factory=list)  # tests that failed there (not timed)
    seconds: float = 0.0

    @property
    def timed(self) -> bool:
        return self.status in (TIMED, PARTLY) and self.run is not None


@dataclass
class History:
    framework: Framework
    pytest_args: list[str]
    out: Path
    releases: list[Release]
    runs: dict[str, Run] = field(default_factory=dict)  # version -> its saved run, timed releases only

    @property
    def timed(self) -> list[Release]:
        return [r for r in self.releases if r.timed and r.version in self.runs]


def selection_key(fw: Framework, pytest_args: Sequence[str]) -> str:
    text = json.dumps([fw.requirement("V"), list(pytest_args), machine.machine_id(), str(venvs.ROOT)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_state(out: Path, key: str) -> dict[str, Release]:
    path = out / "state.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(doc.get("releases"), dict):
        return {}
    found = {}
    for v, r in doc["releases"].items():
        try:
            found[v] = Release(**r)
        except TypeError:
            continue
    return found


def write_state(out: Path, key: str, done: dict[str, Release]) -> None:
    doc = {"key": key, "releases": {v: asdict(r) for v, r in done.items()}}
    saving.replace_atomically(out / "state.json", json.dumps(doc, indent=2).encode())


def reusable(r: Release) -> bool:
    """Finished releases are reused; an install failure is tried again (it may have been the network)."""
    if r.status == NO_INSTALL:
        return False
    return not r.timed or (r.run is not None and Path(r.run).is_file())


def nodeid(case: ElementTree.Element) -> str:
    cls = case.get("classname", "")
    return f"{cls.replace('.', '/')}.py::{case.get('name', '?')}" if cls else case.get("name", "?")


def outcomes(junit: Path) -> tuple[dict[str, str], dict[str, str], int]:
    """(failed nodeid -> its message's first line, skipped nodeid -> why, passed count) of a JUnit file."""
    failed, skipped, passed = {}, {}, 0
    if not junit.exists():
        return failed, skipped, passed
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skip = case.find("skipped")
        if bad is not None:
            text = (bad.get("message") or bad.text or "?").strip().splitlines()
            failed[nodeid(case)] = (text[0] if text else "?")[:300]
        elif skip is not None:
            skipped[nodeid(case)] = (skip.get("message") or "?").strip()[:300]
        else:
            passed += 1
    return failed, skipped, passed


def run_pytest(cmd: list[str], log: Path) -> int:
    """Run one release's pytest session in its own process group; Ctrl-C or SIGTERM stops the whole group."""
    with log.open("w") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=cancel.die_with_parent()
        )  # killed with this process, even a SIGKILLed one (Linux): it saves no run that state.json never records
        try:
            return proc.wait()
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGINT)  # pytest keeps its partial run as .partial, not as a run
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise


def saved_runs(store: Path, name: str) -> set[Path]:
    return set(store.glob(f"*/[0-9][0-9][0-9][0-9]_{name}.json"))


def measure(fw: Framework, version: str, python: str, pytest_args: list[str], out: Path,
            runner: Callable[[list[str], Path], int] = run_pytest) -> Release:  # fmt: skip
    """Run the selection in one release's environment and save it; failed tests named, the others timed."""
    name = f"{fw.name}-{version}"
    store, logs = out / "runs", out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    deselect: list[str] = []
    failed: dict[str, str] = {}
    for attempt in (1, 2):
        junit = logs / f"{version}-{attempt}.xml"
        before = saved_runs(store, name)
        cmd = [python, "-m", "pytest", *pytest_args, "-q", "-p", "no:cacheprovider", f"--benchmark-storage={store}",
               f"--benchmark-save={name}", f"--junitxml={junit}", *(f"--deselect={n}" for n in deselect)]  # fmt: skip
        code = runner(cmd, logs / f"{version}-{attempt}.log")
        now_failed, skipped, passed = outcomes(junit)
        failed.update(now_failed)
        new = sorted(saved_runs(store, name) - before)
        if code == 0 and new:
            status = PARTLY if failed else TIMED
            why = "; ".join(f"{n.rsplit('::', 1)[-1]}: {m}" for n, m in sorted(failed.items()))[:600]
            return Release(version, status, why, str(new[-1]), python, sorted(failed))
        if code == 0 or code == 5:
            why = next(iter(skipped.values()), "no test was collected")
            return Release(version, NO_RUN, f"every benchmark was skipped: {why}", None, python)
        if code == 1 and failed and passed and attempt == 1:
            deselect = sorted(failed)  # time the others without the failed tests
            continue
        if failed:
            status = ACCURACY if all("accuracy" in m.lower() for m in failed.values()) else NO_RUN
            first = next(iter(sorted(failed.items())))
            why = f"{nouns(len(failed), 'test')} failed, e.g. {first[0].rsplit('::', 1)[-1]}: {first[1]}"
            return Release(version, status, why, None, python, sorted(failed))
        log = logs / f"{version}-{attempt}.log"
        lines = [x.strip() for x in log.read_text(errors="replace").splitlines() if x.strip()] or ["no output"]
        said = next((x for x in lines if x.startswith(("ERROR", "error:", "E "))), lines[-1])[:300]
        if code == 4:  # pytest's usage error: the selection itself, whatever the release
            raise BadRun(f"pytest refused the arguments ({said}); see {log}")
        return Release(version, NO_RUN, f"pytest exit {code}: {said}", None, python)
    raise AssertionError("unreachable")


def build(fw: Framework, versions: Sequence[str], pytest_args: list[str], out: Path,
          environment: Callable[[list[str]], Path] | None = None,
          runner: Callable[[list[str], Path], int] = run_pytest) -> History:  # fmt: skip
    """Every release measured (or reused from an earlier invocation with the same selection), oldest first."""
    key = selection_key(fw, pytest_args)
    done = {v: r for v, r in read_state(out, key).items() if reusable(r)}
    pins = venvs.suite_pins(leave_out=[fw.dist])
    environment = environment or (lambda wanted: venvs.environment(wanted, log=lambda line: None))
    out.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(versions, 1):
        head = f"mlxbench releases: {i}/{len(versions)} {fw.dist} {v}:"
        if v in done:
            echo(f"{head} {done[v].status}, reused from an earlier invocation", flush=True)
            continue
        t0 = time.perf_counter()
        echo(f"{head} environment...", flush=True)
        try:
            python = str(environment([fw.requirement(v), *pins]))
        except BadRun as exc:
            done[v] = Release(v, NO_INSTALL, str(exc).removeprefix("could not install ")[:600])
        else:
            echo(f"{head} running the selection ({time.perf_counter() - t0:.0f} s for the environment)", flush=True)
            done[v] = measure(fw, v, python, pytest_args, out, runner)
        done[v].seconds = round(time.perf_counter() - t0, 1)
        write_state(out, key, done)
        r = done[v]
        echo(f"{head} {r.status} in {r.seconds:.0f} s" + (f": {r.reason}" if r.reason else ""), flush=True)
    releases = [done[v] for v in versions]
    runs = {}
    for r in releases:
        if r.timed:
            try:
                runs[r.version] = load_run(r.run)
            except BadRun as exc:
                r.status, r.reason = NO_RUN, f"its saved run cannot be read: {exc}"
    return History(fw, pytest_args, out, releases, runs)
