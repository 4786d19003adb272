"""The first usage record of a daemon run covers a real interval (not start == end)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from simgate_common import wire
from tests.agent.daemon.conftest import Rig, running
from tests.agent.daemon.test_daemon import cloud, up_and_connected, usage
from tests.agent.reporting.helpers import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def test_the_first_record_starts_when_the_counters_could_have_started(rig: Rig) -> None:
    rig.stub()
    rig.sysfs.set("wwan0", tx=1_000_000, rx=2_000_000)  # 3 MB counted before the daemon ran
    daemon = rig.daemon()
    async with cloud(rig) as collector, running(daemon):
        await wait_until(lambda: up_and_connected(collector), 10, "READY and connected")
        await wait_until(lambda: len(usage(collector)) == 1, 5, "the first record")
        rig.sysfs.set("wwan0", tx=1_000_100, rx=2_000_200)
        await wait_until(lambda: len(usage(collector)) == 2, 5, "the second record")
    first, second = usage(collector)[:2]
    assert (first["up"], first["down"]) == (1_000_000, 2_000_000)
    start, end = wire.parse_time(first["start"]), wire.parse_time(first["end"])
    boot = datetime.now(UTC) - timedelta(seconds=time.clock_gettime(time.CLOCK_BOOTTIME))
    assert start < end
    assert abs(start - boot) < timedelta(seconds=5)  # the counters count from the boot on
    assert second["start"] == first["end"]  # and each record from where the last ended
