"""The usage meter over a fake sysfs tree (real files) and over the stub's own counters."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import serial

from agent.at import commands
from agent.at.errors import ResponseParseError
from agent.modem.client import Modem
from agent.usage.meter import MeterStateError, Usage, UsageMeter
from agent.usage.sources import (
    ModemCounters,
    OsInterfaceCounters,
    UsageUnavailable,
    VendorCounter,
    vendor_counter_for,
)
from firmware_stubs import CommandSpec, Dialect, NetworkProfile, Reply, StubModem
from firmware_stubs.state import ModemState

pytestmark = pytest.mark.asyncio


class FakeSysfs:
    """`<root>/<iface>/{ifindex,statistics/{tx,rx}_bytes}`, and a boot id file."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "sys-class-net"
        self.boot_id = tmp / "boot_id"
        self.boot_id.write_text("6d3f0c8e-boot-1\n")

    def set(self, iface: str, tx: int, rx: int, ifindex: int = 3) -> None:
        stats = self.root / iface / "statistics"
        stats.mkdir(parents=True, exist_ok=True)
        (stats / "tx_bytes").write_text(f"{tx}\n")
        (stats / "rx_bytes").write_text(f"{rx}\n")
        (self.root / iface / "ifindex").write_text(f"{ifindex}\n")

    def source(self, iface: str = "wwan0") -> OsInterfaceCounters:
        return OsInterfaceCounters(iface, sysfs_root=self.root, boot_id_path=self.boot_id)


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path)


async def measure(state: Path, sysfs: FakeSysfs) -> Usage:
    usage, _ = await UsageMeter(state).measure(sysfs.source())
    return usage


async def test_totals_survive_restarts_and_the_file_is_private(
    sysfs: FakeSysfs, tmp_path: Path
) -> None:
    sysfs.set("wwan0", tx=1000, rx=5000)
    assert await measure(tmp_path, sysfs) == Usage(1000, 5000, "os:wwan0")
    sysfs.set("wwan0", tx=1500, rx=9000)
    meter = UsageMeter(tmp_path)  # a new agent run
    usage, traffic = await meter.measure(sysfs.source())
    assert usage == Usage(1500, 9000, "os:wwan0")
    assert (traffic.delta_up, traffic.delta_down) == (500, 4000)
    path = tmp_path / "usage-counters.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["sources"]["os:wwan0"]["up"]["last"] == 1500
    assert not path.with_suffix(".tmp").exists()


async def test_recreated_interface_and_reboot_count_as_resets(
    sysfs: FakeSysfs, tmp_path: Path
) -> None:
    sysfs.set("wwan0", tx=100, rx=100, ifindex=3)
    await measure(tmp_path, sysfs)
    sysfs.set("wwan0", tx=700, rx=300, ifindex=4)  # re-created: higher, but a new counter
    assert await measure(tmp_path, sysfs) == Usage(800, 400, "os:wwan0")
    sysfs.boot_id.write_text("6d3f0c8e-boot-2\n")
    sysfs.set("wwan0", tx=900, rx=300, ifindex=4)
    assert await measure(tmp_path, sysfs) == Usage(1700, 700, "os:wwan0")


async def test_32_bit_wrap_of_the_interface_counter(sysfs: FakeSysfs, tmp_path: Path) -> None:
    sysfs.set("wwan0", tx=2**32 - 1000, rx=0)
    await measure(tmp_path, sysfs)
    sysfs.set("wwan0", tx=24, rx=0)
    assert (await measure(tmp_path, sysfs)).bytes_up == 2**32 + 24


async def test_unreadable_state_is_refused_and_kept(sysfs: FakeSysfs, tmp_path: Path) -> None:
    path = tmp_path / "usage-counters.json"
    for text in ("{not json", '{"sources": []}', '{"sources": {"os:wwan0": {"up": 3}}}'):
        path.write_text(text)
        with pytest.raises(MeterStateError, match="left as it is"):
            UsageMeter(tmp_path)
        assert path.read_text() == text


async def test_missing_interface_and_garbage_counters(sysfs: FakeSysfs, tmp_path: Path) -> None:
    with pytest.raises(UsageUnavailable, match="no network interface 'wwan0'"):
        await measure(tmp_path, sysfs)
    sysfs.set("wwan0", tx=1, rx=1)
    (sysfs.root / "wwan0" / "statistics" / "rx_bytes").write_text("-5\n")
    with pytest.raises(UsageUnavailable, match="does not hold a byte count"):
        await measure(tmp_path, sysfs)
    with pytest.raises(ValueError, match="not a network interface"):
        OsInterfaceCounters("../etc")


def _xcnt(state: ModemState, cmd: object) -> Reply:
    return Reply([f"+XCNT: {state.data_bytes_up},4242"])


def _parse_xcnt(lines: Sequence[str]) -> tuple[int, int]:
    for line in lines:
        if line.startswith("+XCNT:"):
            up, down = line[6:].split(",")
            return int(up), int(down)
    raise ResponseParseError("+XCNT", "", "no +XCNT line")


def ppp_session(stub: StubModem, payload: bytes) -> None:
    """What pppd does: unlock, dial, send bytes, hang up by closing the port."""
    with serial.Serial(stub.device_path, timeout=0.05) as port:
        for line in (b"ATE0", b'AT+CPIN="0000"', b"ATD*99***1#"):
            port.write(line + b"\r")
            answer = b""
            deadline = time.monotonic() + 2
            while not answer.rstrip().endswith((b"OK", b"CONNECT 150000000")):
                assert time.monotonic() < deadline, f"no answer to {line!r}: {answer!r}"
                answer += port.read(64)
        port.write(payload)
        port.flush()
        time.sleep(0.05)
    deadline = time.monotonic() + 2
    while stub.interpreter.data_mode:
        assert time.monotonic() < deadline, "the stub never saw the hang-up"
        time.sleep(0.01)


XCNT = VendorCounter(commands.execute("+XCNT"), _parse_xcnt)
VENDOR_X = Dialect(
    "vendorx", "VendorX Inc.", "X1", "1.0", "490154203237518",
    commands={"+XCNT": CommandSpec(_xcnt)},
)  # fmt: skip


async def test_modem_counters_through_a_vendor_command(tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    network = NetworkProfile(register_delay=0.0)
    with StubModem(card_path=card, dialect=VENDOR_X, network=network) as stub:
        await asyncio.to_thread(ppp_session, stub, b"x" * 300)
        async with await Modem.open(stub.device_path) as modem:
            manufacturer = (await modem.command(commands.execute("+CGMI"))).lines[0]
            counter = vendor_counter_for(manufacturer, [("vendorx", XCNT)])
            assert counter is XCNT
            usage, _ = await UsageMeter(tmp_path).measure(ModemCounters(modem, counter))
    assert usage == Usage(300, 4242, "modem")
    assert vendor_counter_for("simgate") is None
