"""Safety rule 1 under the failures a review found: restarts, timeouts, lost memory, races."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.at import commands
from agent.modem.client import Modem
from agent.sim.failed_pins import FailedPinMemory, FailedPinMemoryError
from agent.sim.manager import SimManager, SimRefused, SimSaidNo
from agent.sim.secrets import SecretSourceError, check_pin_format, read_secret_file
from agent.state_dir import state_dir
from firmware_stubs.faults import Faults
from tests.agent.conftest import PIN, Bench


@pytest.mark.asyncio
async def manager(url: str, directory: Path | None = None) -> tuple[Modem, SimManager]:
    modem = await Modem.open(url)
    return modem, SimManager(modem, FailedPinMemory(directory or state_dir()))


@pytest.mark.asyncio
async def test_safety_rule_1_after_a_modem_restart_a_wrong_pin_is_still_remembered(
    bench: Bench,
) -> None:
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            stub.reboot()  # back to CMEE=0: a wrong PIN is a plain ERROR
            await asyncio.sleep(0.1)
            with pytest.raises(SimSaidNo, match="2 PIN tries left"):
                await sim.unlock("1111")
            with pytest.raises(SimRefused, match="already failed"):
                await sim.unlock("1111", allow_last_attempt=True)
    assert bench.card()["pin_retries"] == 2


@pytest.mark.asyncio
async def test_safety_rule_1_a_pin_whose_answer_was_lost_is_never_sent_again(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(commands.LONG_TIMEOUTS, "+CPIN", 0.2)
    with bench.stub(Faults(delay=0.5)) as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(OSError, match="no answer"):
                await sim.unlock("1111")
    with bench.stub() as stub:  # another process, later
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimRefused, match="already failed"):
                await sim.unlock("1111")
    assert bench.card()["pin_retries"] == 2


@pytest.mark.asyncio
async def test_safety_rule_1_no_pin_is_sent_when_the_memory_cannot_be_written(
    bench: Bench, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path, not_a_dir / "state")
        async with modem:
            with pytest.raises(SimRefused, match="no PIN was sent"):
                await sim.unlock(PIN)
    assert bench.card()["pin_retries"] == 3


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content",
    [
        '{"salt": "AAAAAAAAAAAAAAAAAAAAAA==", "digests": "abc"}',
        '{"salt": "", "digests": []}',
        "[1, 2]",
        "{not json",
    ],
)
async def test_safety_rule_1_a_corrupt_memory_refuses_instead_of_forgetting(
    bench: Bench, content: str
) -> None:
    state_dir().joinpath("failed-pins.json").write_text(content)
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            with pytest.raises(SimRefused, match="unusable"):
                await sim.unlock(PIN)
    assert bench.card()["pin_retries"] == 3


@pytest.mark.asyncio
async def test_safety_rule_1_concurrent_unlocks_send_a_failed_pin_once(bench: Bench) -> None:
    with bench.stub() as stub:
        modem, sim = await manager(stub.device_path)
        async with modem:
            results = await asyncio.gather(
                sim.unlock("1111"), sim.unlock("1111"), return_exceptions=True
            )
    assert sorted(type(r).__name__ for r in results) == ["SimRefused", "SimSaidNo"]
    assert bench.card()["pin_retries"] == 2


def test_safety_rule_1_memory_is_shared_with_other_processes_at_once(tmp_path: Path) -> None:
    mine = FailedPinMemory(tmp_path)
    assert not mine.has_failed("8981", "1111")
    code = (
        "import sys; from pathlib import Path; from agent.sim.failed_pins import FailedPinMemory;"
        "FailedPinMemory(Path(sys.argv[1])).remember_failure('8981', '1111')"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=30)
    assert mine.has_failed("8981", "1111")  # no stale copy in the long-lived object
    mine.remember_failure("8981", "2222")
    assert FailedPinMemory(tmp_path).has_failed("8981", "1111")  # not overwritten


def test_memory_file_is_owner_only_even_over_a_loose_leftover(tmp_path: Path) -> None:
    leftover = tmp_path / "failed-pins.tmp"
    leftover.write_text("")
    leftover.chmod(0o644)
    FailedPinMemory(tmp_path).remember_failure("8981", "1111")
    assert (tmp_path / "failed-pins.json").stat().st_mode & 0o777 == 0o600


def test_memory_stores_no_pin(tmp_path: Path) -> None:
    FailedPinMemory(tmp_path).remember_failure("89811000000000000004", "7531")
    text = (tmp_path / "failed-pins.json").read_text()
    assert "7531" not in text
    assert set(json.loads(text)) == {"salt", "digests"}


@pytest.mark.parametrize("pin", ["١٢٣٤", "12a4", "123", "123456789", " 1234"])
def test_pins_are_ascii_digits_and_errors_do_not_describe_them(pin: str) -> None:
    with pytest.raises(SecretSourceError) as info:
        check_pin_format(pin, "PIN", range(4, 9))
    assert pin.strip() not in str(info.value)
    assert "characters" not in str(info.value)


def test_unusable_memory_error_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "failed-pins.json").write_text("{}")
    with pytest.raises(FailedPinMemoryError):
        FailedPinMemory(tmp_path).has_failed("8981", "1111")


class FlakyLine(SimManager):
    """A line that corrupts one ICCID answer into another valid-looking ICCID (noise
    cannot be produced on demand through the pty, so the read itself is replaced)."""

    reads = 0

    async def _iccid(self) -> tuple[str | None, bool | None]:
        iccid, luhn = await super()._iccid()
        self.reads += 1
        if self.reads == 2 and iccid is not None:
            return iccid[:-2] + "99", luhn
        return iccid, luhn


@pytest.mark.asyncio
async def test_safety_rule_1_an_iccid_that_reads_differently_twice_stops_the_pin(
    bench: Bench,
) -> None:
    with bench.stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            sim = FlakyLine(modem, FailedPinMemory(state_dir()))
            with pytest.raises(SimRefused, match=r"read as \d+, then as \d+: .*no PIN was sent"):
                await sim.unlock(PIN)
    assert bench.card()["pin_retries"] == 3


def test_a_secret_file_that_is_not_a_regular_file_is_refused_without_hanging(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "pin"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(SecretSourceError, match="not a regular file"):
        read_secret_file(fifo, "PIN")
