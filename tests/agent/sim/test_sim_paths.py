"""The agent's SIM paths against the stub modem over a real pty, and the safety rules."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.at import commands
from agent.at.errors import ModemRebooted
from agent.modem.client import Modem
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimRefused, SimSaidNo, WrongUsage
from agent.state_dir import state_dir
from firmware_stubs.faults import Faults
from tests.agent.conftest import ICCID, PIN, PUK, Bench

pytestmark = pytest.mark.asyncio


async def manager(url: str) -> tuple[Modem, SimManager]:
    modem = await Modem.open(url)
    return modem, SimManager(modem, FailedPinMemory(state_dir()))


async def test_status_of_a_card_without_pin_lock_is_ready(bench: Bench) -> None:
    bench.write_card(pin_enabled=False)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            status = await sim.status()
    assert status.state == "READY"
    assert status.iccid == ICCID
    assert status.iccid_luhn_valid is True
    assert status.imsi == "440101234567890"
    assert status.imei is not None
    assert status.imei.isdigit()
    assert (status.pin_retries, status.puk_retries, status.pin_enabled) == (3, 10, False)


async def test_status_of_a_locked_card_needs_pin(bench: Bench) -> None:
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            status = await sim.status()
    assert status.state == "SIM PIN"
    assert status.imsi is None
    assert status.pin_enabled is True
    assert status.pin_retries == 3


async def test_right_pin_unlocks_and_resets_the_counter(bench: Bench) -> None:
    bench.write_card(pin_retries=2)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            status = await sim.unlock(PIN)
    assert status.state == "READY"
    assert status.pin_retries == 3
    assert bench.card()["pin_retries"] == 3


async def test_wrong_pin_counts_down_and_says_so(bench: Bench) -> None:
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimSaidNo, match="refused the PIN; 2 PIN tries left"):
                await sim.unlock("1111")
            with pytest.raises(SimSaidNo, match="1 PIN try left"):
                await sim.unlock("2222", allow_last_attempt=False)
    assert bench.card()["pin_retries"] == 1


async def test_safety_rule_1_failed_pin_is_never_sent_again_even_after_restart(
    bench: Bench,
) -> None:
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimSaidNo):
                await sim.unlock("1111")
    assert bench.card()["pin_retries"] == 2
    # a new process: new modem connection, new memory object, restarted stub
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimRefused, match="already failed on card"):
                await sim.unlock("1111", allow_last_attempt=True)
    assert bench.card()["pin_retries"] == 2


async def test_safety_rule_1_no_pin_below_two_tries_without_override(bench: Bench) -> None:
    bench.write_card(pin_retries=1)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimRefused, match="--allow-last-attempt"):
                await sim.unlock(PIN)
            assert bench.card()["pin_retries"] == 1
            status = await sim.unlock(PIN, allow_last_attempt=True)
    assert status.state == "READY"


async def test_safety_rule_1_puk_only_by_explicit_unblock(bench: Bench) -> None:
    bench.write_card(pin_retries=0)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            assert (await sim.status()).state == "SIM PUK"
            with pytest.raises(SimRefused, match="sim unblock"):
                await sim.unlock(PIN, allow_last_attempt=True)
    assert bench.card()["puk_retries"] == 10


async def test_unblock_with_puk_sets_new_pin_and_resets_both_counters(bench: Bench) -> None:
    bench.write_card(pin_retries=0, puk_retries=7)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            status = await sim.unblock(PUK, "9753")
    assert status.state == "READY"
    assert (status.pin_retries, status.puk_retries) == (3, 10)
    assert bench.card()["pin"] == "9753"


async def test_unblock_on_a_card_that_needs_no_puk_is_wrong_usage(bench: Bench) -> None:
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(WrongUsage, match="not 'SIM PUK'"):
                await sim.unblock(PUK, "9753")
    assert bench.card()["puk_retries"] == 10


async def test_safety_rule_1_no_puk_below_two_tries_without_override(bench: Bench) -> None:
    bench.write_card(pin_retries=0, puk_retries=1)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimRefused, match="PUK tries left is 1"):
                await sim.unblock(PUK, "9753")
    assert bench.card()["puk_retries"] == 1


async def test_last_wrong_puk_blocks_the_card_for_good(bench: Bench) -> None:
    bench.write_card(pin_retries=0, puk_retries=1)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimSaidNo, match="permanently blocked"):
                await sim.unblock("87654321", "9753", allow_last_attempt=True)
            assert (await sim.status()).state == "BLOCKED"
    with bench.stub() as stub:  # a restarted stub is the same dead card
        modem, sim = await manager(stub.device_path)
        async with modem:
            status = await sim.status()
            assert status.state == "BLOCKED"
            assert status.puk_retries == 0
            with pytest.raises(SimSaidNo, match="permanently blocked"):
                await sim.unblock(PUK, "9753", allow_last_attempt=True)


async def test_pin_lock_disable_enable_and_change(bench: Bench) -> None:
    bench.write_card()
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            await sim.unlock(PIN)
            assert (await sim.set_pin_lock(False, PIN)).pin_enabled is False
            assert bench.card()["pin_enabled"] is False
            assert (await sim.set_pin_lock(True, PIN)).pin_enabled is True
            await sim.change_pin(PIN, "1357")
            assert bench.card()["pin"] == "1357"
            with pytest.raises(SimSaidNo, match="refused the PIN"):
                await sim.set_pin_lock(False, PIN)
    assert bench.card()["pin_retries"] == 2


async def test_unlock_waits_out_the_sim_busy_window(bench: Bench) -> None:
    with bench.stub(Faults(busy_after_unlock=0.6)) as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            status = await sim.unlock(PIN)
    assert status.state == "READY"
    assert status.imsi == "440101234567890"


async def test_reboot_mid_command_fails_it_and_the_next_one_works(bench: Bench) -> None:
    with bench.stub(Faults(delay=0.3)) as stub:
        async with await Modem.open(stub.device_path) as modem:
            pending = asyncio.create_task(modem.command(commands.read("+CPIN")))
            await asyncio.sleep(0.1)
            stub.reboot()
            with pytest.raises(ModemRebooted):
                await pending
            response = await modem.command(commands.read("+CPIN"))
            assert response.result.ok


async def test_safety_rule_2_secrets_never_reach_the_logs(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bench.write_card(pin_retries=0)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            await sim.unblock(PUK, "9753")
            with pytest.raises(SimSaidNo):
                await sim.change_pin("1111", "4321")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert 'AT+CPIN="****","****"' in text
    for secret in (PUK, "9753", "1111", "4321"):
        assert secret not in text
