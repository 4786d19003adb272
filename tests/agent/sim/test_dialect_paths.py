"""Every SIM path, against the stub in every dialect, with the dialect the agent detects.

The transcript of each run shows which commands read the tries left and the ICCID, so
the tests see the vendor command used first, and the 3GPP one when it is refused.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from agent.dialects import DIALECTS, QUECTEL, Dialect, identify
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimRefused, SimSaidNo
from agent.state_dir import state_dir
from agent.transcript import RecordingModem
from firmware_stubs import NetworkProfile, StubModem
from tests.agent.conftest import ICCID, PIN, PUK, Bench

pytestmark = pytest.mark.asyncio

# dialect -> (the command that reads the tries left, the one that reads the ICCID)
VENDOR_READS = {
    "generic": ("AT+CPINR", "AT+CCID"),
    "quectel": ("AT+QPINC?", "AT+QCCID"),
    "simcom": ("AT+SPIC", "AT+CICCID"),
    "ublox": ("AT+UPINCNT", "AT+CCID"),
}
DIALECT_NAMES = sorted(VENDOR_READS)


def stub_for(bench: Bench, dialect: str) -> StubModem:
    network = NetworkProfile(register_delay=0.0)
    return StubModem(card_path=bench.card_path, dialect=dialect, network=network)


@asynccontextmanager
async def sim_on(
    stub: StubModem, transcript: Path, dialect: Dialect | None = None
) -> AsyncIterator[SimManager]:
    modem = await RecordingModem.open_recording(stub.device_path, transcript)
    async with modem:
        chosen = dialect or (await identify(modem)).dialect
        yield SimManager(modem, FailedPinMemory(state_dir()), chosen)


def sent(transcript: Path) -> list[str]:
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    return [e["send"] for e in events if "send" in e]


@pytest.mark.parametrize("name", DIALECT_NAMES)
async def test_status_reads_tries_and_iccid_with_the_vendor_commands(
    bench: Bench, name: str
) -> None:
    transcript = bench.tmp / "t.jsonl"
    with stub_for(bench, name) as stub:
        async with sim_on(stub, transcript) as sim:
            assert sim.dialect is DIALECTS[name]
            status = await sim.status()
    assert (status.state, status.iccid, status.pin_retries, status.puk_retries) == (
        "SIM PIN",
        ICCID,
        3,
        10,
    )
    commands = sent(transcript)
    retries, iccid = VENDOR_READS[name]
    assert retries in commands
    assert iccid in commands
    if name != "generic":
        assert "AT+CPINR" not in commands  # the vendor answer was enough


@pytest.mark.parametrize("name", DIALECT_NAMES)
async def test_unlock_then_ready_with_imsi(bench: Bench, name: str) -> None:
    bench.write_card(pin_retries=2)
    with stub_for(bench, name) as stub:
        async with sim_on(stub, bench.tmp / "t.jsonl") as sim:
            status = await sim.unlock(PIN)
    assert (status.state, status.pin_retries, status.imsi) == ("READY", 3, "440101234567890")
    assert bench.card()["pin_retries"] == 3


@pytest.mark.parametrize("name", DIALECT_NAMES)
async def test_wrong_pin_counts_down_and_the_rules_stop_at_one(bench: Bench, name: str) -> None:
    with stub_for(bench, name) as stub:
        async with sim_on(stub, bench.tmp / "t.jsonl") as sim:
            with pytest.raises(SimSaidNo, match="2 PIN tries left"):
                await sim.unlock("1111")
            with pytest.raises(SimSaidNo, match="1 PIN try left"):
                await sim.unlock("2222")
            with pytest.raises(SimRefused, match="tries left is 1"):
                await sim.unlock(PIN)
            with pytest.raises(SimRefused, match="already failed"):
                await sim.unlock("1111", allow_last_attempt=True)
    assert bench.card()["pin_retries"] == 1


@pytest.mark.parametrize("name", DIALECT_NAMES)
async def test_puk_unblock_sets_a_new_pin(bench: Bench, name: str) -> None:
    bench.write_card(pin_retries=0)
    with stub_for(bench, name) as stub:
        async with sim_on(stub, bench.tmp / "t.jsonl") as sim:
            before = await sim.status()
            assert (before.state, before.pin_retries, before.puk_retries) == ("SIM PUK", 0, 10)
            with pytest.raises(SimRefused, match="PUK"):
                await sim.unlock(PIN)
            status = await sim.unblock(PUK, "9753")
    assert (status.state, status.pin_retries, status.puk_retries) == ("READY", 3, 10)
    assert bench.card()["pin"] == "9753"


@pytest.mark.parametrize("name", DIALECT_NAMES)
async def test_a_card_with_no_puk_tries_is_blocked(bench: Bench, name: str) -> None:
    bench.write_card(pin_retries=0, puk_retries=0)
    with stub_for(bench, name) as stub:
        async with sim_on(stub, bench.tmp / "t.jsonl") as sim:
            status = await sim.status()
            with pytest.raises(SimSaidNo, match="permanently blocked"):
                await sim.unblock(PUK, "9753", allow_last_attempt=True)
    assert (status.state, status.puk_retries) == ("BLOCKED", 0)


async def test_a_refused_vendor_command_falls_back_to_3gpp(bench: Bench) -> None:
    transcript = bench.tmp / "t.jsonl"
    with stub_for(bench, "generic") as stub:  # speaks no Quectel commands
        async with sim_on(stub, transcript, QUECTEL) as sim:
            status = await sim.status()
    assert (status.iccid, status.pin_retries, status.puk_retries) == (ICCID, 3, 10)
    commands = sent(transcript)
    assert commands.index("AT+QPINC?") < commands.index("AT+CPINR")
    assert commands.index("AT+QCCID") < commands.index("AT+CCID")
