"""`internet on|off|status` against the stub over a real pty: the modem's real state."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.at import commands
from agent.modem.client import Modem
from agent.net.data_connection import ConnectionStatus, DataConnection, validate_apn
from agent.net.errors import InvalidApn, NetSaidNo
from firmware_stubs import AttachOutcome, StubModem
from tests.agent.net.conftest import StubFactory, carrier

pytestmark = pytest.mark.asyncio

APN = "iot.example"
UP = ConnectionStatus(True, 1, APN, "10.64.0.2")
DOWN = ConnectionStatus(False, 1, APN, None)


def wait_for_hang_up(stub: StubModem) -> None:
    """The stub sees EIO on the pty master once the port is closed: the hang-up."""
    deadline = time.monotonic() + 2.0
    while stub.interpreter.data_mode:
        assert time.monotonic() < deadline, "the stub never saw the port close"
        time.sleep(0.01)


def contexts(stub: StubModem) -> dict[int, tuple[str, bool]]:
    return {cid: (c.apn, c.active) for cid, c in stub.interpreter.state.contexts.items()}


async def test_on_defines_activates_and_reports_the_address(make_stub: StubFactory) -> None:
    with make_stub(register_delay=0.2) as stub:
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            assert await connection.status() == ConnectionStatus(False, None, None, None)
            assert await connection.connect(APN, register_timeout=5.0) == UP
            assert await connection.status() == UP
            assert await connection.connect(APN) == UP  # already up: nothing changes
        assert contexts(stub) == {1: (APN, True)}


async def test_status_follows_the_modem_not_the_last_command(make_stub: StubFactory) -> None:
    with make_stub(register_delay=0.05) as stub:
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            await connection.connect(APN, register_timeout=5.0)
            carrier(stub).outcome = AttachOutcome.DENIED  # the network drops the SIM
            stub.network_changed()
            assert await connection.status() == DOWN
            carrier(stub).outcome = AttachOutcome.HOME
            stub.network_changed()
            await connection.connect(APN, register_timeout=5.0)
            stub.reboot()  # a reboot drops every context
            await asyncio.sleep(0.05)
            assert await connection.status() == DOWN


async def test_off_deactivates_and_keeps_the_definition(make_stub: StubFactory) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            await connection.connect(APN)
            assert await connection.disconnect() == DOWN
            assert await connection.disconnect() == DOWN  # nothing active: nothing sent
        assert contexts(stub) == {1: (APN, False)}


async def test_on_attaches_a_detached_modem(make_stub: StubFactory) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            assert (await modem.command(commands.write("+CGATT", 0))).result.ok
            assert await DataConnection(modem).connect(APN) == UP
        assert stub.interpreter.state.ps_attach_wanted


async def test_on_reuses_a_context_that_has_the_apn(make_stub: StubFactory) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            define = commands.write("+CGDCONT", 3, commands.Quoted("IP"), commands.Quoted(APN))
            assert (await modem.command(define)).result.ok
            status = await DataConnection(modem).connect(APN)
        assert status == ConnectionStatus(True, 3, APN, "10.64.0.4")
        assert contexts(stub) == {1: ("", False), 3: (APN, True)}


async def test_on_with_another_apn_redefines_the_active_context(make_stub: StubFactory) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            await connection.connect(APN)
            status = await connection.connect("other.example")
        assert status == ConnectionStatus(True, 1, "other.example", "10.64.0.2")


async def test_on_refuses_a_sim_that_is_not_ready_and_sends_nothing(
    make_stub: StubFactory,
) -> None:
    with make_stub(pin_enabled=True) as stub:
        async with await Modem.open(stub.device_path) as modem:
            with pytest.raises(NetSaidNo, match=r"not ready \(state 'SIM PIN'\).*sim unlock"):
                await DataConnection(modem).connect(APN)
        assert contexts(stub) == {1: ("", False)}


async def test_on_gives_up_when_not_registered(make_stub: StubFactory) -> None:
    with make_stub(outcome=AttachOutcome.DENIED) as stub:
        async with await Modem.open(stub.device_path) as modem:
            started = time.monotonic()
            with pytest.raises(NetSaidNo, match=r"registration: denied"):
                await DataConnection(modem).connect(APN, register_timeout=0.3)
            assert time.monotonic() - started < 3.0
        assert contexts(stub) == {1: ("", False)}


@pytest.mark.parametrize(
    "apn",
    ['iot"example', "iot.example\r\nAT+CFUN=0", "iot example", "", "a..b", "-iot", "x" * 101],
)
async def test_bad_apns_are_refused_before_anything_is_sent(
    make_stub: StubFactory, apn: str
) -> None:
    with pytest.raises(InvalidApn):
        validate_apn(apn)
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            with pytest.raises(InvalidApn):
                await DataConnection(modem).connect(apn)
        assert contexts(stub) == {1: ("", False)}


async def test_good_apns() -> None:
    for apn in ("sakura", "iot.example.com", "soracom.io", "mopera.net", "my_apn-1.mnc010"):
        assert validate_apn(apn) == apn


async def test_ppp_session_hung_up_by_closing_the_port_then_torn_down(
    make_stub: StubFactory,
) -> None:
    with make_stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            define = commands.write("+CGDCONT", 1, commands.Quoted("IP"), commands.Quoted(APN))
            assert (await modem.command(define)).result.ok
            answer = await modem.command(commands.dial("*99***1#"))
            assert answer.result.ok
            assert modem.in_data_mode
        await asyncio.to_thread(wait_for_hang_up, stub)
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            assert await connection.status() == UP  # the context outlives the PPP session
            assert await connection.disconnect() == DOWN
