"""The platform end to end, in this process: uvicorn serving the app on 127.0.0.1, the
embedded broker (or a real mosquitto), devices as raw aiomqtt clients, a real webhook
receiver that is down and then up, and a WebSocket client (the `websockets` package,
which uvicorn already uses)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import uvicorn
import websockets
from websockets.asyncio.client import connect as ws_connect

from emulator.app import create_app
from emulator.models.platform.adapters import sign
from simgate_common import wire
from simgate_common.wire import ErrorReport, FileNotice, PlatformMessage

from .mqtt_support import Cloud, Device, Kind, cloud_on, wait_until
from .platform_support import AUTH, CREDENTIALS, Receiver, free_port

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
P = "/platform/v1"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Live:
    """The cloud, its HTTP base URL and an authenticated client."""

    cloud: Cloud
    base: str
    http: httpx.AsyncClient

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.http.request(method, path, **kwargs)
        assert r.status_code < 300, r.text
        return r.json()

    async def device_in_project(self) -> tuple[Device, str, str]:
        """A registered SIM, a project, and the SIM's device ID in it."""
        device = await self.cloud.register()
        project = (await self.ok("POST", f"{P}/projects", json={"name": "p"}))["id"]
        made = await self.ok(
            "POST", f"{P}/projects/{project}/devices", json={"iccid": device.iccid}
        )
        return device, project, made["device_id"]


@contextlib.asynccontextmanager
async def live_platform(kind: Kind, directory: Path) -> AsyncIterator[Live]:
    async with cloud_on(kind, directory) as cloud:
        app = create_app(cloud.db, credentials=CREDENTIALS, backend=cloud.backend)
        app.state.mqtt = cloud.embedded or cloud.ingest
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = _Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await wait_until(lambda: server.started, 10, "uvicorn to start")
            async with httpx.AsyncClient(base_url=base, auth=AUTH, timeout=10) as http:
                await http.put(
                    "/_emulator/platform", json={"retry_initial": 0.05, "retry_max": 0.2}
                )
                yield Live(cloud, base, http)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)
            sock.close()


def up(message_id: str, value: int = 1) -> bytes:
    objects = (wire.TypedObject(1, "int16", value), wire.TypedObject(2, "string", "温度"))
    return PlatformMessage(message_id, objects).to_json()


async def next_message(client: aiomqtt.Client, seconds: float = 5.0) -> aiomqtt.Message:
    async with asyncio.timeout(seconds):
        async for message in client.messages:
            return message
    raise AssertionError("the message stream ended")


def payload_of(message: aiomqtt.Message) -> bytes:
    assert isinstance(message.payload, bytes | bytearray)
    return bytes(message.payload)


async def test_device_messages_over_mqtt(kind: Kind, tmp_path: Path) -> None:
    async with live_platform(kind, tmp_path) as live:
        device, project, device_id = await live.device_in_project()
        root = wire.topic_root(device.iccid)
        async with live.cloud.client(device) as client:
            await client.subscribe(f"{root}/platform/down", qos=1)
            await client.subscribe(f"{root}/errors", qos=1)
            up_topic = wire.platform_topic(device.iccid, wire.PLATFORM_UP)
            await client.publish(up_topic, up("m1", -300), qos=1)
            await client.publish(up_topic, up("m1", -300), qos=1)  # a repeat
            bad = b'{"id":"m2","objects":[{"tag":1,"type":"int8","value":200}]}'
            await client.publish(up_topic, bad, qos=1)
            error = ErrorReport.from_json(payload_of(await next_message(client)))
            assert error.error == "objects[0].value: 200 is outside the int8 range -128..127"
            stored = await live.ok("GET", f"{P}/projects/{project}/messages")
            assert [(m["id"], m["direction"], m["device_id"]) for m in stored] == [
                ("m1", "up", device_id)
            ]
            assert stored[0]["objects"][0] == {"tag": 1, "type": "int16", "value": -300}
            body = {"id": "down-1", "objects": [{"tag": 9, "type": "uint32", "value": 4294967295}]}
            await live.ok("POST", f"{P}/projects/{project}/devices/{device_id}/messages", json=body)
            received = await next_message(client)
            assert str(received.topic) == f"{root}/platform/down"
            message = PlatformMessage.from_json(payload_of(received))
            assert message.to_dict() == body
        traffic = [
            json.loads(x) for x in live.cloud.backend.events.lines() if "platform_traffic" in x
        ]
        assert len(traffic) == 2  # one up (the repeat is not counted), one down


