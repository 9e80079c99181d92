"""`mlxbench ab merge FOLDER...`: the pairs of several paired A/B folders judged as one run.

    mlxbench ab merge runner1/ab-runs/20261203-020000 runner2/ab-runs/20261203-020001 --json merged.json

Each pair of workers is a unit of evidence of its own (its rounds alternate A and B close in time on one machine),
so the pairs of the same A/B run on several runners of one machine type, or on several GPUs of one host, pool: N
runners give N times the pairs in the same wall time. The merged verdicts come from the same statistic as `mlxbench
ab` (mlxbench.verdicts.paired: spreads moderated across benchmarks, unstable workers named and left out), judged
once at `--alpha` over every benchmark (Bonferroni). Folders must come from the same A/B: each arm's interpreter
and environment variables (and whatever else verdicts.json records of an arm), the pytest arguments, and the
preparations per pair (--draws, as the pair files show them); folders that differ in any are refused, naming what
differs. An interpreter is what it runs (IDENTITY: its Python implementation and version, the versions of the
packages that move a time, as `mlxbench ab` records them), not where it lives: runners whose checkouts or
environments lie at other paths merge (the paths are said), an environment rebuilt in place with another torch does
not. A verdicts.json from before arms recorded their versions names only the path: those interpreters are compared
by path. The variables that pick a GPU (PLACEMENT) may differ between folders where they are the same in both arms
of each: they say where a shard ran, not what it compared. A folder that ended before judging (interrupted: no
verdicts.json) records no arms; its complete pairs still count, and it is named. Each pair counts once: a folder
named twice, a copy of a folder (under another name, on another runner's path) and a copied pair file are refused,
the copies recognised by what their pairs measured (fingerprint: the rounds' times and the clock times they ran at,
which no two measurements share), naming both folders. Exit 0, 1 on a regression, 2 for bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlxbench.ab import paired, verdictsfile
from mlxbench.ab.config import alpha_problem
from mlxbench.measure import pairfile
from mlxbench.measure.pairfile import PairResult
from mlxbench.paths import output_file_problem, output_folder_problem
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun
from mlxbench.session import saving
from mlxbench.units import echo
from mlxbench.verdicts import evidence
from mlxbench.verdicts import paired as stats
from mlxbench.verdicts.words import counted

PLACEMENT = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")  # which GPU a shard ran on
LABELS = {  # an arm's keys in verdicts.json, as said
    "python": "interpreter",
    "env": "environment variables",
    "implementation": "Python implementation",
    "python_version": "Python version",
    "versions": "package versions",
}
IDENTITY = ("implementation", "python_version", "versions")  # an interpreter, wherever it lives (mlxbench.ab.command)


def read_marked_pair(path: Path) -> tuple[PairResult, str]:
    """One pair.json (PairResult.read: BadRun naming the file when damaged), and its fingerprint."""
    pair = PairResult.read(path)
    return pair, fingerprint(pair)


def fingerprint(pair: PairResult) -> str:
    """What makes a pair this pair and no other: every round's time and, where recorded, the clock times each
    round started and ended at. A copy of its file holds the same (however its JSON is spaced); two pairs
    measured apart never do."""
    content = json.dumps({"times": pair.times, "rounds": pair.rounds}, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


def copies(found: dict[str, list[tuple[Path, str]]]) -> str | None:
    """The pairs held twice among the folders' pair files (`found`: folder -> (pair file, fingerprint)), in one
    line naming both folders (a copy of a folder) or both files (a pair file copied within one); None if none."""
    first: dict[str, tuple[str, Path]] = {}
    twins: dict[tuple[str, str], list[tuple[Path, Path]]] = {}
    for folder, files in found.items():
        for path, mark in files:
            if mark in first:
                other, original = first[mark]
                twins.setdefault((other, folder), []).append((original, path))
            else:
                first[mark] = (folder, path)
    if not twins:
        return None
    (one, two), held = next(iter(twins.items()))
    shown = ", ".join(f"{a.parent.name} as {b.parent.name}" for a, b in held[:3]) + (", ..." if len(held) > 3 else "")
    if one == two:
        return (
            f"{one} holds {nouns(len(held), 'pair')} twice ({shown}: the same rounds at the same times, a copied "
            "pair file); each pair counts once: move the copy away"
        )
    return (
        f"{one} and {two} hold the same {nouns(len(held), 'pair')} ({shown}: the same rounds at the same times): "
        f"one is a copy of the other, and each pair counts once; merge only one of them"
    )


def read_folder(folder: Path) -> tuple[list[PairResult], dict[str, Any] | None]:
    """A paired A/B folder's pairs, and its verdicts.json (None where it has none: interrupted)."""
    found, meta = read_marked(folder)
    return [pair for pair, _, _ in found], meta


