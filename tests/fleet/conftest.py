"""Fixtures for fleet tests: one live emulator per module (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator import live
from tests.mqtt_broker import mosquitto_factory

__all__ = ["mosquitto_factory"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`simgate emulator serve` (embedded broker) with the test credentials."""
    db: Path = tmp_path_factory.mktemp("fleet") / "emulator.db"
    with live.serving(db) as info:
        yield info


@pytest.fixture
def api(server: dict[str, Any]) -> Iterator[httpx.Client]:
    """An HTTP client on the live emulator, with its credentials."""
    with httpx.Client(
        base_url=server["http"], auth=(live.TOKEN, live.SECRET), timeout=60
    ) as client:
        yield client
