"""One cached environment and one saved run per release: the history `mlxbench releases` reports.

For each release, oldest first: its environment (mlxbench.ab.venvs: the release, this interpreter's
versions of the suite's own requirements, this checkout; built once and reused), then the pytest
selection in it, saved like any other run (`--benchmark-save=<framework>-<version>` into OUT/runs, so
`mlxbench --storage OUT/runs compare` and `report` read them). What each release came to is kept in
OUT/state.json (mlxbench.releases.state) after every release, so an interrupted invocation keeps the finished
releases and the next one with the same selection reuses them (a release interrupted midway is run again).
A saved run that state.json does not record (its pytest session saved it after `mlxbench releases` was
killed) is adopted where state.json says that release was being measured and the run is complete and
valid; any other is set aside into OUT/set-aside/ and named, never measured again silently. A recorded run
that is gone or damaged is named and its release measured again; an environment that is gone is built again
before an A/B needs it.

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

from packaging.version import InvalidVersion, Version

from mlxbench import cancel
from mlxbench.ab import venvs
from mlxbench.measure import machine
from mlxbench.releases import state
from mlxbench.releases.index import Framework
from mlxbench.releases.state import ACCURACY, NO_INSTALL, NO_RUN, PARTLY, TIMED, stored_name, warn
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun, Run, load_run
from mlxbench.units import echo


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
    environment: Callable[[str], Path] | None = None  # version -> its environment's interpreter (built if missing)

    @property
    def timed(self) -> list[Release]:
        return [r for r in self.releases if r.timed and r.version in self.runs]


def selection_key(fw: Framework, pytest_args: Sequence[str]) -> str:
    text = json.dumps([fw.requirement("V"), list(pytest_args), machine.machine_id(), str(venvs.ROOT)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def locate(run: str, out: Path) -> Path:
    """A recorded saved run: its path as recorded, else the same file in OUT/runs (the command ran elsewhere)."""
    path = Path(run)
    return path if path.is_file() else out / "runs" / stored_name(path)


def set_aside(run: Path, out: Path) -> Path:
    """Move a saved run out of OUT/runs into OUT/set-aside/<machine id>/ (never deleted); its new path."""
    folder = out / "set-aside" / run.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / run.name, 1
    while target.exists():
        target, n = folder / f"{run.stem}-{n}{run.suffix}", n + 1
    os.rename(run, target)
    return target


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


def measure(
    fw: Framework,
    version: str,
    python: str,
    pytest_args: list[str],
    out: Path,
    runner: Callable[[list[str], Path], int] = run_pytest,
    starting: Callable[[dict[str, str]], None] | None = None,
) -> Release:
    """Run the selection in one release's environment and save it; failed tests named, the others timed.
    `starting(deselected)` is called before each pytest session (state.json records it)."""
    name = f"{fw.name}-{version}"
    store, logs = out / "runs", out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    deselect: list[str] = []
    failed: dict[str, str] = {}
    for attempt in (1, 2):
        junit = logs / f"{version}-{attempt}.xml"
        before = saved_runs(store, name)
        cmd = [
            python,
            "-m",
            "pytest",
            *pytest_args,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-storage={store}",
            f"--benchmark-save={name}",
            f"--junitxml={junit}",
            *(f"--deselect={n}" for n in deselect),
        ]
        if starting is not None:
            starting({n: failed[n] for n in deselect})
        code = runner(cmd, logs / f"{version}-{attempt}.log")
        now_failed, skipped, passed = outcomes(junit)
        failed.update(now_failed)
        new = sorted(saved_runs(store, name) - before)
        if code == 0 and new:
            return saved_release(version, str(new[-1]), python, failed)
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


def saved_release(version: str, run: str, python: str | None, failed: dict[str, str]) -> Release:
    """A release whose run was saved: timed, or partly timed with the tests that failed (left out) named."""
    why = "; ".join(f"{n.rsplit('::', 1)[-1]}: {m}" for n, m in sorted(failed.items()))[:600]
    return Release(version, PARTLY if failed else TIMED, why, run, python, sorted(failed))


def recorded_run(r: Release, out: Path, runs: dict[str, Run]) -> str | None:
    """Why a finished release recorded in state.json cannot be reused (its run gone or damaged: set aside), or
    None (its run loaded into `runs`). An install failure is tried again (it may have been the network)."""
    if r.status == NO_INSTALL:
        return ""
    if not r.timed:
        return None
    path = locate(str(r.run), out)
    if not path.is_file():
        return f"its saved run {r.run} is gone"
    try:
        runs[r.version] = load_run(path)
    except BadRun as exc:
        return f"its saved run cannot be read ({exc}): set aside as {set_aside(path, out)}"
    r.run = str(path)
    return None


def leftover(
    fw: Framework, version: str, out: Path, st: state.State, done: dict[str, Release], head: str
) -> Release | None:
    """A saved run of `version` in OUT/runs that state.json does not record: saved by a pytest session that
    outlived a killed `mlxbench releases`. Adopted where state.json says this release was being measured and the
    run is complete and valid (the newest such); every other one is set aside into OUT/set-aside/, and said."""
    recorded = {stored_name(r.run) for r in done.values() if r.run} | set(st.earlier or ())
    found = sorted(p for p in saved_runs(out / "runs", f"{fw.name}-{version}") if stored_name(p) not in recorded)
    measuring = st.measuring if st.measuring and st.measuring["version"] == version else None
    adopted: tuple[Path, Run] | None = None
    reasons: dict[Path, str] = {}
    for p in reversed(found):
        if measuring is None:
            reasons[p] = (
                "state.json does not say that this release was being measured: of another selection, or of a "
                "session killed before mlxbench recorded that"
            )
        elif stored_name(p) in measuring["before"]:
            reasons[p] = "it was there before this release was last measured"
        elif adopted is not None:
            reasons[p] = f"the newer {adopted[0].name} is used"
        else:
            try:
                run = load_run(p)
                reasons[p] = adoption_problem(run, fw, version) or ""
            except BadRun as exc:
                reasons[p] = f"it is not a complete, valid run: {exc}"
            if not reasons[p]:
                adopted = (p, run)
    again = "" if adopted else f"; {version} is measured again"
    for p, why in reasons.items():
        if why:
            warn(
                f"{head} {stored_name(p)} is a saved run state.json does not record ({why}): set aside as "
                f"{set_aside(p, out)}{again}"
            )
    if adopted is None or measuring is None:
        return None
    r = saved_release(version, str(adopted[0]), None, measuring["deselected"])
    echo(
        f"{head} {r.status}: adopted {stored_name(adopted[0])}, which its pytest session saved after the "
        "mlxbench releases that started it was stopped, before state.json recorded it",
        flush=True,
    )
    return r


def adoption_problem(run: Run, fw: Framework, version: str) -> str | None:
    if not run.benchmarks:
        return "it holds no benchmark"
    recorded = str((run.facts.get("versions") or {}).get(fw.dist) or "").split("+")[0]
    try:
        if recorded and Version(recorded) != Version(version):
            return f"it measured {fw.dist} {recorded}, not {version}"
    except InvalidVersion:
        return f"it records {fw.dist} {recorded!r}, not a version"
    return None


def build(
    fw: Framework,
    versions: Sequence[str],
    pytest_args: list[str],
    out: Path,
    environment: Callable[[list[str]], Path] | None = None,
    runner: Callable[[list[str], Path], int] = run_pytest,
    st: state.State | None = None,
) -> History:
    """Every release measured (or reused from an earlier invocation with the same selection), oldest first.
    `st`: this selection's state as read before (state.read, which validates it), else read here."""
    key = selection_key(fw, pytest_args)
    out.mkdir(parents=True, exist_ok=True)
    st = st if st is not None else state.read(out, key)
    done = {v: Release(**r) for v, r in st.releases.items()}
    runs: dict[str, Run] = {}
    for v in versions:
        if v in done and (why := recorded_run(done[v], out, runs)) is not None:
            if why:
                warn(f"{fw.dist} {v}: {why}; it is measured again")
            del done[v]
            st.releases.pop(v, None)
    pins = venvs.suite_pins(leave_out=[fw.dist])
    make = environment or (lambda wanted: venvs.environment(wanted, log=lambda line: None))
    for i, v in enumerate(versions, 1):
        head = f"mlxbench releases: {i}/{len(versions)} {fw.dist} {v}:"
        if v in done:
            echo(f"{head} {done[v].status}, reused from an earlier invocation", flush=True)
            continue
        t0 = time.perf_counter()
        adopted = leftover(fw, v, out, st, done, head)
        if adopted is not None:
            done[v] = adopted
        else:
            echo(f"{head} environment...", flush=True)
            try:
                python = str(make([fw.requirement(v), *pins]))
            except BadRun as exc:
                done[v] = Release(v, NO_INSTALL, str(exc).removeprefix("could not install ")[:600])
            else:
                echo(f"{head} running the selection ({time.perf_counter() - t0:.0f} s for the environment)", flush=True)

                def starting(deselected: dict[str, str], v: str = v) -> None:
                    before = sorted(stored_name(p) for p in saved_runs(out / "runs", f"{fw.name}-{v}"))
                    st.measuring = {"version": v, "deselected": deselected, "before": before}
                    state.write(out, st)

                done[v] = measure(fw, v, python, pytest_args, out, runner, starting)
            done[v].seconds = round(time.perf_counter() - t0, 1)
        st.releases[v], st.measuring = asdict(done[v]), None
        state.write(out, st)
        r = done[v]
        echo(f"{head} {r.status} in {r.seconds:.0f} s" + (f": {r.reason}" if r.reason else ""), flush=True)
    releases = [done[v] for v in versions]
    for r in releases:
        if r.timed and r.version not in runs:
            try:
                runs[r.version] = load_run(r.run)
            except BadRun as exc:
                r.status, r.reason = NO_RUN, f"its saved run cannot be read: {exc}"
    return History(fw, pytest_args, out, releases, runs, lambda v: make([fw.requirement(v), *pins]))


def interpreter(hist: History, version: str) -> str:
    """The interpreter of `version`'s environment, built again where it is gone (its cache cleared or moved, or
    never recorded: an adopted run); BadRun saying what to do where it cannot be built."""
    r = next(r for r in hist.releases if r.version == version)
    if r.python and Path(r.python).is_file():
        return r.python
    what = f"the environment of {hist.framework.dist} {version}"
    if r.python:
        gone = f"{what} is gone ({r.python} does not exist: its cache was cleared or moved)"
    else:
        gone = f"{what} is not recorded (its run was adopted)"
    echo(f"mlxbench releases: {gone}: building it again", flush=True)
    try:
        make = hist.environment or (lambda v: venvs.environment([hist.framework.requirement(v)], log=lambda _: None))
        r.python = str(make(version))
    except BadRun as exc:
        raise BadRun(
            f"{gone}, and it could not be built again ({exc}); once it can be installed, run the same command again: "
            "it builds the environments that are gone and makes only the A/Bs still missing (--confirm none "
            "reports the history without A/Bs)"
        ) from None
    return r.python
