"""A SIM deleted or deactivated while its device is connected to the embedded broker: the
session ends at once and the token is refused from then on (issue 13). The mosquitto side
is the dynamic-security plugin's (emulator/mosquitto.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from simgate_common import wire

from .mqtt_support import Cloud, Device, cloud_on, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def device_sessions(cloud: Cloud) -> set[str]:
    assert cloud.embedded is not None
    broker = cloud.embedded._broker
    return {client_id for client_id in broker._sessions if client_id != cloud.login.username}


async def drain(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        pass


async def connected_then_cut(cloud: Cloud, device: Device, cut: str) -> None:
    """Connect the device, apply `cut` to its SIM, and see the connection end."""
    async with cloud.client(device, clean_session=False) as client:
        await client.subscribe(wire.commands_topic(device.iccid), qos=1)
        await client.publish(wire.status_topic(device.iccid), wire.ONLINE, qos=1, retain=True)
        assert device.iccid in device_sessions(cloud)
        if cut == "delete":
            cloud.backend.sims.delete(device.sim_id)
        else:
            cloud.backend.sims.set_activated(device.sim_id, True)
            cloud.backend.sims.set_activated(device.sim_id, False)
        with pytest.raises(aiomqtt.MqttError):  # the broker closes the connection
            await asyncio.wait_for(drain(client), 5)
    await wait_until(lambda: device.iccid not in device_sessions(cloud), 5, "session gone")


async def refused(cloud: Cloud, device: Device) -> bool:
    try:
        async with cloud.client(device):
            return False
    except aiomqtt.MqttError:
        return True


async def test_deleting_a_connected_sims_sim_ends_its_session_and_revokes_its_token(
    tmp_path: Path,
) -> None:
    async with cloud_on("embedded", tmp_path) as cloud:
        device, bystander = await cloud.register(), await cloud.register()
        async with cloud.client(bystander) as other:
            await connected_then_cut(cloud, device, "delete")
            assert await refused(cloud, device)
            await other.publish(wire.status_topic(bystander.iccid), wire.ONLINE, qos=1)
            assert bystander.iccid in device_sessions(cloud)  # nobody else is touched


async def test_deactivating_a_connected_sim_ends_its_session_until_it_is_activated_again(
    tmp_path: Path,
) -> None:
    async with cloud_on("embedded", tmp_path) as cloud:
        device = await cloud.register()
        await connected_then_cut(cloud, device, "deactivate")
        assert await refused(cloud, device)
        cloud.backend.sims.set_activated(device.sim_id, True)
        assert not await refused(cloud, device)


async def test_a_new_sim_never_activated_may_still_log_in(tmp_path: Path) -> None:
    async with cloud_on("embedded", tmp_path) as cloud:
        device = await cloud.register()
        assert not await refused(cloud, device)
