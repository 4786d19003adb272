"""Every third-party import is declared where the importing code is installed.

A device installs the base dependencies only (`pip install simgate`) and the cloud adds
the `emulator` extra; tests install everything, so a missing declaration never shows in a
test run. This reads the imports of every module and checks them against pyproject.toml.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
OURS = {
    "agent",
    "emulator",
    "firmware_stubs",
    "simgate",
    "simgate_common",
    "tests",
    "hil_tests",
    "benchmarks",
}
# Imported only inside a guard that reports the package missing (optional peers).
OPTIONAL = {"gsmmodem"}


def declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [Requirement(r).name for r in project["dependencies"]]
    for extra in extras:
        names += [Requirement(r).name for r in project["optional-dependencies"][extra]]
    return {n.lower().replace("_", "-") for n in names}


def imported_roots(package: str) -> set[str]:
    roots: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
    return roots - OURS - set(sys.stdlib_module_names) - OPTIONAL - {"__future__"}


@pytest.mark.parametrize(
    ("package", "extras"),
    [
        ("simgate_common", ()),
        ("agent", ()),
        ("firmware_stubs", ()),
        ("simgate", ("emulator",)),  # the demo and the dispatcher run the cloud too
        ("emulator", ("emulator",)),
    ],
)
def test_third_party_imports_are_declared(package: str, extras: tuple[str, ...]) -> None:
    distributions = packages_distributions()
    allowed = declared(*extras)
    missing = {}
    for root in sorted(imported_roots(package)):
        names = {d.lower().replace("_", "-") for d in distributions.get(root, [root])}
        if not names & allowed:
            missing[root] = sorted(names)
    assert not missing, f"{package} imports what its install does not declare: {missing}"


def test_the_ground_floor_needs_the_standard_library_only() -> None:
    assert imported_roots("simgate_common") == set()


def test_the_check_sees_a_missing_declaration() -> None:
    assert "httpx" not in declared()  # the base install: httpx is the emulator's
    assert "httpx" in imported_roots("emulator")
