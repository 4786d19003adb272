"""The client after cancellation, write failures, failing callbacks and restarts."""

from __future__ import annotations

import asyncio

import pytest

from agent.at import commands
from agent.at.errors import ModemUnavailable
from agent.modem.client import Modem
from firmware_stubs.faults import Faults
from tests.agent.conftest import Bench

pytestmark = pytest.mark.asyncio


async def test_a_cancelled_command_does_not_wedge_the_client(bench: Bench) -> None:
    with bench.stub(Faults(delay=0.3)) as stub:
        async with await Modem.open(stub.device_path) as modem:
            waiting = asyncio.create_task(modem.command(commands.read("+CPIN")))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            response = await modem.command(commands.execute("+CSQ"))
    assert response.lines[0].startswith("+CSQ:")


async def test_a_failed_write_is_a_transport_error_and_the_client_stays_usable() -> None:
    async with await Modem.open("loop://", prepare=False) as modem:
        port = modem._transport._port  # type: ignore[union-attr]
        port.close()  # the port dies under the client, as a yanked USB modem does
        with pytest.raises(ModemUnavailable, match="cannot write"):
            await modem.command(commands.execute("+CSQ", timeout=0.5))
        assert modem._engine.pending is None


async def test_a_failing_urc_handler_loses_nothing(bench: Bench) -> None:
    bench.write_card(pin_enabled=False)

    def broken(line: str) -> None:
        raise RuntimeError("handler bug")

    with bench.stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            modem.on_urc(broken)
            await modem.command(commands.write("+CEREG", 1))
            await modem.command(commands.write("+CFUN", 0))
            await modem.command(commands.write("+CFUN", 1))
            for _ in range(20):  # registration URCs arrive around these answers
                response = await modem.command(commands.execute("+CSQ", timeout=2))
                assert response.result.ok


async def test_after_a_restart_the_line_is_set_up_again(bench: Bench) -> None:
    with bench.stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            stub.reboot()
            await asyncio.sleep(0.1)
            response = await modem.command(commands.read("+CMEE"))
    assert response.lines == ("+CMEE: 1",)
