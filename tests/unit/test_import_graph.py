"""No two modules of ``cti`` import each other, directly or round a loop.

The graph is read from the source (``ast``), so it counts every import statement: the ones at
the top, the ones inside functions (a loop through a lazy import is still a loop: the arrows
say which layer may know which), and the ones under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "cti"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every module under ``package``."""
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_cti_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    assert "cti.store.db" in graph["cti.cli"]  # and reads imports (a lazy one elsewhere too)
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # a loop through a function-level import still counts
        (
            {"a.py": "import pkg.b\n", "b.py": "def f():\n    from pkg import a\n"},
            [["pkg.a", "pkg.b"]],
        ),
        # relative imports resolve against the package
        (
            {
                "a.py": "from . import b\n",
                "b.py": "from .c import x\n",
                "c.py": "from .a import y\n",
            },
            [["pkg.a", "pkg.b", "pkg.c"]],
        ),
        # a chain that runs one way is fine
        (
            {
                "a.py": "from pkg.b import x\n",
                "b.py": "from pkg.c import y\n",
                "c.py": "import os\n",
            },
            [],
        ),
    ],
)
def test_cycle_finder_on_made_up_packages(tmp_path, sources, expected):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in sources.items():
        (pkg / name).write_text(text)
    assert cycles(import_graph(tmp_path, "pkg")) == expected
