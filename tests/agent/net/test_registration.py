"""Registration, operator and signal: consolidation rules, and the stub over a real pty."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.at import commands
from agent.at.responses import (
    AccessTechnology,
    Registration,
    RegistrationCommand,
    RegistrationStatus,
)
from agent.at.responses import parse_registration_read as parse_read
from agent.modem.client import Modem
from agent.net.errors import NetSaidNo
from agent.net.registration import RegistrationManager, consolidate, rat_name
from firmware_stubs import AttachOutcome
from tests.agent.net.conftest import StubFactory, carrier

S = RegistrationStatus


def reg(command: RegistrationCommand, stat: RegistrationStatus) -> Registration:
    return Registration(command, stat)


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ([reg("+CEREG", S.HOME), reg("+CREG", S.NOT_REGISTERED)], ("+CEREG", "home")),
        ([reg("+CEREG", S.NOT_REGISTERED), reg("+CREG", S.ROAMING)], ("+CREG", "roaming")),
        ([reg("+CEREG", S.SEARCHING), reg("+CGREG", S.HOME)], ("+CGREG", "home")),
        ([reg("+CEREG", S.DENIED), reg("+CREG", S.SEARCHING)], ("+CREG", "searching")),
        ([reg("+CEREG", S.NOT_REGISTERED), reg("+CREG", S.DENIED)], ("+CREG", "denied")),
        ([reg("+CEREG", S.EMERGENCY_ONLY), reg("+CREG", S.UNKNOWN)], ("+CEREG", "not_registered")),
        ([reg("+CREG", S.HOME_SMS_ONLY)], ("+CREG", "home")),
    ],
)
def test_consolidation_prefers_registered_then_searching_then_denied(
    found: list[Registration], expected: tuple[str, str]
) -> None:
    winner = consolidate(found)
    assert winner is not None
    assert (winner.command, winner.cli_name) == expected


def test_consolidation_of_nothing_is_none() -> None:
    assert consolidate([]) is None


def test_rat_names() -> None:
    assert rat_name(AccessTechnology.E_UTRAN) == "lte"
    assert rat_name(AccessTechnology.UTRAN_HSDPA) == "umts"
    assert rat_name(AccessTechnology.GSM_EGPRS) == "gsm"
    assert rat_name(AccessTechnology.E_UTRAN_NB_S1) == "nbiot"
    assert rat_name(None) is None


@pytest.mark.asyncio
async def test_registered_home_on_lte_with_operator_and_signal(make_stub: StubFactory) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            status = await RegistrationManager(modem).status()
    assert status.to_json() == {
        "registration": "home",
        "rat": "lte",
        "operator": "NTT DOCOMO",
        "rssi_dbm": -73,
    }


@pytest.mark.asyncio
async def test_operator_is_read_in_long_form_even_if_numeric_was_set(
    make_stub: StubFactory,
) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            assert (await modem.command(commands.write("+COPS", 3, 2))).result.ok
            status = await RegistrationManager(modem).status()
    assert status.operator == "NTT DOCOMO"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("outcome", "word"), [(AttachOutcome.ROAMING, "roaming"), (AttachOutcome.DENIED, "denied")]
)
async def test_carrier_decides_roaming_or_denied(
    make_stub: StubFactory, outcome: AttachOutcome, word: str
) -> None:
    with make_stub(outcome=outcome) as stub:
        async with await Modem.open(stub.device_path) as modem:
            status = await RegistrationManager(modem).status()
    assert status.registration == word
    assert status.registered is (word == "roaming")
    if word == "denied":
        assert (status.rat, status.operator) == (None, None)


@pytest.mark.asyncio
async def test_locked_sim_is_not_registered_and_searching_while_the_search_lasts(
    make_stub: StubFactory,
) -> None:
    with make_stub(pin_enabled=True) as stub:
        async with await Modem.open(stub.device_path) as modem:
            status = await RegistrationManager(modem).status()
    assert status.registration == "not_registered"
    assert status.rssi_dbm == -73
    with make_stub(register_delay=30.0) as stub:
        async with await Modem.open(stub.device_path) as modem:
            assert (await RegistrationManager(modem).status()).registration == "searching"


@pytest.mark.asyncio
async def test_wait_is_woken_by_the_urc_and_restores_the_urc_setting(
    make_stub: StubFactory,
) -> None:
    with make_stub(register_delay=0.3) as stub:
        async with await Modem.open(stub.device_path) as modem:
            manager = RegistrationManager(modem, poll_seconds=30.0)
            started = time.monotonic()
            registration = await manager.wait_until_registered(10.0)
            waited = time.monotonic() - started
            cereg = await modem.command(commands.read("+CEREG"))
    assert registration.cli_name == "home"
    assert 0.2 < waited < 2.0  # the 30 s poll never came: a URC woke the wait
    assert parse_read(cereg.lines, "+CEREG").n == 0


@pytest.mark.asyncio
async def test_wait_gives_up_naming_the_state(make_stub: StubFactory) -> None:
    with make_stub(outcome=AttachOutcome.DENIED) as stub:
        async with await Modem.open(stub.device_path) as modem:
            manager = RegistrationManager(modem, poll_seconds=0.1)
            with pytest.raises(NetSaidNo, match=r"registration: denied\) after waiting 0.3 s"):
                await manager.wait_until_registered(0.3)


@pytest.mark.asyncio
async def test_a_live_network_change_shows_in_the_next_status(make_stub: StubFactory) -> None:
    with make_stub(register_delay=0.2) as stub:
        async with await Modem.open(stub.device_path) as modem:
            manager = RegistrationManager(modem, poll_seconds=0.05)
            await manager.wait_until_registered(5.0)
            carrier(stub).outcome = AttachOutcome.DENIED
            stub.network_changed()
            assert (await manager.status()).registration == "searching"
            await asyncio.sleep(0.3)
            assert (await manager.status()).registration == "denied"
            carrier(stub).outcome = AttachOutcome.HOME
            stub.network_changed()
            assert (await manager.wait_until_registered(5.0)).cli_name == "home"
    assert len(carrier(stub).attempts) == 3
