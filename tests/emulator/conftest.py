"""Fixtures for the emulator's tests: a Backend on a temp database with a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import pytest

from emulator.backend import Backend
from emulator.clock import JST
from emulator.models.cards import Card
from emulator.models.gateways import Gateway
from emulator.models.sims import Sim
from emulator.models.switches import Switch

START = datetime(2026, 3, 10, 9, 0, tzinfo=JST)
Kind = Literal["embedded", "mosquitto"]
KINDS: tuple[Kind, ...] = ("embedded", "mosquitto")
IMEI = "353456789012345"
OTHER_IMEI = "353456789099999"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    """The MQTT broker: every test using `kind` runs on the embedded one and on mosquitto."""
    value: Kind = request.param
    return value


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    """The store's engine: every test using `db_target` or `backend` runs on both."""
    name: str = request.param
    return name


@pytest.fixture
def db_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """A fresh, empty store: an SQLite file, or a PostgreSQL URL on an empty schema of the
    test server (started once per session, by `tests.postgres`)."""
    if engine == "sqlite":
        return tmp_path / "emulator.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def backend(db_target: Path | str) -> Iterator[Backend]:
    """A fresh emulator backend whose clock stands at 2026-03-10 09:00 JST."""
    b = Backend(db_target)
    b.clock.set(START, frozen=True)
    yield b
    b.close()


def stored_bytes(backend: Backend) -> bytes:
    """Everything the store holds, as bytes: the SQLite file (and its WAL), or a dump of
    every table on PostgreSQL; for checks that a secret was never stored."""
    if not backend.store.postgres:
        path = Path(backend.store.path)
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    with backend.store.transaction() as db:
        tables = [
            r[0]
            for r in db.all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        dump = [db.all(f"SELECT * FROM {table}") for table in tables]  # noqa: S608
    assert "sims" in tables
    return repr([[tuple(row) for row in rows] for rows in dump]).encode()


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

# A real PostgreSQL for the second engine (fails instead of skipping when CI=true).
from tests.postgres import postgres_server, postgres_url  # noqa: E402

__all__ = ["mosquitto", "mosquitto_factory", "postgres_server", "postgres_url"]
