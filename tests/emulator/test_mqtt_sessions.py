"""Sessions and connections on both brokers: no CONNECT that is refused, or that uses
another device's client id or topic root, can disturb a device's session, connection,
last will or books; a device's own reconnect over a half-open link keeps its commands
flowing. (Embedded: `emulator/amqtt_broker.py` and `DeviceAuthPlugin`; mosquitto: its
generated config, `use_username_as_clientid true` and the ACL.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from simgate_common import wire

from .mqtt_support import Cloud, Device, Kind, _field, _packet, cloud_on, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

COMMAND = b'{"id":"c1","op":"report_now"}'


def offline_will(device: Device) -> aiomqtt.Will:
    return aiomqtt.Will(wire.status_topic(device.iccid), wire.OFFLINE, qos=1, retain=True)


async def send_command(cloud: Cloud, device: Device) -> None:
    """What `POST /_emulator/sims/{iccid}/commands` does: publish as the emulator."""
    publisher = cloud.embedded or cloud.ingest
    assert publisher is not None
    await publisher.publish(wire.commands_topic(device.iccid), COMMAND)


async def next_command(client: aiomqtt.Client, seconds: float = 5.0) -> bytes:
    async with asyncio.timeout(seconds):
        async for message in client.messages:
            assert str(message.topic).endswith("/commands"), message.topic
            assert isinstance(message.payload, bytes)
            return message.payload
    raise AssertionError("the message stream ended")


async def go_online(cloud: Cloud, device: Device, client: aiomqtt.Client) -> None:
    """Subscribe to the device's commands and say "online" (retained), as the agent does."""
    await client.subscribe(wire.commands_topic(device.iccid), qos=1)
    await client.publish(wire.status_topic(device.iccid), wire.ONLINE, qos=1, retain=True)
    await wait_until(lambda: cloud.backend.devices.view(device.iccid).online is True, 10, "on")


def offline_bookings(cloud: Cloud, device: Device) -> int:
    return [e.status for e in cloud.backend.sims.session_log(device.sim_id)].count("DEVICE_OFFLINE")


async def refused(cloud: Cloud, device: Device, **kwargs: object) -> bool:
    try:
        async with cloud.client(device, **kwargs):
            return False
    except aiomqtt.MqttError:
        return True


async def test_refused_connect_leaves_a_live_device_alone(kind: Kind, tmp_path: Path) -> None:
    async with cloud_on(kind, tmp_path) as cloud:
        victim = await cloud.register()
        client = cloud.client(victim, clean_session=False, will=offline_will(victim))
        async with client:
            await go_online(cloud, victim, client)
            offline = offline_bookings(cloud, victim)
            for clean in (False, True):  # take over, or wipe, the victim's session
                assert await refused(
                    cloud,
                    victim,
                    password="not-the-token",
                    clean_session=clean,
                    will=offline_will(victim),
                )
            await asyncio.sleep(0.5)
            assert cloud.backend.devices.view(victim.iccid).online is True
            assert offline_bookings(cloud, victim) == offline
            # still connected, still subscribed: its publish is acknowledged, commands arrive
            status = wire.status_topic(victim.iccid)
            await asyncio.wait_for(client.publish(status, wire.ONLINE, qos=1, retain=True), 5)
            await send_command(cloud, victim)
            assert await next_command(client) == COMMAND


async def test_refused_connect_leaves_a_stored_session_alone(kind: Kind, tmp_path: Path) -> None:
    async with cloud_on(kind, tmp_path) as cloud:
        victim = await cloud.register()
        async with cloud.client(victim, clean_session=False) as client:
            await client.subscribe(wire.commands_topic(victim.iccid), qos=1)
        for clean in (False, True):
            assert await refused(cloud, victim, password="not-the-token", clean_session=clean)
        await send_command(cloud, victim)  # queued for the offline device (QoS 1)
        async with cloud.client(victim, clean_session=False) as client:
            assert await next_command(client) == COMMAND


async def test_another_devices_client_id_does_not_kick_it(kind: Kind, tmp_path: Path) -> None:
    async with cloud_on(kind, tmp_path) as cloud:
        victim, other = await cloud.register(), await cloud.register()
        client = cloud.client(victim, clean_session=False, will=offline_will(victim))
        async with client:
            await go_online(cloud, victim, client)
            offline = offline_bookings(cloud, victim)
            try:
                # its own login and token, the victim's client id
                async with cloud.client(other, identifier=victim.iccid, clean_session=False):
                    accepted = True  # mosquitto: as client id `other.iccid` (its username)
                    await asyncio.sleep(0.3)
            except aiomqtt.MqttError:
                accepted = False
            assert accepted is (kind == "mosquitto")
            await asyncio.sleep(0.3)
            assert cloud.backend.devices.view(victim.iccid).online is True
            assert offline_bookings(cloud, victim) == offline
            await send_command(cloud, victim)
            assert await next_command(client) == COMMAND


