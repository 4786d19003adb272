"""The MQTT reporter: drains the outbox to the broker and takes the cloud's commands.

One session = one MQTT connection (client id and username = the ICCID, password = the
device token, persistent session so that commands sent during a short drop still
arrive, last will `status` = "offline" retained). On connect it subscribes to
`commands` and `errors` (each refusal by the cloud is logged as an error), publishes
`status` "online" and the latest `state` (both retained), then publishes waiting usage
records at QoS 1 with at most `window` un-acknowledged at once.
A record is deleted from the outbox only once `publish` has returned, which aiomqtt
does for QoS 1 only after the broker's PUBACK; so a record is sent at least once, and
the cloud's `(iccid, seq)` ingest makes it count once (safety rule 3).

When the connection fails or drops the session ends, every un-acked record goes back
to waiting, and the next attempt follows a capped exponential backoff with jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from agent.reporting.backoff import Backoff
from agent.reporting.outbox import STATE, Outbox
from agent.reporting.sms_outbox import SmsOutbox
from agent.reporting.token import Token
from simgate_common import wire
from simgate_common.wire import Command, ErrorReport, Op, StateReport, UsageReport, WireError

log = logging.getLogger(__name__)

CommandHandler = Callable[[Command], Awaitable[None]]
DEFAULT_WINDOW: Final = 32
MAX_WINDOW: Final = 1000
_SEEN_COMMANDS: Final = 256
_COMMAND_QUEUE: Final = 64
_REFUSED_CREDENTIALS: Final = (4, 5, 134, 135)
_STABLE_SESSION: Final = 10.0
"""A session that lasted this long (seconds) resets the backoff; a flapping one does not."""


@dataclass(frozen=True)
class Broker:
    """Where the broker is. `tls` (a client context) turns on MQTT over TLS."""

    host: str
    port: int = 1883
    tls: ssl.SSLContext | None = None
    keepalive: int = 30


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Reporter:
    """Reports one device's usage and state over MQTT and hands it the cloud's commands.

    Run `run()` as a task; end it with `stop()` (which publishes `status` "offline"
    first). `on_command` is awaited for every valid command, one at a time, in arrival
    order; `report_now` also drains the outbox at once and republishes the latest
    `state`. A command repeated by QoS 1 redelivery (same `id`) is passed on once.
    The outbox is read when `record()`/`wake()` say so, on every connect, and every
    `poll` seconds (records appended by another process are found that way).
    """

    def __init__(
        self,
        outbox: Outbox,
        broker: Broker,
        *,
        token: Token | None,
        on_command: CommandHandler | None = None,
        window: int = DEFAULT_WINDOW,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        poll: float = 30.0,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not 1 <= window <= MAX_WINDOW:
            raise ValueError(f"window must be 1 to {MAX_WINDOW} (paho keeps 16-bit ids)")
        self.outbox = outbox
        self.broker = broker
        self.iccid = outbox.iccid
        self.window = window
        self.timeout = timeout
        self.poll = poll
        self._token = token
        self._on_command = on_command
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._clock = clock
        self._status_topic = wire.status_topic(self.iccid)
        self._usage_topic = wire.usage_topic(self.iccid)
        self._state_topic = wire.state_topic(self.iccid)
        self._commands_topic = wire.commands_topic(self.iccid)
        self._errors_topic = wire.errors_topic(self.iccid)
        self._sms_topic = wire.sms_topic(self.iccid)
        self.sms_outbox: SmsOutbox | None = None
        """Received SMS to publish on `sms` (set by the daemon); acked on PUBACK."""
        self.sms_acked: Callable[[], None] | None = None
        """Called after the PUBACKs of a batch of SMS (the daemon then deletes them)."""
        self.refusals = 0
        """How many of our messages the cloud refused (its `errors` topic)."""
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        self._state: StateReport | None = None
        self._state_dirty = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._acked: list[int] = []
        self._commands: asyncio.Queue[Command] = asyncio.Queue(_COMMAND_QUEUE)
        self.connects = 0
        """How many sessions reached CONNACK."""
        self.published = 0
        """How many usage records the broker acknowledged."""
        self.last_error: str | None = None
        """Why the last session failed (never holds the token)."""

    # --- control --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once a session is up."""
        await self._connected.wait()

    def wake(self) -> None:
        """New records are in the outbox: send them now rather than at the next poll."""
        self._wake.set()

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
        """`outbox.append(...)` then `wake()`: store durably first, then send."""
        report = self.outbox.append(
            imei=imei,
            start=start,
            end=end,
            up=up,
            down=down,
            source=source,
            meter_state=meter_state,
        )
        self.wake()
        return report

    def report_state(
        self,
        sim: Mapping[str, Any],
        net: Mapping[str, Any],
        internet: Mapping[str, Any],
    ) -> StateReport:
        """Publish this state (retained) now or on the next connect; returns the report."""
        draft = StateReport(1, wire.format_time(self._clock()), sim, net, internet)
        draft.to_json()  # size check before a sequence number is spent
        report = dataclasses.replace(draft, seq=self.outbox.next_seq(STATE))
        self._state = report
        self._state_dirty = True
        self.wake()
        return report

    async def stop(self) -> None:
        """Ask `run()` to publish "offline", disconnect and return."""
        self._stopping.set()

    # --- main loop ------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a session up until `stop()`; broker trouble only delays, never ends it.

        Outbox errors (disk full, a damaged file) end it with `OutboxError`.
        """
        worker = asyncio.create_task(self._obey(), name=f"simgate-commands-{self.iccid}")
        attempt = 0
        try:
            while not self._stopping.is_set():
                connects = self.connects
                began = asyncio.get_running_loop().time()
                try:
                    await self._session()
                except (aiomqtt.MqttError, OSError) as exc:
                    self._note_failure(exc)
                if self._stopping.is_set():
                    break
                lasted = asyncio.get_running_loop().time() - began
                stable = self.connects > connects and lasted >= _STABLE_SESSION
                attempt = 0 if stable else attempt + 1
                delay = self._backoff.delay(attempt, self._rng)
                log.info("MQTT: reconnecting in %.2f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    def _note_failure(self, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        if self._token is not None:
            text = self._token.redact(text)
        self.last_error = text
        code = getattr(exc, "rc", None)
        if isinstance(exc, MqttConnectError) and code in _REFUSED_CREDENTIALS:
            log.error(
                "MQTT: %s:%d refused the credentials of %s (%s); check the device token",
                self.broker.host,
                self.broker.port,
                self.iccid,
                text,
            )
        else:
            log.warning("MQTT: session with %s:%d ended: %s", *self._where(), text)

    def _where(self) -> tuple[str, int]:
        return self.broker.host, self.broker.port

    def _client(self) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            username=self.iccid,
            password=self._token.reveal() if self._token is not None else None,
            identifier=self.iccid,
            will=aiomqtt.Will(self._status_topic, wire.OFFLINE, qos=1, retain=True),
            clean_session=False,
            keepalive=self.broker.keepalive,
            timeout=self.timeout,
            max_inflight_messages=self.window + 2,
            tls_context=self.broker.tls,
            logger=log.getChild("paho"),
        )
        # Our own window bounds what is pending; silence aiomqtt's per-publish warning.
        client.pending_calls_threshold = self.window + 4
        return client

    async def _session(self) -> None:
        async with self._client() as client:
            self.connects += 1
            self._connected.set()
            log.info("MQTT: connected to %s:%d as %s", *self._where(), self.iccid)
            try:
                await client.subscribe(self._commands_topic, qos=1)
                await client.subscribe(self._errors_topic, qos=1)
                await client.publish(self._status_topic, wire.ONLINE, qos=1, retain=True)
                self._state_dirty = self._state is not None
                await _until_first_done(
                    self._listen(client), self._drain(client), self._stopping.wait()
                )
                if self._stopping.is_set():
                    await self._say_offline(client)
            except (aiomqtt.MqttError, OSError):
                raise  # the link is gone or stuck: the will, or the next session, speaks
            except BaseException:  # cancelled, or the outbox failed: leave cleanly
                await self._say_offline(client)
                raise
            finally:
                self._connected.clear()

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean DISCONNECT suppresses the will, so say "offline" ourselves first."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await asyncio.wait_for(
                client.publish(self._status_topic, wire.OFFLINE, qos=1, retain=True),
                min(self.timeout, 2.0),
            )

    # --- usage and state ------------------------------------------------------------

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Keep up to `window` records in flight; never returns except by an error."""
        in_flight: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []
        cursor = 0

        def done(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            error = None if task.cancelled() else task.exception()
            if error is not None:
                errors.append(error)
            self._wake.set()

        try:
            while True:
                self._flush_acks()
                if errors:
                    raise errors[0]
                self._wake.clear()
                if self._state_dirty and self._state is not None:
                    self._state_dirty = False
                    await client.publish(
                        self._state_topic, self._state.to_json(), qos=1, retain=True
                    )
                await self._send_sms(client)
                room = self.window - len(in_flight)
                for report in self.outbox.pending(room, after=cursor) if room > 0 else []:
                    cursor = report.seq
                    task = asyncio.create_task(self._send(client, report))
                    in_flight.add(task)
                    task.add_done_callback(done)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll):
                        await self._wake.wait()
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            self._flush_acks()

    async def _send_sms(self, client: aiomqtt.Client) -> None:
        """Publish the waiting received SMS one by one; each is acked on its PUBACK."""
        if self.sms_outbox is None:
            return
        waiting = self.sms_outbox.pending()
        for sms in waiting:
            await client.publish(self._sms_topic, sms.to_json(), qos=1)
            self.sms_outbox.acknowledge(sms.seq)
        if waiting and self.sms_acked is not None:
            self.sms_acked()

    async def _send(self, client: aiomqtt.Client, report: UsageReport) -> None:
        await client.publish(self._usage_topic, report.to_json(), qos=1)
        self._acked.append(report.seq)
        self.published += 1

    def _flush_acks(self) -> None:
        """Delete the acknowledged records, all in one transaction (one fsync).

        Until then they are only remembered in memory; a crash in between merely
        sends them again, which the cloud's `(iccid, seq)` ingest ignores.
        """
        if self._acked:
            acked, self._acked = self._acked, []
            self.outbox.acknowledge_many(acked)

    # --- commands -------------------------------------------------------------------

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Parse commands as they come; the loop ends only when the connection does."""
        async for message in client.messages:
            if message.topic.matches(self._errors_topic):
                self._on_refusal(message.payload)
                continue
            if not message.topic.matches(self._commands_topic):
                log.warning("MQTT: ignored a message on unexpected topic %s", message.topic)
                continue
            try:
                command = Command.from_json(message.payload)
            except WireError as exc:
                log.warning("MQTT: ignored a malformed command: %s", exc)
                continue
            if command.id in self._seen:
                log.info("MQTT: command %s delivered again; already taken", command.id)
                continue
            self._seen[command.id] = None
            while len(self._seen) > _SEEN_COMMANDS:
                self._seen.popitem(last=False)
            log.info("MQTT: command %s: %s", command.id, command.op.value)
            if command.op is Op.REPORT_NOW:
                self._state_dirty = self._state is not None
                self.wake()
            try:
                self._commands.put_nowait(command)
            except asyncio.QueueFull:
                log.warning("MQTT: too many commands waiting; dropped %s", command.id)
        raise aiomqtt.MqttError("the message stream ended")

    def _on_refusal(self, payload: object) -> None:
        """The cloud refused one of our messages: say so loudly, it will not be stored.

        A `usage` seq refused as a repeat with other content means this outbox numbers
        from where an earlier one already did (a recreated state dir, a reflashed card):
        those records are acknowledged by the broker but not in the cloud's books.
        """
        try:
            refusal = ErrorReport.from_json(payload)
        except WireError as exc:
            log.warning("MQTT: ignored a malformed error report: %s", exc)
            return
        self.refusals += 1
        log.error(
            "MQTT: the cloud refused %s seq %s: %s", refusal.topic, refusal.seq, refusal.error
        )

    async def _obey(self) -> None:
        while True:
            command = await self._commands.get()
            if self._on_command is None:
                continue
            try:
                await self._on_command(command)
            except Exception:
                log.exception("command %s (%s) failed", command.id, command.op.value)


async def _until_first_done(*coroutines: Coroutine[Any, Any, object]) -> None:
    """Run all; when the first ends, cancel the rest; re-raise the first error if any."""
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["Broker", "CommandHandler", "Reporter"]
