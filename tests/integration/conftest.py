"""One live emulator per test module; every test starts from a reset emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator import live
from tests.integration.cloud import Cloud


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`simgate emulator serve` on 127.0.0.1 (free ports); its announced URLs."""
    with live.serving(tmp_path_factory.mktemp("emulator") / "emulator.db") as info:
        yield info


@pytest.fixture
def cloud(
    emulator: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cloud]:
    """Clients on the module's emulator, reset (faults cleared) before the test."""
    monkeypatch.setenv("SIMGATE_STATE_DIR", str(tmp_path / "state"))
    cloud = Cloud(emulator)
    cloud.reset()
    try:
        yield cloud
    finally:
        cloud.close()
