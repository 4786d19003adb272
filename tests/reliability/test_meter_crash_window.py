"""Safety rule 3 at the seam between the meter and the outbox.

A metering pass reads the counters, then appends the bytes since the last record to the
outbox. The meter's state ("metered up to here") used to be saved to its own file before
the append, so a `kill -9` between the two lost that pass's bytes; saving it after would
count them twice. It now goes into the outbox's database in the record's transaction.

These tests make the crash land on either side of the append (the process "dies" at that
instant: nothing after it runs or is written), restart the metering on the same state
dir, and ask for every byte the interface moved, exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agent.daemon.metering import MeteringLoop, Recorder
from agent.reporting.outbox import Outbox
from agent.usage.meter import UsageMeter
from simgate_common.wire import UsageReport
from tests.agent.usage.test_meter import FakeSysfs

ICCID = "89811000000000000004"

pytestmark = pytest.mark.asyncio


class PowerCut(BaseException):
    """The process is gone at this instant: nothing after it runs or is written."""


class Appends:
    """The reporter's `record` as far as the outbox goes: the append (durable), no MQTT."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    def record(
        self,
        *,
        imei: str | None,
        start: str,
        end: str,
        up: int,
        down: int,
        source: str,
        meter_state: Mapping[str, Any] | None = None,
    ) -> UsageReport:
        return self._outbox.append(
            imei=imei,
            start=start,
            end=end,
            up=up,
            down=down,
            source=source,
            meter_state=meter_state,
        )


class DiesOnRecord(Appends):
    """A recorder whose process dies as the record is about to be appended."""

    def record(self, **fields: Any) -> UsageReport:
        raise PowerCut


class DiesAfterRecord(Appends):
    """A recorder whose process dies right after the append committed."""

    def record(self, **fields: Any) -> UsageReport:
        super().record(**fields)
        raise PowerCut


def metering(state: Path, sysfs: FakeSysfs, recorder: Recorder) -> MeteringLoop:
    """The daemon's metering loop on `state`, as a fresh process would build it."""
    source = sysfs.source()
    return MeteringLoop(
        UsageMeter(state),
        interval=60.0,
        state_dir=state,
        source=lambda: source,
        target=lambda: (recorder, None),
    )


async def test_rule3_a_kill_between_meter_and_outbox_loses_no_bytes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    sysfs = FakeSysfs(tmp_path)
    sysfs.set("wwan0", tx=0, rx=0)
    with Outbox(state / "outbox.sqlite3", ICCID) as outbox:
        assert await metering(state, sysfs, Appends(outbox)).measure_once() is None  # read at 0
        sysfs.set("wwan0", tx=1000, rx=4000)
        with pytest.raises(PowerCut):
            await metering(state, sysfs, DiesOnRecord(outbox)).measure_once()
        # The agent comes back on the same state dir; the interface has moved nothing more.
        await metering(state, sysfs, Appends(outbox)).measure_once()
        records = outbox.pending(100)
    assert (sum(r.up for r in records), sum(r.down for r in records)) == (1000, 4000)


async def test_rule3_a_kill_right_after_the_append_counts_nothing_twice(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    sysfs = FakeSysfs(tmp_path)
    sysfs.set("wwan0", tx=0, rx=0)
    with Outbox(state / "outbox.sqlite3", ICCID) as outbox:
        assert await metering(state, sysfs, Appends(outbox)).measure_once() is None
        sysfs.set("wwan0", tx=1000, rx=4000)
        with pytest.raises(PowerCut):
            await metering(state, sysfs, DiesAfterRecord(outbox)).measure_once()
        sysfs.set("wwan0", tx=1500, rx=4500)
        await metering(state, sysfs, Appends(outbox)).measure_once()
        records = outbox.pending(100)
    assert [(r.up, r.down) for r in records] == [(1000, 4000), (500, 500)]


async def test_bytes_kept_over_a_full_outbox_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    sysfs = FakeSysfs(tmp_path)
    sysfs.set("wwan0", tx=0, rx=0)
    with Outbox(state / "outbox.sqlite3", ICCID, max_pending=1) as outbox:
        assert await metering(state, sysfs, Appends(outbox)).measure_once() is None
        sysfs.set("wwan0", tx=10, rx=20)
        await metering(state, sysfs, Appends(outbox)).measure_once()  # the one allowed
        sysfs.set("wwan0", tx=30, rx=60)
        assert await metering(state, sysfs, Appends(outbox)).measure_once() is None  # full
        outbox.acknowledge(1)  # the broker acked; a restarted agent meters again
        await metering(state, sysfs, Appends(outbox)).measure_once()
        records = outbox.pending(100)
    assert [(r.up, r.down) for r in records] == [(20, 40)]


async def test_without_a_crash_every_byte_is_in_a_record(tmp_path: Path) -> None:
    """The same steps with no crash: the bytes are recorded (the test above can pass)."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    sysfs = FakeSysfs(tmp_path)
    sysfs.set("wwan0", tx=0, rx=0)
    with Outbox(state / "outbox.sqlite3", ICCID) as outbox:
        assert await metering(state, sysfs, Appends(outbox)).measure_once() is None
        sysfs.set("wwan0", tx=1000, rx=4000)
        await metering(state, sysfs, Appends(outbox)).measure_once()
        await metering(state, sysfs, Appends(outbox)).measure_once()
        records = outbox.pending(100)
    assert [(r.up, r.down) for r in records] == [(1000, 4000)]


async def test_rule3_a_full_disk_keeps_the_bytes_for_later_and_loses_none(tmp_path: Path) -> None:
    """SQLITE_FULL rolls the transaction back by itself: the outbox must still say
    OutboxError (not crash on a second ROLLBACK), and the metering keep the bytes."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    sysfs = FakeSysfs(tmp_path)
    sysfs.set("wwan0", tx=0, rx=0)
    with Outbox(state / "outbox.sqlite3", ICCID) as outbox:
        loop = metering(state, sysfs, Appends(outbox))
        assert await loop.measure_once() is None
        pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
        outbox._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now
        moved = 0
        for step in range(1, 60):
            sysfs.set("wwan0", tx=step * 1000, rx=step * 1000)
            moved = step * 1000
            if await loop.measure_once() is None:
                break  # refused: the bytes stay with the metering loop
        else:
            pytest.fail("the outbox never filled up")
        outbox._db.execute("PRAGMA max_page_count = 1073741823")  # room again
        await loop.measure_once()
        records = outbox.pending(1000)
    assert sum(r.up for r in records) == moved
    assert sum(r.down for r in records) == moved
