"""No import cycles among tagpilot's modules, and `tagpilot.golang` stays a leaf.

The import graph is built with `ast` from module-level imports only (imports inside functions run
late and are fine; `if TYPE_CHECKING:` blocks never run). `from pkg import sub` where `sub` is a
submodule depends on `pkg.sub`, not on `pkg/__init__.py`: Python only needs the submodule then,
so a package's own modules may import their siblings that way.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tagpilot

ROOT = Path(tagpilot.__file__).parent


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not in functions, not under TYPE_CHECKING."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):  # class bodies run at import time
            yield from _module_level_imports(node.body)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _dependencies(module: str, tree: ast.Module) -> set[str]:
    deps: set[str] = set()
    for node in _module_level_imports(tree.body):
        if isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names if alias.name in MODULES)
            continue
        target = _resolve(module, node)
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if sub in MODULES:
                deps.add(sub)
            elif target in MODULES:
                deps.add(target)  # an attribute of the package or module itself
    deps.discard(module)
    return deps


def import_graph() -> dict[str, set[str]]:
    return {name: _dependencies(name, ast.parse(path.read_text(), str(path))) for name, path in MODULES.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return cycles


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (module-level imports): " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_golang_imports_nothing_but_errors_anywhere() -> None:
    """golang.py is the one home of Go's encodings; gofmt imports it, never the reverse (issue 9).

    Checked at every level, functions included: a late import would hide the same cycle.
    """
    tree = ast.parse(MODULES["tagpilot.golang"].read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert {m for m in imported if m and m.startswith("tagpilot")} <= {"tagpilot.errors"}


@pytest.mark.parametrize("module", ["tagpilot.golang", "tagpilot.gotemplate.gofmt", "tagpilot.expr.govaluate"])
def test_modules_import_fresh(module: str) -> None:
    """Each module imports on its own in a fresh interpreter (a cycle would fail on some order)."""
    importlib.import_module(module)  # the cheap check in this process
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=60)
