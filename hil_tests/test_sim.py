"""SIM behaviour every supported modem must show; one body for the stub and the bench."""

from __future__ import annotations

import asyncio

import pytest

from agent.at import commands
from agent.dialects.detect import identify
from agent.modem.client import Modem
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimRefused, SimSaidNo
from agent.state_dir import state_dir
from hil_tests.conftest import Target

pytestmark = pytest.mark.asyncio

WRONG_PIN = "0000"


async def open_sim(target: Target) -> tuple[Modem, SimManager]:
    modem = await Modem.open(target.port)
    dialect = (await identify(modem)).dialect  # as the agent would on a bench
    return modem, SimManager(modem, FailedPinMemory(state_dir()), dialect)


async def locked_sim(target: Target) -> tuple[Modem, SimManager]:
    """The SIM waiting for its PIN: an unlocked card is power-cycled by a modem reset.

    `AT+CFUN=1,1` restarts the module; a USB modem drops off the bus meanwhile, so the
    port is reopened until the modem answers again.
    """
    modem, sim = await open_sim(target)
    status = await sim.status()
    if status.state == "SIM PIN":
        return modem, sim
    await modem.close()
    if status.state != "READY" or not status.pin_enabled:
        pytest.skip(
            f"needs a PIN-locked card (the card is {status.state}, lock {status.pin_enabled})"
        )
    async with await Modem.open(target.port) as resetting:
        await resetting.command(commands.write("+CFUN", 1, 1))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        try:
            modem, sim = await open_sim(target)
            if (await sim.status()).state == "SIM PIN":
                return modem, sim
            await modem.close()
        except OSError:
            pass
        assert loop.time() < deadline, "the modem did not come back with its SIM locked"
        await asyncio.sleep(0.5)


async def test_status_reads_identity_without_spending_a_try(target: Target) -> None:
    modem, sim = await open_sim(target)
    async with modem:
        before = await sim.status()
        after = await sim.status()
    assert before.state in ("READY", "SIM PIN")
    assert before.iccid is not None
    assert len(before.iccid) >= 18
    assert before.imei is not None
    assert before.pin_retries == after.pin_retries
    assert before.puk_retries == after.puk_retries


async def test_unlock_leaves_the_card_ready_with_full_tries(target: Target) -> None:
    modem, sim = await open_sim(target)
    async with modem:
        status = await sim.unlock(target.pin)
        assert status.state == "READY"
        assert status.imsi is not None
        assert status.pin_retries in (None, 3)


@pytest.mark.spends_tries
async def test_wrong_pin_costs_one_try_and_is_never_sent_twice(target: Target) -> None:
    if target.pin == WRONG_PIN:
        pytest.skip("the bench PIN is the probe's wrong PIN")
    modem, sim = await locked_sim(target)
    async with modem:
        start = await sim.status()
        with pytest.raises(SimSaidNo, match="refused the PIN"):
            await sim.unlock(WRONG_PIN)
        assert (await sim.status()).pin_retries == (start.pin_retries or 3) - 1
        with pytest.raises(SimRefused, match="already failed"):
            await sim.unlock(WRONG_PIN, allow_last_attempt=True)
        status = await sim.unlock(target.pin)
    assert status.state == "READY"


@pytest.mark.spends_tries
async def test_pin_exhaustion_then_puk_unblock(target: Target) -> None:
    if target.puk is None:
        pytest.skip("needs --puk-file")
    modem, sim = await locked_sim(target)
    async with modem:
        for wrong in ("1111", "2222", "3333"):
            status = await sim.status()
            if status.state != "SIM PIN":
                break
            with pytest.raises(SimSaidNo):
                await sim.unlock(wrong, allow_last_attempt=True)
        assert (await sim.status()).state == "SIM PUK"
        with pytest.raises(SimRefused, match="sim unblock"):
            await sim.unlock(target.pin, allow_last_attempt=True)
        status = await sim.unblock(target.puk, target.pin)
    assert status.state == "READY"
    assert status.puk_retries in (None, 10)
