"""Arms that run a git revision's code: `mlxbench ab --a-rev REV [--b-rev REV]` ("is my branch slower?").

The repository is the git toplevel of the working directory. Each revision named is checked out once, by
commit id, into a cache (`<mlxbench cache>/checkouts/<commit>`; `MLXBENCH_CACHE` moves it): `git read-tree`
and `git checkout-index` with an index of their own (the repository's index, worktrees and branches are
left alone) into `.partial-<commit>-<pid>-<random>`, a marker file written last, then renamed into place.
A half-made checkout (Ctrl-C, SIGTERM, a kill) is never reused: it is removed on the way out, or by the next
checkout once its process is gone; a complete one is never modified (the workers' bytecode goes to
`<cache>/checkouts/pycache`, PYTHONPYCACHEPREFIX) and the next A/B of the same commit reuses it, and says so.
Arm B without --b-rev runs the working tree as it is, uncommitted changes included.

Each arm's workers run in their revision's checkout (the same subfolder the A/B was started from), so
pytest collects that revision's benchmarks/, conftest.py and workloads/ and imports the user's own package
from there first. The harness that drives both arms (the coordinator and the worker's side of the protocol:
plugin, baton, timing, session) is always the running one: a worker starts through `launcher()`, which puts
the checkout first on sys.path (as `python -m pytest` would) and then pins the package `mlxbench` to the
running harness's folder, so a revision of this repository never shadows it with its own `mlxbench/`. Two
parts of this repository's revisions are code under test and come from the checkout: `workloads/` (as
`mlxbench_workloads`, which an editable install would otherwise map to the running tree) and
`mlxbench/backends/` (how a framework is forced and synchronized is what people changing backends measure).
A revision that the running harness cannot drive (its benchmarks import an API this harness lacks, its
backends do not fit it) fails to collect: `preflight` collects each revision's benchmarks before any
measuring and refuses the A/B (exit 2), naming the revision, the error and what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlxbench.measure.judging import GATE_FAILURES
from mlxbench.runs import BadRun

WORKTREE = (".", "WORKTREE", "worktree", "working-tree")  # names of the working tree (arm B's, by default)
MARKER = ".mlxbench-checkout.json"  # written last into a checkout: present, the checkout is complete
HARNESS = Path(__file__).resolve().parents[1]  # the running harness's `mlxbench` package folder
PATH_OPTIONS = ("--data-dir",)  # pytest arguments whose relative path means the caller's folder, not the checkout's

LAUNCH = """
import importlib.util, os, sys

def load(name, folder):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module

sys.path[0] = os.getcwd()  # the revision's checkout first, as `python -m pytest` would put it
load("mlxbench", {harness!r})  # the running harness drives this worker, whatever the checkout holds
for name, folder in {pinned!r}:
    load(name, folder)  # code under test from the revision's checkout
