"""Registration and the data connection; one body for the stub and the bench."""

from __future__ import annotations

import pytest

from agent.dialects.detect import identify
from agent.modem.client import Modem
from agent.net.data_connection import DataConnection
from agent.net.registration import RegistrationManager
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager
from agent.state_dir import state_dir
from hil_tests.conftest import Target

pytestmark = pytest.mark.asyncio


async def ready_modem(target: Target) -> Modem:
    modem = await Modem.open(target.port)
    sim = SimManager(modem, FailedPinMemory(state_dir()), (await identify(modem)).dialect)
    if (await sim.status()).state != "READY":
        await sim.unlock(target.pin)
    return modem


async def test_registers_and_reports_signal(target: Target) -> None:
    async with await ready_modem(target) as modem:
        registration = RegistrationManager(modem)
        await registration.wait_until_registered(60)
        status = await registration.status()
    assert status.registration in ("home", "roaming")
    assert status.rssi_dbm is None or -113 <= status.rssi_dbm <= -51
    assert status.operator


async def test_internet_on_status_off_reflect_the_modem(target: Target) -> None:
    async with await ready_modem(target) as modem:
        connection = DataConnection(modem, RegistrationManager(modem))
        on = await connection.connect(target.apn)
        assert on.active
        assert on.apn == target.apn
        assert on.ip
        again = await DataConnection(modem).status(on.cid)  # read back, not remembered
        assert again == on
        off = await connection.disconnect(on.cid)
    assert not off.active
    assert off.ip is None
