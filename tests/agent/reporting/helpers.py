"""What the reporting tests share: a cloud-side subscriber, polling, sample records."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiomqtt

from agent.reporting.outbox import Outbox
from simgate_common.wire import UsageReport

ICCID = "89811000000000000004"
OTHER_ICCID = "89811000000000000012"
IMEI = "356938035643809"


def append_records(outbox: Outbox, count: int) -> list[UsageReport]:
    """`count` distinct records appended to `outbox`."""
    return [
        outbox.append(
            imei=IMEI,
            start="2026-01-01T00:00:00Z",
            end="2026-01-01T00:05:00Z",
            up=1000 + i,
            down=2000 + i,
            source="modem",
        )
        for i in range(count)
    ]


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` every 10 ms; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Received:
    """One message as the cloud saw it."""

    topic: str
    payload: bytes
    retain: bool


class Collector:
    """The cloud's side: subscribes to every device topic and keeps what arrives.

    Reconnects by itself (every 50 ms) when the broker goes away. With `persistent`, it
    keeps a broker session, so that messages published while it is away are queued.
    """

    def __init__(
        self,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        identifier: str = "test-cloud",
        persistent: bool = False,
        topic: str = "simgate/v1/devices/#",
    ) -> None:
        self.port = port
        self.username = username
        self.password = password
        self.identifier = identifier
        self.persistent = persistent
        self.topic = topic
        self.received: list[Received] = []
        self.connects = 0
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    username=self.username,
                    password=self.password,
                    identifier=self.identifier,
                    clean_session=not self.persistent,
                    timeout=5,
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.connects += 1
                    self._subscribed.set()
                    async for message in client.messages:
                        payload = message.payload
                        assert isinstance(payload, bytes | bytearray)
                        self.received.append(
                            Received(str(message.topic), bytes(payload), message.retain)
                        )
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._subscribed.wait(), 5)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on(self, leaf: str, iccid: str = ICCID) -> list[Received]:
        """Messages received on one device topic, in arrival order."""
        topic = f"simgate/v1/devices/{iccid}/{leaf}"
        return [r for r in self.received if r.topic == topic]

    def usage_seqs(self, iccid: str = ICCID) -> list[int]:
        """The `seq` of every usage message, repeats included, in arrival order."""
        return [int(json.loads(r.payload)["seq"]) for r in self.on("usage", iccid)]

    def usage_payloads(self, iccid: str = ICCID) -> dict[int, bytes]:
        """Usage payloads by `seq` (the cloud's deduplication by `(iccid, seq)`)."""
        return {int(json.loads(r.payload)["seq"]): r.payload for r in self.on("usage", iccid)}

    def statuses(self, iccid: str = ICCID) -> list[bytes]:
        """`status` payloads in arrival order."""
        return [r.payload for r in self.on("status", iccid)]