def read_marked(folder: Path) -> tuple[list[tuple[PairResult, str, Path]], dict[str, Any] | None]:
    """read_folder's pairs, each with its fingerprint and its file."""
    if not folder.is_dir():
        raise BadRun(f"{folder}: not a folder; name the A/B folders (mlxbench ab's --out/<time>/)")
    files = sorted(folder.glob(pairfile.GLOB))
    if not files:
        raise BadRun(f"{folder}: holds no {pairfile.GLOB}: not a paired A/B folder (mlxbench ab's --out/<time>/)")
    meta = verdictsfile.read(folder)
    if meta is not None and meta.get("design", "paired") != "paired":
        raise BadRun(f"{folder}: a {meta.get('design')} A/B; only paired A/B folders merge")
    return [(*read_marked_pair(p), p) for p in files], meta


def run(args: argparse.Namespace) -> int:
    """`mlxbench ab merge`: the folders' pairs judged as one A/B, said, and written where asked."""
    check_outputs(args)
    pairs, sources, metas = read_folders(args.folders)
    check_one_ab(metas)
    selections = {f: m["pytest_args"] for f, m in metas.items() if "pytest_args" in m}
    arms = {arm: next((m[arm] for m in metas.values() if isinstance(m.get(arm), dict)), None) for arm in "ab"}
    thresholds = paired.thresholds_for(args.threshold, pairs)
    results, found = paired.judge_pairs(pairs, thresholds, args.alpha)
    from mlxbench.ab.command import table

    folders = nouns(len(args.folders), "folder")
    merged = f"{nouns(len(pairs), 'pair of workers', 'pairs of workers')} from {folders}"
    echo(f"mlxbench ab merge: {merged}, {nouns(len(results), 'benchmark')}, judged as one run at alpha {args.alpha:g}")
    for u in found.unstable:
        echo(f"mlxbench ab merge: {u.line()}")
    echo(f"mlxbench ab merge: {counted(results)}")
    echo("\n".join(table(results)))
    by_bench = found.timings
    document = {
        "design": "paired",
        "merged_from": sources,
        "pairs": len(pairs),
        "alpha": args.alpha,
        "stopped": f"merged from {folders} of A/Bs",
        "pytest_args": next(iter(selections.values()), None),
        "draws": next(iter(metas.values()))["draws"],  # read_folders' per folder; check_one_ab refused differences
        "a": arms["a"],
        "b": arms["b"],
        "prior": found.prior.as_dict(),
        "unstable": [u.__dict__ for u in found.unstable],
        "levels": {n: lv.as_dict(by_bench[n].units) for n, lv in found.levels.items()},
        "spreads": stats.spreads(by_bench),
        "verdicts": [r.as_dict() for r in results],
    }
    if args.out is not None:
        write_out(args.out, document)
    if args.json:
        saving.replace_atomically(args.json, verdictsfile.dumps(document))
        echo(f"verdicts: {args.json}")
    if args.out is not None:
        echo(f"verdicts and a job-summary table: {args.out}/")
    return 1 if any(r.regressed for r in results) else 0


def check_outputs(args: argparse.Namespace) -> None:
    """--alpha, --json and --out usable before anything is read."""
    if problem := alpha_problem(args.alpha):
        raise BadRun(problem)
    if args.json is not None and (problem := output_file_problem(args.json, "--json")):
        raise BadRun(problem)
    if args.out is not None:
        if problem := output_folder_problem(args.out, "--out"):
            raise BadRun(problem)
        if args.out.exists() and any(args.out.iterdir()):
            raise BadRun(f"--out {args.out}: that folder is not empty; merged verdicts never overwrite others")


