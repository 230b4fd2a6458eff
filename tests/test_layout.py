"""The package layout: wings that import only downwards, and no import cycle between files.

Every import of a ``transgan`` module counts, at module level or inside a function: a lazy
import that closes a loop is still a loop a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "transgan"
# What each wing may import from the others (the shared top-level modules are open to all).
LOWER = {
    "models": set(),
    "presets": {"models"},
    "data": set(),
    "interop": {"models", "presets"},
    "evaluation": {"models", "presets", "data"},
    "training": {"models", "presets", "data", "evaluation"},
    "sharing": {"models", "presets", "evaluation"},
    "cli": {"models", "presets", "data", "evaluation", "interop", "training", "sharing"},
}
TOP_LEVEL_MAX = 10


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The file a dotted name lives in (a module, or a name inside a module/package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("transgan"):
                resolved = resolve(target)
                if resolved and resolved != module:
                    found.add(resolved)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LOWER) else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one file (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_files() -> None:
    # a package's __init__ re-exporting its own modules is not a cycle of files
    graph = {
        m: {t for t in targets if not (MODULES[t].name == "__init__.py" and m.startswith(t))}
        for m, targets in GRAPH.items()
    }
    assert cycles(graph) == []


@pytest.mark.parametrize("low", sorted(LOWER))
def test_wings_import_only_downwards(low: str) -> None:
    wrong = []
    for module, targets in GRAPH.items():
        if wing(module) != low:
            continue
        for target in targets:
            other = wing(target)
            if other not in (None, low) and other not in LOWER[low]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_few_top_level_modules() -> None:
    top = sorted(p.stem for p in SRC.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= TOP_LEVEL_MAX, top
