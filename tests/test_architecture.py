"""The floors of docs/architecture.md, checked on the imports as they stand.

- `simgate_common` (the ground floor) imports no project package;
- `agent`, `emulator` and `firmware_stubs` stand on it and never import each other (the
  simulated modem is the oracle the agent is tested against: it states its own facts);
- `simgate` (the top floor: dispatcher and demo) may import them all, and nothing
  imports it back;
- no import circle between modules, type-only imports (under `TYPE_CHECKING`) aside;
- no module over 600 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("simgate_common", "agent", "emulator", "firmware_stubs", "simgate")
MAX_LINES = 600

# package -> the project packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "simgate_common": set(),
    "agent": {"simgate_common"},
    "emulator": {"simgate_common"},
    "firmware_stubs": {"simgate_common"},
    "simgate": {"simgate_common", "agent", "emulator", "firmware_stubs"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (imports for annotations only)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports at run time (resolved to known modules)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets.add(stem)
            targets.update(f"{stem}.{alias.name}" for alias in node.names)
    resolved = set()
    for target in targets:
        # `from a.b import c` names module a.b.c when it exists, else a.b itself
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_floor_imports_only_what_it_stands_on(package: str) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if top(name) == package
        for target in targets
        if top(target) != package and top(target) not in ALLOWED[package]
    )
    assert not wrong, "\n".join(wrong)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `edges`, as the list of modules around it, or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(edges, white)
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        trail.append(node)
        for nxt in sorted(edges.get(node, ())):
            if colour.get(nxt, black) == grey:
                return [*trail[trail.index(nxt) :], nxt]
            if colour.get(nxt) == white and (cycle := visit(nxt)):
                return cycle
        trail.pop()
        colour[node] = black
        return None

    for node in sorted(edges):
        if colour[node] == white and (cycle := visit(node)):
            return cycle
    return None


def _without_parent_links(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exporting its own modules is not a circle between them.
    return {
        name: {t for t in targets if not t.startswith(name + ".")}
        for name, targets in edges.items()
    }


def test_no_import_circle_between_modules() -> None:
    cycle = find_cycle(_without_parent_links(graph()))
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_import_circle_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for name, targets in graph().items():
        edges.setdefault(top(name), set()).update(top(t) for t in targets if top(t) != top(name))
    cycle = find_cycle(edges)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_circle_finder_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_type_only_imports_are_not_counted(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import b\nimport c\n"
    )
    assert imports_of("m", source, {"b": source, "c": source, "m": source}) == {"c"}


@pytest.mark.parametrize("package", [*PACKAGES, "tests", "hil_tests", "benchmarks"])
def test_no_module_over_600_lines(package: str) -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
