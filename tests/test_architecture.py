"""The dependency direction written in docs/architecture.md, checked against every import of the package
(module level and inside functions): a part imports only the parts below it, and no module reaches
itself through its imports."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlxbench"

# Lowest first. A module may import its own part and any part listed before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "contracts",
        (
            "units",
            "paths",
            "backends",
            "workload",
            "implementations",
            "registry",
            "datasets",
            "runs",
            "samples",
            "timings",
            "cancel",
        ),
    ),
    ("measure", ("measure",)),
    ("verdicts", ("verdicts",)),
    ("reports", ("reports",)),
    ("session", ("session",)),
    ("ab", ("ab",)),
    ("releases", ("releases",)),
    ("tools", ("tools",)),
    (
        "entry points",
        ("plugin", "cli", "__main__", "__init__"),
    ),
]
RANK = {first: i for i, (_, firsts) in enumerate(LAYERS) for first in firsts}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every mlxbench module `path` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("mlxbench."):
                found.add(name)
    return found


def part(module: str) -> str:
    return module.split(".")[1] if module != "mlxbench" else "__init__"


def test_every_module_belongs_to_a_listed_part():
    unlisted = sorted(m for m in modules() if part(m) not in RANK)
    assert not unlisted, f"add these to LAYERS and to docs/architecture.md: {unlisted}"


def test_parts_import_only_the_parts_below_them():
    mods = modules()
    wrong = []
    for name, path in mods.items():
        for dep in imports(path, set(mods)):
            if RANK[part(dep)] > RANK[part(name)]:
                wrong.append(f"{name} -> {dep}")
    assert not wrong, "imports against the direction in docs/architecture.md:\n" + "\n".join(sorted(wrong))


def test_no_import_circle_even_inside_functions():
    mods = modules()
    graph = {name: imports(path, set(mods)) - {name} for name, path in mods.items()}
    graph = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in graph.items()}  # a package's own init
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                circles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_direction_is_the_one_documented():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    positions = [doc.index(f"`{name}`") for name, _ in LAYERS if name != "entry points"]
    assert positions == sorted(positions, reverse=True), "docs/architecture.md lists the parts top first"


def test_only_the_bridge_names_pytest_benchmark_internals():
    private = ("_benchmarksession", "_next_num", "get_machine_id", "safe_dumps", "save_json")
    found = [
        f"{name}: {word}"
        for name, path in modules().items()
        if name != "mlxbench.session.bridge"
        for word in private
        if word in path.read_text()
    ]
    assert not found, found


LARGE = 400  # lines: a module past this says in its docstring why it is still one thing


def test_modules_say_what_they_own_and_a_large_one_why_it_is_one_thing():
    """A module owns one thing; its size follows from that. One over LARGE lines explains itself ("one thing"
    in its docstring), rather than being squeezed under a number."""
    for name, path in modules().items():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if name != "mlxbench.__main__":
            assert doc, f"{name} has no opening docstring"
        if len(text.splitlines()) > LARGE:
            assert "one thing" in doc, f"{name}: {len(text.splitlines())} lines, and its docstring does not say why"


def test_the_checker_sees_imports_inside_functions(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from mlxbench.reports import render\n    import mlxbench.session.bridge\n")
    known = set(modules())
    assert imports(path, known) == {"mlxbench.reports.render", "mlxbench.session.bridge", "mlxbench.reports"}


def test_verdict_words_load_no_statistics():
    """Reports, tables and messages speak of verdicts through mlxbench.verdicts.words, which loads no SciPy or
    NumPy (the statistics that compute verdicts live in mlxbench.verdicts.verdict and below)."""
    tree = ast.parse((PACKAGE / "verdicts" / "words.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {name.split(".")[0] for name in names} - {"__future__", "collections", "typing"}, names
    code = "import sys, mlxbench.verdicts.words; print(sorted({'scipy', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scipy_loads_with_the_first_number_a_verdict_needs():
    """Every command and pytest session imports the verdict modules; SciPy (most of a command's start-up) is
    loaded by mlxbench.verdicts.distributions only when a verdict computes a quantile."""
    code = (
        "import sys, mlxbench.cli, mlxbench.plugin\n"
        "from mlxbench.verdicts.verdict import interval_verdict\n"
        "before = 'scipy' in sys.modules\n"
        "interval_verdict(0.1, 0.05, 5, 0.05, 0.1)\n"
        "print(before, 'scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.split() == ["False", "True"]


def test_no_line_is_kept_from_the_formatter():
    """Code is formatted by `ruff format` as people format it: no marker that keeps the formatter off a line."""
    marker = "# fmt: " + "sk" + "ip"
    found = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "workloads").rglob("*.py")]
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if marker in line or "# fmt: " + "off" in line
    ]
    assert not found, found


def test_only_the_pair_file_module_names_pair_files():
    """pair.json has one owner (mlxbench.measure.pairfile: its name, its fields, reading and writing it whole); every
    other module finds, reads and writes pair files through it."""
    owners = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docs = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
        }
        found = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and "pair.json" in n.value and id(n) not in docs
        ]
        if found:
            owners.append(module_name(path))
    assert owners == ["mlxbench.measure.pairfile"]


def test_the_ab_engine_takes_a_typed_config_not_a_command_line():
    """The paired A/B's engine is a Python API (ab, ab merge, replay, releases and bisect call it with an ABConfig):
    it never imports argparse."""
    tree = ast.parse((PACKAGE / "ab" / "engine.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "mlxbench.ab.config" in names and "argparse" not in names


def test_no_function_is_longer_than_a_screen():
    """A function a reader follows in one screen: at most 80 lines (a longer one has two jobs; split it)."""
    long = [
        f"{path.relative_to(ROOT)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 80
    ]
    assert not long, long


def test_every_name_taken_from_an_mlxbench_module_is_there():
    """`module.name` for every mlxbench module a module imports: a function moved to another module is found
    here, not by the first user of a tool that calls it there (calibrate_ab once called a moved run_process)."""
    missing, known = [], modules()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("mlxbench"):
                for a in n.names:
                    if f"{n.module}.{a.name}" in known:
                        aliases[a.asname or a.name] = f"{n.module}.{a.name}"
            elif isinstance(n, ast.Import):
                aliases |= {a.asname: a.name for a in n.names if a.name.startswith("mlxbench") and a.asname}
        for n in ast.walk(tree):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases:
                if not hasattr(importlib.import_module(aliases[n.value.id]), n.attr):
                    missing.append(f"{path.relative_to(ROOT)}:{n.lineno} {n.value.id}.{n.attr}")
    assert not missing, missing