def read_folders(
    folders: Sequence[Path],
) -> tuple[list[PairResult], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(every folder's pairs, what each folder gave, each folder's verdicts.json: {} where it has none, an A/B
    interrupted before judging); a folder named twice or a pair file copied into two folders is BadRun."""
    pairs: list[PairResult] = []
    sources: list[dict[str, Any]] = []
    metas: dict[str, dict[str, Any]] = {}
    seen: set[Path] = set()
    marks: dict[str, list[tuple[Path, str]]] = {}  # each folder's pair files and their fingerprints
    for folder in folders:
        if folder.resolve() in seen:
            raise BadRun(f"{folder} is named twice: each pair counts once (merging it twice would halve the spread)")
        seen.add(folder.resolve())
        found, meta = read_marked(folder)
        pairs += [pair for pair, _, _ in found]
        marks[str(folder)] = [(path, mark) for _, mark, path in found]
        sources.append({"folder": str(folder), "pairs": len(found), "judged": meta is not None})
        # preparations per pair (--draws) as its pair files show them: a folder interrupted before judging too
        metas[str(folder)] = {**(meta or {}), "draws": max((pair.preparations for pair, _, _ in found), default=1)}
    if twice := copies(marks):
        raise BadRun(twice)
    return pairs, sources, metas


def check_one_ab(metas: Mapping[str, Mapping[str, Any]]) -> None:
    """The folders ran one A/B (the same arms and pytest arguments), else BadRun; what could not be checked, said."""
    placed, by_path = placement(metas.values()), path_only(metas.values())
    records = {f: ab_record(m, placed, by_path) for f, m in metas.items()}
    old = by_path_note(metas, by_path)
    if differ := differences(records):
        why = f" ({old})" if old and any("interpreter differs" in d for d in differ) else ""
        raise BadRun(
            f"these folders ran different A/Bs: {'; '.join(differ)}{why}. Merge only folders of one A/B (the same "
            f"`mlxbench ab` arms and pytest arguments on every runner), or judge each alone: "
            f"mlxbench ab merge {next(iter(records))}"
        )
    for folder, meta in metas.items():
        if not any(isinstance(meta.get(arm), dict) for arm in ("a", "b")):
            judged = (Path(folder) / "verdicts.json").exists()
            why = "its verdicts.json names none" if judged else "no verdicts.json: it ended before judging"
            echo(f"mlxbench ab merge: {folder} records no arms ({why}); its pairs are taken as this A/B's, unchecked")
    if moved := moved_interpreters(metas, by_path):
        echo(f"mlxbench ab merge: {moved}")
    if old:
        echo(f"mlxbench ab merge: {old}")


def write_out(out: Path, document: dict[str, Any]) -> None:
    """verdicts.json and the job-summary table into `out` (new or empty), each file whole or not at all; a file
    that another command wrote there meanwhile is never replaced."""
    from mlxbench.reports import abreport

    out.mkdir(parents=True, exist_ok=True)
    summary = abreport.markdown(abreport.ABReport.of(out, document), None)
    name = verdictsfile.NAME
    try:
        verdictsfile.write(out, document)
        name = abreport.FILES["summary"]
        saving.atomic_write(out / name, summary.encode())
    except FileExistsError:
        raise BadRun(f"--out {out}: another command wrote {name} there meanwhile; choose an empty folder") from None


def arm_facts(meta: dict[str, Any], arm: str) -> dict[str, Any]:
    """What a folder's verdicts.json records of one arm ("a" or "b"); {} where it records none."""
    return meta[arm] if isinstance(meta.get(arm), dict) else {}


def arm_env(meta: dict[str, Any], arm: str) -> dict[str, Any]:
    facts = arm_facts(meta, arm)
    return facts.get("env") if isinstance(facts.get("env"), dict) else {}


def identified(facts: dict[str, Any]) -> bool:
    """Whether an arm records what its interpreter runs (IDENTITY), not only where it lives."""
    return all(key in facts for key in IDENTITY)


def path_only(metas: Collection[dict[str, Any]]) -> set[str]:
    """The arms that some folder records by interpreter path only (a verdicts.json from before arms recorded
    their versions): their interpreters are compared by path in every folder, as then."""
    return {arm for arm in "ab" if any(f and not identified(f) for f in (arm_facts(m, arm) for m in metas))}


def placement(metas: Iterable[dict[str, Any]]) -> set[str]:
    """The GPU-picking variables (PLACEMENT) that say only where each shard ran: the same in both arms of every
    folder. One that differs between the arms of a folder is part of what that A/B compares."""
    return {v for v in PLACEMENT if all(arm_env(m, "a").get(v) == arm_env(m, "b").get(v) for m in metas)}


def ab_record(meta: dict[str, Any], placed: Collection[str] = (), by_path: Collection[str] = ()) -> dict[str, Any]:
    """What a folder's verdicts.json says of the A/B it ran, by what a message calls it: the pytest arguments
    and every key of each arm, the `placed` variables (placement) left out of the arms' environments, and the
    interpreter's path left out where the arm records what it runs (IDENTITY), unless the arm is in `by_path`."""
    record: dict[str, Any] = {}
    if "pytest_args" in meta:
        record["pytest arguments"] = meta["pytest_args"]
    if "draws" in meta:  # pairs of one preparation and of several are not drawn alike
        record["number of preparations per pair (--draws)"] = meta["draws"]
    for arm in ("a", "b"):
        facts = arm_facts(meta, arm)
        for key, value in facts.items():
            if key == "python" and identified(facts) and arm not in by_path:
                continue
            if key == "env" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in placed}
            record[f"arm {arm.upper()}'s {LABELS.get(key, key)}"] = value
    return record


