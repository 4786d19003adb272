"""Fixtures for the emulator's tests: a Backend on a temp database with a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from emulator.backend import Backend
from emulator.clock import JST
from emulator.models.cards import Card
from emulator.models.gateways import Gateway
from emulator.models.sims import Sim
from emulator.models.switches import Switch

START = datetime(2026, 3, 10, 9, 0, tzinfo=JST)
IMEI = "353456789012345"
OTHER_IMEI = "353456789099999"


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    """A fresh emulator backend whose clock stands at 2026-03-10 09:00 JST."""
    b = Backend(tmp_path / "emulator.db")
    b.clock.set(START, frozen=True)
    yield b
    b.close()


def register(backend: Backend, card: Card | None = None) -> Sim:
    """Manufacture a card and register it with its PASSCODE."""
    card = card or backend.cards.manufacture()
    assert card.passcode is not None
    return backend.sims.register(iccid=card.iccid, passcode=card.passcode, name="test")


@dataclass
class Setup:
    """A SIM on a gateway on a switch, all in is1a."""

    sim: Sim
    gateway: Gateway
    switch: Switch


def usable(
    backend: Backend, *, switch: bool = True, power: bool = True, internet: bool = False
) -> Setup:
    """A registered, activated SIM on a gateway with the requested connections."""
    sim = register(backend)
    backend.sims.set_activated(sim.id, True)
    gw = backend.gateways.create("is1a", name="gw", internet_enabled=internet)
    sw = backend.switches.create("is1a", name="sw")
    backend.gateways.add_sim("is1a", gw.id, sim.id)
    if switch:
        backend.gateways.connect_switch("is1a", gw.id, sw.id)
    if power:
        backend.gateways.set_power("is1a", gw.id, True)
    return Setup(backend.sims.get(sim.id), backend.gateways.get("is1a", gw.id), sw)


# A real mosquitto for the MQTT ingest tests (fails instead of skipping when CI=true).
from tests.mqtt_broker import mosquitto, mosquitto_factory  # noqa: E402

__all__ = ["mosquitto", "mosquitto_factory"]
