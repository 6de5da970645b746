"""Imports go one way, from the basics up to the commands, with no cycles (issue 20).

Every module's imports are read with `ast` (those inside functions and under
`TYPE_CHECKING` too, since they are imports all the same) and each part of
the package is given a layer. A module may import its own part and the parts
of lower layers; parts that share a layer (capture, the screen, the fakes)
do not import each other. Only the screen imports textual.
"""

from __future__ import annotations

import ast
from pathlib import Path

import apimon_tui

PACKAGE = "apimon_tui"
SOURCE = Path(apimon_tui.__file__).parent

# The flow of a call, bottom to top. A part's name is its folder (or, for the
# entry point, its top-level module); the package's own `__init__` is a basic.
LAYERS: list[set[str]] = [
    {"core", PACKAGE},              # the Call record, time, safe text, redaction, config, state
    {"formats"},                    # parsing lines into calls
    {"sources"},                    # reading bytes and lines: files, pipes, OTLP, Prometheus
    {"costs"},                      # pricing, provider usage polls, budget
    {"store"},                      # aggregates of the calls
    {"ingest"},                     # the engine: sources -> parsers -> store; the report summary
    {"alerts"},                     # rules over the store and the budget
    {"capture", "tui", "fakes"},    # the httpx hook, the screen, stand-ins for tests and the demo
    {"commands"},                   # report, usage, check, serve, monitor, demo, init, config
    {"cli"},                        # the entry point: the console script's main
    {"__main__"},                   # `python -m apimon_tui`
]
TEXTUAL_ALLOWED = {"tui"}


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> list[tuple[str, int]]:
    """The dotted names a module imports, with line numbers: `from a import b` gives `a.b`."""
    is_package = path.name == "__init__.py"
    here = module if is_package else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return names


def import_edges(modules: dict[str, Path], package: str) -> list[tuple[str, str, int]]:
    """(importer, imported module, line) for every import of one of the package's modules."""
    edges = []
    for module, path in modules.items():
        for name, line in imported_names(module, path):
            target = name
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith(package) and target != module:
                edges.append((module, target, line))
    return list(dict.fromkeys(edges))  # `from a import b, c` is one edge


def part_of(module: str, package: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else package


def layer_of(part: str) -> int | None:
    return next((rank for rank, parts in enumerate(LAYERS) if part in parts), None)


def direction_problems(modules: dict[str, Path], package: str) -> list[str]:
    """Imports of a higher layer or of a sibling part, and modules in no layer."""
    problems = [f"{m}: its part {part_of(m, package)!r} has no layer in LAYERS"
                for m in modules if layer_of(part_of(m, package)) is None]
    for importer, imported, line in import_edges(modules, package):
        here, there = part_of(importer, package), part_of(imported, package)
        if here == there or layer_of(here) is None or layer_of(there) is None:
            continue
        if layer_of(there) >= layer_of(here):
            problems.append(f"{importer} -> {imported} ({modules[importer].name}:{line}): "
                            f"{here} may not import {there}, which is not below it")
    return problems


def import_cycles(modules: dict[str, Path], package: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's components)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for importer, imported, _ in import_edges(modules, package):
        graph[importer].add(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def cycle_edges(cycle: list[str], modules: dict[str, Path], package: str) -> list[str]:
    members = set(cycle)
    return [f"{a} -> {b} ({modules[a].name}:{line})"
            for a, b, line in import_edges(modules, package) if a in members and b in members]


def textual_imports(modules: dict[str, Path], package: str) -> list[str]:
    return [f"{module} ({path.name}:{line}) imports {name}"
            for module, path in modules.items() if part_of(module, package) not in TEXTUAL_ALLOWED
            for name, line in imported_names(module, path) if name.split(".")[0] == "textual"]


def test_imports_go_down_the_layers():
    modules = module_files(SOURCE, PACKAGE)
    assert "apimon_tui.ingest.engine" in modules and "apimon_tui.core.model" in modules
    problems = direction_problems(modules, PACKAGE)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_no_import_cycles():
    modules = module_files(SOURCE, PACKAGE)
    cycles = import_cycles(modules, PACKAGE)
    report = ["cycle: " + "; ".join(cycle_edges(cycle, modules, PACKAGE)) for cycle in cycles]
    assert not cycles, "\n".join(report)


def test_only_the_screen_imports_textual():
    modules = module_files(SOURCE, PACKAGE)
    app = "apimon_tui.tui.app"
    assert any(name.startswith("textual.") for name, _ in imported_names(app, modules[app]))
    problems = textual_imports(modules, PACKAGE)
    assert not problems, "\n".join(problems)


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "apimon_tui" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "apimon_tui"


def test_the_checks_name_an_upward_import_a_cycle_and_textual(tmp_path):
    """The checks themselves, on a small package with one of each fault."""
    root = write_package(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/model.py": "def f():\n    from apimon_tui.store import metrics\n",
        "store/__init__.py": "",
        "store/metrics.py": "from . import aggregate\nimport textual.app\n",
        "store/aggregate.py": "from apimon_tui.store.metrics import X\n",
        "tui/__init__.py": "import textual\n",
        "sidecar.py": "",
    })
    modules = module_files(root, PACKAGE)

    assert direction_problems(modules, PACKAGE) == [
        "apimon_tui.sidecar: its part 'sidecar' has no layer in LAYERS",
        "apimon_tui.core.model -> apimon_tui.store.metrics (model.py:2): core may not import store, "
        "which is not below it",
    ]
    cycles = import_cycles(modules, PACKAGE)
    assert cycles == [["apimon_tui.store.aggregate", "apimon_tui.store.metrics"]]
    assert cycle_edges(cycles[0], modules, PACKAGE) == [
        "apimon_tui.store.aggregate -> apimon_tui.store.metrics (aggregate.py:1)",
        "apimon_tui.store.metrics -> apimon_tui.store.aggregate (metrics.py:1)",
    ]
    assert textual_imports(modules, PACKAGE) == ["apimon_tui.store.metrics (metrics.py:2) imports textual.app"]