import pytest
sys.exit(pytest.console_main())
"""


@dataclass(frozen=True)
class Revision:
    """What one arm runs: a commit's checkout, or the working tree (`commit` is then HEAD's, or None)."""

    rev: str  # as given (`main`, `HEAD~1`, a sha), or "working tree"
    commit: str | None
    checkout: Path  # the folder its workers run in (the repository's toplevel for the working tree)
    working_tree: bool = False
    uncommitted: bool = False
    reused: bool = False
    pycache: Path | None = None  # where its workers' bytecode goes (a cached checkout is never written into)

    def label(self) -> str:
        """`main (3f3c604e1a2b)` or `working tree at 3f3c604e1a2b with uncommitted changes`."""
        short = (self.commit or "no commit yet")[:12]
        if not self.working_tree:
            return f"{self.rev} ({short})" if self.rev != self.commit else short
        return f"working tree at {short}" + (" with uncommitted changes" if self.uncommitted else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "commit": self.commit,
            "working_tree": self.working_tree,
            "uncommitted_changes": self.uncommitted,
            "label": self.label(),
            "checkout": str(self.checkout),
            "checkout_reused": self.reused,
        }


def git(top: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """A git command in `top`; its child is stopped, not left writing, when this process is interrupted."""
    proc = subprocess.Popen(
        ["git", "-C", str(top), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def toplevel(cwd: Path) -> Path:
    try:
        found = git(cwd, "rev-parse", "--show-toplevel")
    except OSError as exc:
        raise BadRun(f"--a-rev needs git, which could not run here ({exc})") from None
    if found.returncode != 0:
        raise BadRun(
            f"--a-rev names a git revision, but {cwd} is in no git repository: run mlxbench ab from the repository "
            "that holds the benchmarks"
        )
    return Path(found.stdout.strip())


def resolve(top: Path, rev: str, option: str) -> str:
    """The commit id `rev` names in the repository at `top`; bad input in one line where it names none."""
    if rev.startswith("-") or not rev.strip():
        raise BadRun(f"{option} {rev!r}: give a branch, tag or commit id (e.g. main, HEAD~1, 3f3c604)")
    found = git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.strip()
    shallow = git(top, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if shallow:
        raise BadRun(
            f"{option} {rev}: no such commit in {top}, a shallow clone (its history is cut off, so the commit may "
            "be there upstream): run `git fetch --unshallow` (in GitHub Actions, actions/checkout with "
            "`fetch-depth: 0`), then run the A/B again"
        )
    raise BadRun(
        f"{option} {rev}: no commit of that name in {top} (a branch, tag or commit id; `git log --oneline` lists "
        "commits, `git fetch` brings a branch pushed elsewhere)"
    )


def uncommitted(top: Path) -> bool:
    """Whether the working tree differs from HEAD: changed, staged or untracked files (ignored ones aside)."""
    return bool(git(top, "status", "--porcelain", "--untracked-files=normal").stdout.strip())


def cache_root() -> Path:
    from mlxbench.datasets import default_cache_dir

    return default_cache_dir() / "checkouts"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def sweep(cache: Path) -> None:
    """Remove the half-made checkouts whose process is gone (killed where it could not clean up)."""
    for partial in cache.glob(".partial-*"):
        parts = partial.name.split("-")
        if len(parts) >= 4 and parts[2].isdigit() and not pid_alive(int(parts[2])):
            shutil.rmtree(partial, ignore_errors=True)
            Path(f"{partial}.index").unlink(missing_ok=True)


def checkout(top: Path, commit: str, cache: Path, log: Callable[[str], None] = print) -> tuple[Path, bool]:
    """(the folder holding `commit`'s files, whether an earlier A/B made it): made once per commit id, whole
    or not at all (`.partial-*` renamed into place once its marker is written), then reused, never modified."""
    final = cache / commit
    if (final / MARKER).is_file():
        made = json.loads((final / MARKER).read_text()).get("made", "earlier")
        log(f"mlxbench ab: reusing the checkout of {commit[:12]} made {made} by an earlier A/B: {final}")
        return final, True
    cache.mkdir(parents=True, exist_ok=True)
    sweep(cache)
    if final.exists():  # no marker: not made by checkout(); set aside, never run
        final.rename(cache / f".damaged-{commit}-{int(time.time())}")
    partial = cache / f".partial-{commit[:12]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    index = Path(f"{partial}.index")
    t0 = time.perf_counter()
    try:
        partial.mkdir()
        env = {"GIT_INDEX_FILE": str(index)}
        for args in (("read-tree", commit), ("checkout-index", "--all", f"--prefix={partial}{os.sep}")):
            done = git(top, *args, env=env)
            if done.returncode != 0:
                raise BadRun(f"could not check out {commit[:12]} into {cache}: {done.stderr.strip()[-300:]}")
        made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        (partial / MARKER).write_text(json.dumps({"commit": commit, "repository": str(top), "made": made}))
        try:
            os.rename(partial, final)
        except OSError:  # another A/B of the same commit finished first: its checkout is as good
            if not (final / MARKER).is_file():
                raise
            log(f"mlxbench ab: reusing the checkout of {commit[:12]} another A/B just made: {final}")
            return final, True
    finally:
        index.unlink(missing_ok=True)
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    log(f"mlxbench ab: checked out {commit[:12]} in {time.perf_counter() - t0:.1f} s: {final}")
    return final, False


def arms(
    a_rev: str | None, b_rev: str | None, cwd: Path | None = None, cache: Path | None = None, log=print
) -> dict[str, Revision] | None:
    """Each arm's revision (None: no --a-rev, both arms run the working directory as before), every name
    checked before anything is checked out."""
    if a_rev is None:
        if b_rev is not None:
            raise BadRun(f"--b-rev {b_rev} needs --a-rev (the revision to compare it with)")
        return None
    cwd = (cwd or Path.cwd()).resolve()
    top = toplevel(cwd)
    if a_rev in WORKTREE:
        raise BadRun(
            f"--a-rev {a_rev}: arm A cannot be the working tree, which is arm B's (the default, uncommitted changes "
            "included): name a commit for A (e.g. --a-rev main); to measure uncommitted changes as A, commit or "
            "stash them first"
        )
    a_commit = resolve(top, a_rev, "--a-rev")
    b_commit = None if b_rev is None or b_rev in WORKTREE else resolve(top, b_rev, "--b-rev")
    head = git(top, "rev-parse", "--verify", "--quiet", "HEAD").stdout.strip() or None
    cache = cache or cache_root()
    subfolder = cwd.relative_to(top)
    found = {}
    for arm, rev, commit in (("A", a_rev, a_commit), ("B", b_rev, b_commit)):
        if commit is None:
            found[arm] = Revision("working tree", head, cwd, working_tree=True, uncommitted=uncommitted(top))
            continue
        if arm == "B" and commit == a_commit:
            found[arm] = Revision(rev, commit, found["A"].checkout, reused=found["A"].reused, pycache=cache / "pycache")
            continue
        folder, reused = checkout(top, commit, cache, log)
        found[arm] = Revision(rev, commit, folder / subfolder, reused=reused, pycache=cache / "pycache")
    return found


def launcher(checkout: Path) -> list[str]:
    """The interpreter arguments that start pytest in `checkout` (the working directory) under the running
    harness: `-c LAUNCH` in place of `-m pytest` (see the module's docstring for what comes from where)."""
    top = checkout
    while top != top.parent and not (top / MARKER).exists() and not (top / ".git").exists():
        top = top.parent
    pinned = []
    if (top / "workloads" / "__init__.py").is_file():
        pinned.append(("mlxbench_workloads", str(top / "workloads")))
    if (top / "mlxbench" / "backends" / "__init__.py").is_file():
        pinned.append(("mlxbench.backends", str(top / "mlxbench" / "backends")))
    return ["-c", LAUNCH.format(harness=str(HARNESS), pinned=pinned)]


def worker_env(revision: Revision) -> dict[str, str]:
    """Bytecode of a cached checkout goes beside the cache, never into the checkout (it is never modified)."""
    return {} if revision.pycache is None else {"PYTHONPYCACHEPREFIX": str(revision.pycache)}


def absolute_paths(pytest_args: Sequence[str], cwd: Path) -> list[str]:
    """The pytest arguments with the relative paths of PATH_OPTIONS made absolute (they name the caller's
    folders, and the workers run in a checkout)."""
    out = list(pytest_args)
    for i, arg in enumerate(out):
        name, sep, value = arg.partition("=")
        if sep and name in PATH_OPTIONS and not Path(value).is_absolute():
            out[i] = f"{name}={cwd / value}"
        elif arg in PATH_OPTIONS and i + 1 < len(out) and not Path(out[i + 1]).is_absolute():
            out[i + 1] = str(cwd / out[i + 1])
    return out


def preflight(
    python: Mapping[str, str],
    revisions: Mapping[str, Revision],
    env: Mapping[str, Mapping[str, str]],
    pytest_args: Sequence[str],
) -> None:
    """Collect each arm's benchmarks under the running harness (both arms at once) before anything is
    measured; an arm whose revision it cannot drive refuses the whole A/B, never half of it."""
    procs = {}
    for arm, rev in revisions.items():
        cmd = [python[arm], *launcher(rev.checkout), "--collect-only", "-q", "-p", "no:cacheprovider", *pytest_args]
        procs[arm] = subprocess.Popen(
            cmd,
            cwd=rev.checkout,
            env={**os.environ, **env[arm], **worker_env(rev)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    try:
        outputs = {arm: p.communicate()[0] for arm, p in procs.items()}
    except BaseException:
        for p in procs.values():
            p.kill()
            p.wait()
        raise
    for arm, proc in procs.items():
        if proc.returncode in (0, 5):  # 5: nothing collected, said by the A/B itself in its usual words
            continue
        rev = revisions[arm]
        raise BadRun(
            f"arm {arm} runs {rev.label()}, which this mlxbench ({HARNESS.parent}, the harness driving both arms) "
            f"cannot drive: collecting its benchmarks in {rev.checkout} failed ({why(outputs[arm])}). Its "
            "benchmarks need an API this harness lacks, or one it no longer has: run the A/B with an mlxbench "
            "that can drive both revisions (install the newer revision's: python -m pip install -e <its checkout>), "
            "or compare revisions this one can drive. Nothing was measured"
        )


def refuse_half(
    failures: Mapping[str, Mapping[str, str]], facts: Mapping[str, Mapping[str, Any]], folder: Path, unit: str
) -> None:
    """After each arm's first worker (`unit`: "worker" of the first pair, or "process") of an A/B whose arms run
    revisions (`facts`: each arm's, its `revision`): a benchmark that failed in one arm and not in the other, other
    than by an accuracy or regression gate, is a revision the running harness cannot drive (an API it lacks, met
    only when the benchmark runs) or a benchmark that revision broke. Either way the A/B would judge only part of
    the selection, so it is refused: which revision, which benchmark, its error, what to do. `failures`: each arm's
    failed tests and their messages (mlxbench.ab.paired.failures_in)."""
    if not any("revision" in arm for arm in facts.values()):
        return
    for arm, other in (("A", "B"), ("B", "A")):
        broken = {
            name: message
            for name, message in failures[arm].items()
            if name not in failures[other] and not message.removeprefix("Failed: ").startswith(GATE_FAILURES)
        }
        if not broken:
            continue
        name, message = min(broken.items())
        rev = facts[arm].get("revision")
        runs = f"runs {rev.label()}" if rev else "runs the running code"
        where = rev.checkout if rev else "its folder"
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        raise BadRun(
            f"arm {arm} {runs}, and its first {unit} failed {name}{more}, which did not fail in arm {other}'s "
            f"({message[:300]}). Either that revision's benchmark needs an API this mlxbench ({HARNESS.parent}, "
            "the harness driving both arms) lacks, met only when it runs, or the revision broke it: run it alone "
            f"(python -m pytest in {where}) to see which; to compare revisions of another harness, run the A/B with "
            "an mlxbench that can drive both (python -m pip install -e <the newer checkout>). Nothing was judged; "
            f"logs: {folder}"
        )


def why(output: str) -> str:
    """The error a failed collection names: its last `E   ...` line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    found = errors[-1] if errors else (lines[-1] if lines else "no output")
    return found[:300]


def note(revisions: Mapping[str, Revision]) -> str:
    """Markdown lines naming each arm's revision (for verdicts.md and the pull-request comment)."""
    return "".join(f"- {arm}: `{rev.label()}`\n" for arm, rev in revisions.items())