def moved_interpreters(metas: dict[str, dict[str, Any]], by_path: Collection[str]) -> str | None:
    """The interpreter paths that differ between folders whose arms run the same (IDENTITY), in one line."""
    paths: dict[str, dict[str, Any]] = {f: {} for f in metas}
    for folder, meta in metas.items():
        for arm in (a for a in "ab" if a not in by_path):
            if identified(facts := arm_facts(meta, arm)) and "python" in facts:
                paths[folder][f"arm {arm.upper()}'s interpreter path"] = facts["python"]
    moved = differences(paths)
    return f"{'; '.join(moved)}: the same Python and package versions, so one A/B" if moved else None


def by_path_note(metas: dict[str, dict[str, Any]], by_path: Collection[str]) -> str | None:
    """The folders whose arms name only their interpreter's path (path_only), where another folder's arms are
    compared with them; None where none is."""
    old = [f for f, m in metas.items() if any(arm_facts(m, a) and not identified(arm_facts(m, a)) for a in "ab")]
    if not old or sum(any(arm_facts(m, a) for a in "ab") for m in metas.values()) < 2:
        return None
    which = f"arm {''.join(by_path).upper()}'s interpreter" if len(by_path) == 1 else "both arms' interpreters"
    return (
        f"{', '.join(old)} record{'s' * (len(old) == 1)} {which} by path only (a verdicts.json from before A/Bs "
        f"recorded Python and package versions): interpreters compared by path, as then"
    )


def differences(records: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between the folders' A/Bs, one phrase each: `arm B's environment variables differ
    (r1: MLXBENCH_THREADS unset vs r2: MLXBENCH_THREADS=4)`; only between folders that record it."""
    out = []
    for label in dict.fromkeys(k for r in records.values() for k in r):
        values = {f: r[label] for f, r in records.items() if label in r}
        if len({json.dumps(v, sort_keys=True) for v in values.values()}) < 2:
            continue
        if all(isinstance(v, dict) for v in values.values()):
            keys = sorted({k for v in values.values() for k in v})
            keys = [k for k in keys if len({json.dumps(v.get(k)) for v in values.values()}) > 1]
            absent = "not installed" if label.endswith("package versions") else "unset"
            shown = {f: " ".join(f"{k}={v[k]}" if k in v else f"{k} {absent}" for k in keys) for f, v in values.items()}
        else:
            shown = {f: " ".join(map(str, v)) if isinstance(v, list) else str(v) for f, v in values.items()}
        groups: dict[str, list[str]] = {}
        for folder, text in shown.items():
            groups.setdefault(text, []).append(folder)
        verb = "differ" if label.endswith("s") else "differs"
        listed = " vs ".join(f"{', '.join(fs)}: {text}" for text, fs in groups.items())
        out.append(f"{label} {verb} ({listed})")
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ab-merge",
        help="(mlxbench ab merge FOLDER...) judge the pairs of several paired A/B folders as one run",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("folders", nargs="+", type=Path, metavar="FOLDER", help="A/B folders (mlxbench ab's --out/<time>/)")
    p.add_argument("--alpha", type=float, default=evidence.ALPHA, help="family-wise false-alarm rate (default 0.05)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="smallest change that counts (default: each workload's, else 10%%)",
    )
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the merged verdicts here")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write verdicts.json and ab-summary.md (tables only, for a job summary) into this new folder",
    )
    p.set_defaults(func=run)


def spelled(argv: list[str]) -> list[str]:
    """`mlxbench ab merge ...` is the subcommand `ab-merge` (ab's own arguments end in pytest's)."""
    for i, word in enumerate(argv):
        if word == "ab" and argv[i + 1 : i + 2] == ["merge"]:
            return [*argv[:i], "ab-merge", *argv[i + 2 :]]
        if not word.startswith("-") and (i == 0 or argv[i - 1] != "--storage"):
            break
    return argv
