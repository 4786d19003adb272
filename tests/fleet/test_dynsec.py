"""mosquitto mode without reloads: registering, deactivating and deleting a SIM change
one dynamic-security client at once, over `$CONTROL`, against a real mosquitto; nobody
else's connection is touched, no file is rewritten by the emulator, no SIGHUP is sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.backend import Backend
from emulator.models.cards import Card
from emulator.models.sims import Sim
from emulator.mosquitto_dynsec import DynsecControl
from tests.emulator.conftest import START
from tests.fleet.dynsec_support import Device, DynsecMosquitto


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    made = Backend(tmp_path / "emulator.db")
    made.clock.set(START, frozen=True)
    yield made
    made.close()


@pytest.fixture
def broker(tmp_path: Path, backend: Backend) -> Iterator[DynsecMosquitto]:
    mosquitto = DynsecMosquitto(tmp_path / "mosquitto", backend)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def control(backend: Backend, broker: DynsecMosquitto) -> Iterator[DynsecControl]:
    made = DynsecControl(backend, broker.host, broker.port)
    made.start()
    backend.sims.on_change(made.sync)
    yield made
    made.stop()


def _register(backend: Backend) -> tuple[Sim, str]:
    card: Card = backend.cards.manufacture()
    assert card.passcode is not None
    sim = backend.sims.register(iccid=card.iccid, passcode=card.passcode)
    return sim, backend.device_tokens.token_for(sim)


def _unchanged_config(broker: DynsecMosquitto) -> tuple[int | None, int]:
    return broker.pid, broker.config_path.stat().st_mtime_ns


def test_sims_registered_before_the_broker_started_can_log_in(
    backend: Backend, tmp_path: Path
) -> None:
    sim, token = _register(backend)
    mosquitto = DynsecMosquitto(tmp_path / "mosquitto", backend)
    with mosquitto, Device(mosquitto.port, sim.iccid, token) as device:
        assert device.wait_answer()
    with mosquitto, Device(mosquitto.port, sim.iccid, "not-the-token") as device:
        assert not device.wait_answer()


def test_registering_adds_one_client_at_once_without_a_reload(
    backend: Backend, broker: DynsecMosquitto, control: DynsecControl
) -> None:
    first, first_token = _register(backend)
    before = _unchanged_config(broker)
    with Device(broker.port, first.iccid, first_token) as bystander:
        assert bystander.wait_answer()
        sent = control.commands_sent
        second, token = _register(backend)
        assert control.commands_sent == sent + 1  # createClient for this SIM, nothing else
        with Device(broker.port, second.iccid, token) as device:
            assert device.wait_answer(), f"refused: {device.refused}"  # no retry needed
        assert not bystander.dropped.is_set()
    assert _unchanged_config(broker) == before


def test_a_device_keeps_to_its_own_topic_root(
    backend: Backend, broker: DynsecMosquitto, control: DynsecControl
) -> None:
    sim, token = _register(backend)
    other, other_token = _register(backend)
    with (
        Device(broker.port, sim.iccid, token) as device,
        Device(broker.port, other.iccid, other_token) as neighbour,
    ):
        assert device.wait_answer()
        assert neighbour.wait_answer()
        device.subscribe("simgate/v1/devices/#")  # granted, but only its own is delivered
        neighbour.subscribe(f"simgate/v1/devices/{other.iccid}/#")
        device.publish(f"simgate/v1/devices/{sim.iccid}/commands", b"own")
        device.publish(f"simgate/v1/devices/{other.iccid}/commands", b"foreign")
        neighbour.publish(f"simgate/v1/devices/{other.iccid}/state", b"theirs")
        create = {
            "commands": [{"command": "createClient", "username": "intruder", "password": "x"}]
        }
        device.publish("$CONTROL/dynamic-security/v1", json.dumps(create).encode())
        time.sleep(0.5)
        assert device.received == [f"simgate/v1/devices/{sim.iccid}/commands"]
        assert neighbour.received == [f"simgate/v1/devices/{other.iccid}/state"]
    with Device(broker.port, "intruder", "x") as intruder:
        assert not intruder.wait_answer()
    listed = control.run([{"command": "listClients", "count": -1}])[0]["data"]["clients"]
    assert "intruder" not in listed
    assert sim.iccid in listed


def test_deactivating_kicks_the_session_and_activating_lets_it_back(
    backend: Backend, broker: DynsecMosquitto, control: DynsecControl
) -> None:
    sim, token = _register(backend)
    bystander_sim, bystander_token = _register(backend)
    backend.sims.set_activated(sim.id, True)
    before = _unchanged_config(broker)
    with (
        Device(broker.port, sim.iccid, token) as device,
        Device(broker.port, bystander_sim.iccid, bystander_token) as bystander,
    ):
        assert device.wait_answer()
        assert bystander.wait_answer()
        backend.sims.set_activated(sim.id, False)
        assert device.dropped.wait(5), "the deactivated SIM's session was not kicked"
        assert not bystander.dropped.is_set()
    with Device(broker.port, sim.iccid, token) as again:
        assert not again.wait_answer()
    backend.sims.set_activated(sim.id, True)
    with Device(broker.port, sim.iccid, token) as back:
        assert back.wait_answer()
    assert _unchanged_config(broker) == before


def test_deleting_kicks_the_session_and_refuses_the_token(
    backend: Backend, broker: DynsecMosquitto, control: DynsecControl
) -> None:
    sim, token = _register(backend)
    before = _unchanged_config(broker)
    with Device(broker.port, sim.iccid, token) as device:
        assert device.wait_answer()
        backend.sims.delete(sim.id)
        assert device.dropped.wait(5), "the deleted SIM's session was not kicked"
    with Device(broker.port, sim.iccid, token) as again:
        assert not again.wait_answer()
    assert _unchanged_config(broker) == before


def test_a_restarted_controller_reconciles_what_changed_meanwhile(
    backend: Backend, broker: DynsecMosquitto
) -> None:
    kept, kept_token = _register(backend)
    control = DynsecControl(backend, broker.host, broker.port)
    control.start()
    control.stop()
    # changes while no controller listens: the broker still has `gone`, lacks `new`
    gone, gone_token = _register(backend)  # registered, then deleted, while offline
    backend.sims.delete(gone.id)
    new, new_token = _register(backend)
    control = DynsecControl(backend, broker.host, broker.port)
    control.start()
    try:
        with Device(broker.port, new.iccid, new_token) as device:
            assert device.wait_answer()
        with Device(broker.port, kept.iccid, kept_token) as device:
            assert device.wait_answer()
        with Device(broker.port, gone.iccid, gone_token) as device:
            assert not device.wait_answer()
    finally:
        control.stop()


def test_a_client_made_behind_the_controllers_back_gets_the_sims_token(
    backend: Backend, broker: DynsecMosquitto, control: DynsecControl
) -> None:
    card: Card = backend.cards.manufacture()
    assert card.passcode is not None
    # another controller (or a person with mosquitto_ctrl) made this ICCID's client first
    control.run([{"command": "createClient", "username": card.iccid, "password": "stale"}])
    sim = backend.sims.register(iccid=card.iccid, passcode=card.passcode)
    with Device(broker.port, sim.iccid, backend.device_tokens.token_for(sim)) as device:
        assert device.wait_answer()
    with Device(broker.port, sim.iccid, "stale") as impostor:
        assert not impostor.wait_answer()
