"""The platform's dispatcher: drains the durable outbox in the background.

- `adapter:ID` deliveries are POSTed as JSON to the outgoing webhook's URL with
  `X-Simgate-Signature: sha256=<hex HMAC-SHA256 of the body>`, `X-Simgate-Delivery` and
  `Idempotency-Key` (both the delivery id, also the body's `id`). Any 2xx is success;
  anything else (refused connection, timeout, other status) is retried with exponential
  backoff, for ever, so nothing is lost while the outside system is down.
- `device:ICCID` deliveries are published (QoS 1) on the device's `platform/down` or
  `platform/files` topic through the broker (embedded or external); with no broker yet
  they wait and retry the same way.

Deliveries to one target go in order, targets in parallel. It wakes when the outbox
signals new work, when a held-back delivery becomes due, or every `poll` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from emulator.models.platform.adapters import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from emulator.models.platform.outbox import Delivery
from emulator.models.platform.service import Platform

log = logging.getLogger(__name__)


class Downlink(Protocol):
    """Something that publishes to devices: `EmbeddedBroker` or `ExternalIngest`."""

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish QoS 1; raise (e.g. ConnectionError) when it could not."""


class Dispatcher:
    """Background delivery of the outbox (start/stop in the app's lifespan)."""

    def __init__(
        self,
        platform: Platform,
        downlink: Callable[[], Downlink | None],
        *,
        poll: float = 0.5,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._platform = platform
        self._downlink = downlink
        self._poll = poll
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.delivered = 0
        self.failures = 0

    async def start(self) -> None:
        """Run in the current event loop until `stop()`."""
        if self._task is None:
            self._stopping = False
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
            self._task = asyncio.create_task(self._run(), name="simgate-platform-dispatch")

    async def stop(self) -> None:
        """Stop at once (pending deliveries stay in the outbox for the next start)."""
        task, self._task = self._task, None
        self._stopping = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        signal = self._platform.outbox.signal
        while not self._stopping:
            seen = signal.version
            wake: float | None = None
            try:
                wake = await self.run_once()
            except Exception:
                log.exception("platform dispatch: a round failed")
            deadline = time.monotonic() + self._poll
            while not self._stopping and signal.version == seen:
                if wake is not None and time.time() >= wake:
                    break
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.01)

    async def run_once(self) -> float | None:
        """Deliver everything due now; returns when the next held-back delivery is due."""
        queues, wake = self._platform.outbox.due()
        if queues:
            await asyncio.gather(*(self._drain(queue) for queue in queues))
        return wake

    async def _drain(self, queue: list[Delivery]) -> None:
        outbox = self._platform.outbox
        for item in queue:
            try:
                await self._deliver(item)
            except Exception as exc:
                self.failures += 1
                delay = outbox.failed(item.seq, _describe(exc))
                log.info(
                    "platform dispatch: delivery %s to %s failed (%s); retry in %.2f s",
                    item.delivery_id,
                    item.target,
                    _describe(exc),
                    delay,
                )
                return  # later deliveries to this target wait behind it
            outbox.delivered(item.seq)
            self.delivered += 1

    async def _deliver(self, item: Delivery) -> None:
        kind, _, target = item.target.partition(":")
        if kind == "device":
            link = self._downlink()
            if link is None:
                raise ConnectionError("no MQTT broker to publish to")
            payload = dict(item.payload)
            topic = str(payload.pop("topic"))
            await link.publish(topic, json.dumps(payload, separators=(",", ":")).encode())
            return
        endpoint = self._platform.adapters.endpoint(target)
        if endpoint is None:
            log.info("platform dispatch: adapter %s is gone; dropping %s", target, item.delivery_id)
            return
        url, secret = endpoint
        body = json.dumps(item.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            DELIVERY_HEADER: item.delivery_id,
            "Idempotency-Key": item.delivery_id,
        }
        assert self._client is not None
        response = await self._client.post(url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise ConnectionError(f"HTTP {response.status_code} from the webhook")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
