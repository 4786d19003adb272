"""Fan-out on the embedded broker: who receives a message, and what it costs.

A retained message goes only to a subscriber whose own filter matches it, when that
subscription is made (MQTT 3.1.1 §3.3.1.3): never to another device that merely
connects. And routing a message, connecting or dropping a device costs the same whether
the broker holds two devices or many (`emulator/amqtt_fanout.py`); amqtt 0.12 walked
every subscription filter of every device, and on each connect every filter against every
retained message, which at 10,000 agents is seconds per connect.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from amqtt.session import Session

from simgate_common import wire

from .mqtt_support import Cloud, Device, Kind, cloud_on, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]

STATE = b'{"seq":1,"at":"2026-03-10T00:00:00Z","sim":{"state":"READY"},"net":{},"internet":{}}'


async def received_within(client: aiomqtt.Client, seconds: float) -> list[str]:
    """Topics of every message that arrives within `seconds`."""
    topics: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            async for message in client.messages:
                topics.append(str(message.topic))
    except TimeoutError:
        pass
    return topics


async def agent_online(cloud: Cloud, device: Device, client: aiomqtt.Client) -> None:
    """What the agent does on connect: its two subscriptions, then "online" (retained)."""
    await client.subscribe(wire.commands_topic(device.iccid), qos=1)
    await client.subscribe(wire.errors_topic(device.iccid), qos=1)
    await client.publish(wire.status_topic(device.iccid), wire.ONLINE, qos=1, retain=True)


async def test_a_device_never_gets_another_devices_retained_messages(
    kind: Kind, tmp_path: Path
) -> None:
    async with cloud_on(kind, tmp_path) as cloud:
        owner, other = await cloud.register(), await cloud.register()
        async with cloud.client(owner, clean_session=False) as watcher:
            # the owner watches its whole root and leaves two retained messages there
            await watcher.subscribe(wire.topic_root(owner.iccid) + "/#", qos=1)
            await watcher.publish(wire.status_topic(owner.iccid), wire.ONLINE, qos=1, retain=True)
            await watcher.publish(wire.state_topic(owner.iccid), STATE, qos=1, retain=True)
            await wait_until(
                lambda: cloud.backend.devices.view(owner.iccid).online is True, 10, "online"
            )
            for clean in (True, False, False):  # a new session, a stored one, taken up again
                async with cloud.client(other, clean_session=clean) as client:
                    await agent_online(cloud, other, client)
                    topics = await received_within(client, 1.0)
                foreign = [t for t in topics if not t.startswith(wire.topic_root(other.iccid))]
                assert foreign == [], f"clean_session={clean}: got {foreign}"
        # and a subscription of the owner's own still brings its retained messages
        async with cloud.client(owner) as client:
            await client.subscribe(wire.state_topic(owner.iccid), qos=1)
            assert await received_within(client, 1.0) == [wire.state_topic(owner.iccid)]


def count_walks(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count, from now on, what grows with the fleet when amqtt walks it: topic-filter
    comparisons and sessions written out (`repr`, for log lines)."""
    assert cloud.embedded is not None
    broker: Any = cloud.embedded._broker
    calls = [0]
    matches, describe = broker._matches, Session.__repr__

    def counting_matches(topic: str, a_filter: str) -> bool:
        calls[0] += 1
        return bool(matches(topic, a_filter))

    def counting_repr(session: Session) -> str:
        calls[0] += 1
        return str(describe(session))

    monkeypatch.setattr(broker, "_matches", counting_matches)
    monkeypatch.setattr(Session, "__repr__", counting_repr)
    return calls


async def one_agent_session(cloud: Cloud, device: Device, seq: int) -> None:
    """Connect as the agent does, report once, get a command, disconnect."""
    async with cloud.client(device, clean_session=False) as client:
        await agent_online(cloud, device, client)
        before = cloud.backend.devices.view(device.iccid).reports
        await client.publish(wire.usage_topic(device.iccid), usage(device, seq), qos=1)
        await wait_until(
            lambda: cloud.backend.devices.view(device.iccid).reports == before + 1, 10, "stored"
        )
        assert cloud.embedded is not None
        await cloud.embedded.publish(wire.commands_topic(device.iccid), b'{"id":"c","op":"x"}')
        assert await received_within(client, 0.5) == [wire.commands_topic(device.iccid)]


def usage(device: Device, seq: int) -> bytes:
    return wire.UsageReport(
        seq, device.iccid, "356938035643809", "2026-03-10T00:00:00Z", "2026-03-10T00:01:00Z",
        10, 20, "modem",
    ).to_json()  # fmt: skip


async def test_routing_cost_does_not_grow_with_the_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with cloud_on("embedded", tmp_path) as cloud:
        probe = await cloud.register()
        crowd: list[aiomqtt.Client] = []
        counts: list[int] = []
        try:
            for size in (2, 40):
                while len(crowd) < size:  # agents online, each with two filters and a will
                    device = await cloud.register()
                    client = cloud.client(device, clean_session=False)
                    await client.__aenter__()
                    crowd.append(client)
                    await agent_online(cloud, device, client)
                calls = count_walks(cloud, monkeypatch)
                await one_agent_session(cloud, probe, 2 * size)
                await one_agent_session(cloud, probe, 2 * size + 1)  # its session taken up
                counts.append(calls[0])
        finally:
            for client in crowd:
                await client.__aexit__(None, None, None)
        assert counts[0] == counts[1], f"the work of one agent beside 2 and 40 agents: {counts}"
