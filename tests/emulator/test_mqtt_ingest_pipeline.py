"""Safety rule 3 through the external-broker ingest's two stages (`mqtt_client`): the
writer thread stores one batch while the network thread reads the next. A batch whose
connection ends while it is being written is stored; the broker, which never got its
acknowledgement, sends it again on the next connection, and the copies are duplicates:
every report once, none lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from emulator.models.device_messages import Incoming, Outcome, Verdict
from emulator.models.devices import DeviceReports
from emulator.mqtt_broker import MqttSetting
from emulator.mqtt_client import ExternalIngest
from simgate_common import wire
from simgate_common.wire import UsageReport

from .mqtt_support import cloud_on, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90)]


class HeldSink:
    """`DeviceReports`, holding its first batch until `release` is set."""

    def __init__(self, devices: DeviceReports) -> None:
        self.devices = devices
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []

    def ingest(self, messages: Sequence[Incoming]) -> list[Outcome]:
        first = not self.batches
        self.batches.append(len(messages))
        if first:
            self.entered.set()
            self.release.wait(30)
        return self.devices.ingest(messages)


def usage(iccid: str, seq: int) -> bytes:
    return UsageReport(
        seq, iccid, None, "2026-03-10T00:00:00Z", "2026-03-10T00:01:00Z", seq, 2 * seq, "modem"
    ).to_json()


async def test_rule3_a_batch_written_while_its_link_drops_is_stored_once(tmp_path: Path) -> None:
    async with cloud_on("mosquitto", tmp_path) as cloud:
        assert cloud.mosquitto is not None
        device = await cloud.register()
        await cloud.stop_ingest()  # the emulator's own ingest, replaced by a held one
        sink = HeldSink(cloud.backend.devices)
        ingest = ExternalIngest(MqttSetting(False, "127.0.0.1", cloud.port), sink, cloud.login)
        ingest.start()
        try:
            assert await asyncio.to_thread(ingest.wait_connected, 10)
            async with cloud.client(device) as client:
                topic = wire.usage_topic(device.iccid)
                for seq in range(1, 9):  # mosquitto acknowledges these to the device
                    await client.publish(topic, usage(device.iccid, seq), qos=1)
            assert await asyncio.to_thread(sink.entered.wait, 10), "no batch reached the store"
            held = sink.batches[0]
            await asyncio.to_thread(cloud.mosquitto.restart)  # the link drops meanwhile
            sink.release.set()
            await wait_until(lambda: cloud.seqs(device.iccid) == list(range(1, 9)), 30, "all 8")
            await wait_until(lambda: ingest.connects >= 2, 10, "a second connection")
            # the held batch was stored but not acknowledged: mosquitto sent it again
            await wait_until(
                lambda: ingest.counts.verdicts[Verdict.DUPLICATE] >= held, 30, "its copies"
            )
            assert cloud.seqs(device.iccid) == list(range(1, 9))
            assert len(cloud.backend.devices.reports(device.iccid)) == 8
        finally:
            sink.release.set()
            await asyncio.to_thread(ingest.stop)