async def test_file_handed_to_a_device(tmp_path: Path) -> None:
    async with live_platform("embedded", tmp_path) as live:
        device, project, device_id = await live.device_in_project()
        await live.ok("PATCH", f"{P}/projects/{project}", json={"file_transfer": True})
        data = b"\x00\x01firmware" * 500
        digest = hashlib.sha256(data).hexdigest()
        async with live.cloud.client(device) as client:
            await client.subscribe(wire.platform_topic(device.iccid, wire.PLATFORM_FILES), qos=1)
            params = {"name": "fw.bin", "sha256": digest, "to": f"device:{device_id}"}
            await live.ok("POST", f"{P}/projects/{project}/files", params=params, content=data)
            notice = FileNotice.from_json(payload_of(await next_message(client)))
        assert (notice.size, notice.sha256, notice.name) == (len(data), digest, "fw.bin")
        async with httpx.AsyncClient(base_url=live.base, timeout=10) as device_http:
            r = await device_http.get(notice.path, auth=(device.iccid, device.token))
        assert hashlib.sha256(r.content).hexdigest() == r.headers["x-simgate-sha256"] == digest


async def test_webhook_delivery_after_an_outage(tmp_path: Path) -> None:
    receiver = Receiver(free_port())
    async with live_platform("embedded", tmp_path) as live:
        device, project, device_id = await live.device_in_project()
        adapter = await live.ok(
            "POST",
            f"{P}/projects/{project}/adapters",
            json={"kind": "outgoing_webhook", "url": receiver.url},
        )
        async with live.cloud.client(device) as client:
            for i in range(20):
                topic = wire.platform_topic(device.iccid, wire.PLATFORM_UP)
                await client.publish(topic, up(f"m{i}", i), qos=1)

        def pending() -> list[dict[str, Any]]:
            return [
                d.to_json() for d in live.cloud.backend.platform.outbox.entries(pending_only=True)
            ]

        await wait_until(lambda: any(d["attempts"] >= 2 for d in pending()), 10, "retries")
        assert len(pending()) == 20  # the receiver is down: nothing lost
        assert "ConnectError" in (pending()[0]["last_error"] or "")
        receiver.status = 503  # up, but failing
        await receiver.start()
        try:
            await asyncio.sleep(0.5)
            assert len(pending()) == 20
            receiver.status = 200
            await wait_until(lambda: not pending(), 15, "every delivery")
        finally:
            await receiver.stop()
        bodies = [r.json() for r in receiver.received]
        deliveries = [r.headers["x-simgate-delivery"] for r in receiver.received]
        assert [b["id"] for b in bodies] == deliveries  # the idempotency id, in body and header
        assert len(set(deliveries)) == 20  # each delivered once (the receiver saw no repeats)
        messages = [b["message"] for b in bodies]
        assert [m["id"] for m in messages] == [f"m{i}" for i in range(20)]  # all, in order
        assert {m["device_id"] for m in messages} == {device_id}
        for received in receiver.received:
            assert received.headers["x-simgate-signature"] == sign(adapter["secret"], received.body)
            assert received.json()["type"] == "message"
            assert received.json()["adapter"] == adapter["id"]


async def test_websocket_stream_round_trip(tmp_path: Path) -> None:
    async with live_platform("embedded", tmp_path) as live:
        device, project, device_id = await live.device_in_project()
        url = live.base.replace("http://", "ws://") + f"{P}/projects/{project}/stream"
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with ws_connect(url):
                pass
        auth = "Basic " + base64.b64encode(b"tok:sec").decode()
        async with (
            ws_connect(url, additional_headers={"Authorization": auth}) as stream,
            live.cloud.client(device) as client,
        ):
            await client.subscribe(wire.platform_topic(device.iccid, wire.PLATFORM_DOWN), qos=1)
            await client.publish(wire.platform_topic(device.iccid, wire.PLATFORM_UP), up("s1", 7))
            event = json.loads(await asyncio.wait_for(stream.recv(), 5))
            assert (event["type"], event["id"], event["device_id"]) == ("message", "s1", device_id)
            assert event["objects"][0]["value"] == 7
            await stream.send(json.dumps({"type": "send", "device_id": device_id, "objects": []}))
            error = json.loads(await asyncio.wait_for(stream.recv(), 5))
            assert (error["type"], error["error_code"]) == ("error", "invalid_message")
            command = {
                "type": "send",
                "device_id": device_id,
                "id": "c1",
                "objects": [{"tag": 4, "type": "binary", "value": "AAEC"}],
            }
            await stream.send(json.dumps(command))
            ack = json.loads(await asyncio.wait_for(stream.recv(), 5))
            assert (ack["type"], ack["id"], ack["source"]) == ("ack", "c1", "stream")
            received = PlatformMessage.from_json(payload_of(await next_message(client)))
            assert received.id == "c1"
            assert received.objects[0].value == "AAEC"