async def test_a_will_in_another_devices_root_is_never_published(
    kind: Kind, tmp_path: Path
) -> None:
    async with cloud_on(kind, tmp_path) as cloud:
        victim, other = await cloud.register(), await cloud.register()
        async with cloud.client(victim) as client:
            await go_online(cloud, victim, client)
            offline = offline_bookings(cloud, victim)
            cases = [  # embedded: refused at CONNECT; mosquitto: its ACL drops the will
                (wire.status_topic(victim.iccid), 5 if kind == "embedded" else 0),
                (f"{wire.topic_root(other.iccid)}/#", 5 if kind == "embedded" else -1),
            ]
            for topic, expected in cases:
                code, _, writer = await raw_connect(cloud, other, will=topic)
                assert code == expected, (topic, code)
                writer.transport.abort()  # vanish: the will (if any) would go out now
            await asyncio.sleep(0.5)
            assert cloud.backend.devices.view(victim.iccid).online is True
            assert offline_bookings(cloud, victim) == offline
        async with cloud.client(victim) as client:  # the retained status is its own
            await client.subscribe(wire.status_topic(victim.iccid), qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(client.messages))
            assert message.payload == wire.ONLINE
        # its own status topic is fine (the agent's will)
        code, _, writer = await raw_connect(cloud, other, will=wire.status_topic(other.iccid))
        assert code == 0
        writer.close()


# --- a reconnect over a half-open link --------------------------------------------------


async def raw_connect(
    cloud: Cloud, device: Device, *, will: str, clean: bool = True
) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-made MQTT 3.1.1 CONNECT (client id = ICCID, will = "offline" on `will`, QoS
    1, retained); the CONNACK's return code (-1: closed without one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", cloud.port)
    flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | (0x02 if clean else 0)
    body = _field(b"MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big")
    body += _field(device.iccid.encode()) + _field(will.encode()) + _field(wire.OFFLINE)
    body += _field(device.iccid.encode()) + _field(device.token.encode())
    writer.write(_packet(0x10, body))
    await writer.drain()
    try:
        connack = await asyncio.wait_for(reader.readexactly(4), 5)
    except asyncio.IncompleteReadError:
        return -1, reader, writer  # closed without a CONNACK
    assert connack[:2] == b"\x20\x02", connack
    return connack[3], reader, writer


async def half_open(cloud: Cloud, device: Device) -> asyncio.StreamWriter:
    """A hand-made persistent session with the agent's will that subscribes to its
    commands, says "online", and then never reads again."""
    status = wire.status_topic(device.iccid)
    code, reader, writer = await raw_connect(cloud, device, will=status, clean=False)
    assert code == 0
    commands = wire.commands_topic(device.iccid).encode()
    writer.write(_packet(0x82, (1).to_bytes(2, "big") + _field(commands) + b"\x01"))
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(5), 5) == b"\x90\x03\x00\x01\x01"
    writer.write(_packet(0x31, _field(status.encode()) + wire.ONLINE))
    await writer.drain()
    await wait_until(lambda: cloud.backend.devices.view(device.iccid).online is True, 10, "on")
    return writer


@pytest.mark.parametrize("clean", [False, True], ids=["persistent", "clean"])
async def test_reconnect_over_a_half_open_link_gets_the_commands(
    kind: Kind, clean: bool, tmp_path: Path
) -> None:
    async with cloud_on(kind, tmp_path) as cloud:
        device = await cloud.register()
        old = await half_open(cloud, device)
        offline = offline_bookings(cloud, device)
        try:
            # the device reconnects before the broker noticed that the old link is dead
            client = cloud.client(device, clean_session=clean, will=offline_will(device))
            async with client:
                await client.subscribe(wire.commands_topic(device.iccid), qos=1)
                status = wire.status_topic(device.iccid)
                await client.publish(status, wire.ONLINE, qos=1, retain=True)  # as the agent
                await asyncio.sleep(0.5)  # the old connection is closed by now
                await send_command(cloud, device)
                assert await next_command(client) == COMMAND
                assert cloud.backend.devices.view(device.iccid).online is True
                if kind == "embedded":  # no will for a replaced connection (mosquitto:
                    # the device's "online" after its reconnect overrides the will)
                    assert offline_bookings(cloud, device) == offline
        finally:
            old.transport.abort()
