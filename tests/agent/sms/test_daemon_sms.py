"""The daemon publishes each received SMS once on `sms`, and deletes it only after the ack.

A stub on a real pty holds the card; a real mosquitto carries the messages; the cloud is
a subscriber that keeps each `seq` once, as the emulator's ingest does.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from agent.reporting.sms_outbox import SmsOutbox
from firmware_stubs.sms_pdu import encode_deliver
from tests.agent.conftest import ICCID
from tests.agent.daemon.conftest import CLOUD_PASSWORD, Rig, rig, running
from tests.agent.reporting.helpers import Collector, wait_until
from tests.mqtt_broker import mosquitto, mosquitto_factory

__all__ = ["mosquitto", "mosquitto_factory", "rig"]

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

JST = dt.timezone(dt.timedelta(hours=9))
WHEN = dt.datetime(2026, 3, 10, 9, 0, tzinfo=JST)
LONG = "Concatenated: " + "part of a longer message. " * 10


def cloud(rig: Rig) -> Collector:
    return Collector(rig.broker.port, username="cloud", password=CLOUD_PASSWORD, persistent=True)


def sms(collector: Collector) -> dict[int, dict[str, Any]]:
    """The `sms` payloads by seq: the cloud keeps each (iccid, seq) once."""
    return {json.loads(r.payload)["seq"]: json.loads(r.payload) for r in collector.on("sms")}


def stored_card(rig: Rig) -> None:
    slots: list[dict[str, object] | None] = [None] * 20
    first, second = encode_deliver("+819011112222", LONG, WHEN, reference=3)
    slots[0] = {"stat": 0, "pdu": first.pdu.hex().upper()}
    slots[1] = {"stat": 0, "pdu": second.pdu.hex().upper()}
    rig.bench.write_card(sms=slots)


async def test_each_received_sms_is_published_once_then_deleted(rig: Rig) -> None:
    stored_card(rig)
    stub = rig.stub()
    async with cloud(rig) as collector, running(rig.daemon()):
        await wait_until(lambda: 1 in sms(collector), 10, "the stored message")
        await wait_until(lambda: not any(stub.card.sms), 5, "its deletion from the card")
        stub.deliver_sms("SIMGATE", "コード 424242", WHEN)
        await wait_until(lambda: 2 in sms(collector), 10, "the +CMTI message")
        await wait_until(lambda: not any(stub.card.sms), 5, "its deletion")
        outbox = SmsOutbox.in_state_dir(rig.bench.state_dir, ICCID)
        await wait_until(lambda: outbox.count() == 0, 5, "the outbox emptied")
        outbox.close()
    got = sms(collector)
    assert sorted(got) == [1, 2]
    assert (got[1]["from"], got[1]["text"], got[1]["parts"]) == ("+819011112222", LONG, 2)
    assert got[1]["at"] == "2026-03-10T00:00:00Z"
    assert (got[2]["from"], got[2]["text"], got[2]["parts"]) == ("SIMGATE", "コード 424242", 1)


async def test_without_the_ack_the_message_stays_on_the_card_and_goes_later(rig: Rig) -> None:
    stored_card(rig)
    stub = rig.stub()
    unreachable = rig.config(mqtt={"port": 1})  # no broker: no PUBACK
    async with running(rig.daemon(unreachable)):
        outbox = SmsOutbox.in_state_dir(rig.bench.state_dir, ICCID)
        await wait_until(lambda: outbox.count() == 1, 10, "the message in the outbox")
        for _ in range(3):  # several checks go by
            await wait_until(lambda: len(outbox.pending()) == 1, 1, "still pending")
    assert sum(record is not None for record in stub.card.sms) == 2  # both parts kept
    rig.config(mqtt={"port": rig.broker.port})
    async with cloud(rig) as collector, running(rig.daemon()):
        await wait_until(lambda: 1 in sms(collector), 10, "the message after the outage")
        await wait_until(lambda: not any(stub.card.sms), 5, "its deletion")
        await wait_until(lambda: outbox.count() == 0, 5, "the outbox emptied")
    assert sorted(sms(collector)) == [1]  # the same seq: the cloud counts it once
    outbox.close()
