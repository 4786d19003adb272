"""The data plane tests that move packets need root (network namespaces, veth, nftables):
in CI they must run and fail loudly without it; elsewhere they skip saying why. The
`machine` fixture says so; the tests of pure parts run anywhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.dataplane import system
from tests.dataplane.device import clean_prefix
from tests.dataplane.support import Plane, start_plane


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the data plane tests need root (network namespaces, veth, nftables)"
    return system.missing_requirements()


@pytest.fixture(scope="session")
def machine() -> Iterator[None]:
    """Fail (CI) or skip (elsewhere) without root and tools; remove the leftovers of this
    suite's prefix before and after."""
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the data plane tests: {missing}")
        pytest.skip(missing)
    clean_prefix()
    yield
    clean_prefix()


@pytest.fixture(scope="module")
def plane(machine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    """One emulator with `--data-plane` for the module, reset before each test."""
    with start_plane(tmp_path_factory.mktemp("dp") / "emulator.db") as p:
        yield p


@pytest.fixture
def dp(plane: Plane) -> Iterator[Plane]:
    """The module's emulator, reset; devices made in the test are removed after it."""
    plane.cloud.reset()
    yield plane
    plane.remove_devices()


@pytest.fixture
def db_path(machine: None, tmp_path: Path) -> Path:
    """A fresh database path for a test's own emulator."""
    return tmp_path / "emulator.db"
