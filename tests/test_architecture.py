"""The shape of the code (issue 16): no import cycle, counting the imports inside functions;
no module over 800 lines; no function over 80 lines but the documented coordinators; no
import of another module's underscore name.

Parametrised by package, so ``pytest tests/test_architecture.py -k report`` checks one.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 80
#: Functions allowed over MAX_FUNCTION_LINES: coordinators that read top to bottom as a list of
#: named steps (each step a call), documented as such in their docstring and in
#: docs/architecture.md. Keep this list short.
COORDINATORS: dict[str, str] = {
    "flestimate.report._pipeline.estimate_prevalence": (
        "the main job's public entry point: 28 keywords and their numpydoc docstring (about "
        "100 lines) alone pass 80; the body is its steps in order, 25 lines of calls"),
    "flestimate.aggregate._totals.aggregate": (
        "public entry point: 16 keywords and their numpydoc docstring (with the variance "
        "formulas) take 100 lines; the body is its named steps in order, 34 lines of calls"),
    "flestimate.aggregate._surveys.from_reports": (
        "public entry point: its signature and numpydoc docstring (with the pooled-share "
        "variance) take 90 lines; the body is its named steps in order, 16 lines of calls"),
    "flestimate.nsum._estimate.scale_up": (
        "public entry point: 18 keywords and their numpydoc docstring (both estimators' "
        "formulas, the variance) take 98 lines; the body is its named steps, 15 lines"),
    "flestimate.mse._fit.fit": (
        "public entry point: 13 keywords and their numpydoc docstring (the selection rules, "
        "intervals and formulas) take 123 lines; the body is its named steps, 18 lines"),
}
#: Optional dependencies, imported lazily where they are used: not part of the graph.
OPTIONAL = ("dask", "distributed", "matplotlib", "openpyxl", "pyarrow", "tqdm")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / "flestimate").rglob("*.py"))}
PACKAGES = sorted({m.split(".")[1] if "." in m else "flestimate" for m in MODULES})


@functools.cache
def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"))


def _package_of(module: str) -> str:
    return module.split(".")[1] if "." in module else "flestimate"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import executed at run time (module level or inside a function), leaving out
    the blocks under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """(imported module of this project, imported name or '') for one import statement."""
    if isinstance(node, ast.Import):
        return [(a.name, "") for a in node.names if a.name in MODULES]
    is_package = MODULES[module].name == "__init__.py"
    if node.level:
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    out = []
    for a in node.names:
        sub = f"{source}.{a.name}"
        if sub in MODULES:
            out.append((sub, ""))
        elif source in MODULES:
            out.append((source, a.name))
    return out


@functools.cache
def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for node in _runtime_imports(_tree(module)):
            for target, _ in _targets(module, node):
                if target != module:
                    graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    """Counting the imports inside functions; a package's ``__init__`` importing its own
    submodules and those importing each other both count."""
    bad = [c for c in _cycles(_graph()) if any(_package_of(m) == package for m in c)]
    assert bad == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_800_lines(package: str) -> None:
    long = {m: n for m, p in MODULES.items() if _package_of(m) == package
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_over_80_lines(package: str) -> None:
    long = {}
    for module in MODULES:
        if _package_of(module) != package:
            continue
        tree = _tree(module)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                name = f"{module}.{node.name}"
                if n > MAX_FUNCTION_LINES and name not in COORDINATORS:
                    long[name] = n
    assert long == {}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_underscore_name_imported_from_another_module(package: str) -> None:
    """A package may import its own private submodules (``from flestimate.report._html import
    render``), never a private name (``_thing``) defined in another module."""
    bad = []
    for module in MODULES:
        if _package_of(module) != package:
            continue
        for node in _runtime_imports(_tree(module)):
            for target, name in _targets(module, node):
                if name.startswith("_") and not name.startswith("__"):
                    bad.append(f"{module}: {name} from {target}")
    assert bad == []


def test_coordinators_are_documented_as_such() -> None:
    doc = (SRC.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in COORDINATORS:
        assert f"`{name.rsplit('.', 1)[1]}`" in doc, name


def test_import_loads_no_heavy_optional_module() -> None:
    """``import flestimate`` (and so ``flestimate --help``) loads neither scipy's sparse,
    special, stats or optimize modules nor matplotlib or dask: they load at first use
    (issue 16: import under 0.5 s above pandas, ``--help`` under 1 s)."""
    import subprocess
    import sys

    code = ("import sys, flestimate, flestimate.cli; print(sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('matplotlib', 'dask') or m in ('scipy.sparse', "
            "'scipy.special', 'scipy.stats', 'scipy.optimize')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
