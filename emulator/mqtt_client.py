"""The emulator's ingest client for an external broker (e.g. mosquitto).

It logs in with the emulator's own credentials (`simgate-emulator`, password in the
database), keeps a persistent session (`clean_session=False`, fixed client id, QoS 1
subscriptions to `simgate/v1/devices/+/usage`, `+/state`, `+/status` and
`+/platform/up`), so that a broker configured with persistence queues device messages
while the emulator is down, and acknowledges each message (manual PUBACK) only once it
is committed to SQLite. A message whose PUBACK never went out (emulator crash, lost link,
database failure) is sent again by the broker, and the `(iccid, seq)` key ignores the
repeat: exactly once.

One thread runs paho-mqtt's network loop itself: it reads every message that is ready (the
broker may have up to `max_inflight_messages` un-acknowledged) and hands them, as one
batch, to a writer thread that stores them in one transaction (one fsync for the batch);
while that commit runs it reads the next batch, and once the commit is done it sends the
batch's acknowledgements, in arrival order, on the same connection. Only the network
thread touches the client, so an acknowledgement can never travel on a later connection
than its message.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from emulator.ingest import DEFAULT_MAX_BATCH, IngestCounts
from emulator.models.credentials import INGEST_USERNAME, MqttLogin
from emulator.models.device_messages import Incoming, Outcome
from emulator.mqtt_broker import MqttSetting
from simgate_common import wire

log = logging.getLogger(__name__)

# mosquitto runs with `use_username_as_clientid true` (so no device can take another's
# client id): the ingest's persistent session is keyed by its username whatever it sends.
CLIENT_ID: Final = INGEST_USERNAME
SUBSCRIPTIONS: Final = (
    *(
        f"{wire.TOPIC_PREFIX}/+/{leaf.value}"
        for leaf in (wire.Leaf.USAGE, wire.Leaf.STATE, wire.Leaf.STATUS, wire.Leaf.SMS)
    ),
    f"{wire.TOPIC_PREFIX}/+/{wire.PLATFORM_UP}",
)
_REFUSED_LOGIN: Final = (4, 5, 134, 135)
_PUBLISH_WAIT: Final = 5.0
"""How long `publish` waits for the broker's PUBACK (seconds)."""
_IDLE: Final = 0.1
"""How long one network-loop turn waits for data (seconds): also how soon `stop()` acts."""


class ReportSink(Protocol):
    """What stores a batch of device messages (`DeviceReports`, or an ingest worker's
    locking wrapper): one outcome each, all or nothing."""

    def ingest(self, messages: Sequence[Incoming]) -> list[Outcome]:
        """Decide and store the batch in one transaction."""
        ...


class ExternalIngest:
    """Subscribes to every device's reports on an external broker and stores them."""

    def __init__(
        self,
        setting: MqttSetting,
        devices: ReportSink,
        login: MqttLogin,
        *,
        client_id: str = CLIENT_ID,
        subscriptions: Sequence[str] = SUBSCRIPTIONS,
        keepalive: int = 30,
        tls_context: ssl.SSLContext | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        retry: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.setting = setting
        self.login = login
        self.counts = IngestCounts()
        self.connects = 0
        self._devices = devices
        self._subscriptions = tuple(subscriptions)
        self._keepalive = keepalive
        self._max_batch = max_batch
        self._retry = retry
        self._pending: list[tuple[Incoming, int, int]] = []
        self._batch_since: float | None = None
        self._writer = ThreadPoolExecutor(1)  # made anew by every `start()`
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        self._client.username_pw_set(login.username, login.password)
        if tls_context is not None or setting.tls:
            self._client.tls_set_context(tls_context or ssl.create_default_context())
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    # --- control ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the session with the broker is up and subscribed."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the session is up; False after `timeout` seconds."""
        return self._connected.wait(timeout)

    def status(self) -> dict[str, object]:
        """For `GET /_emulator/mqtt`."""
        return {
            "url": self.setting.url,
            "embedded": False,
            "connected": self.connected,
            "ingest": self.counts.to_dict(),
        }

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish as the emulator (QoS 1) and wait for the broker's PUBACK;
        ConnectionError when it does not come (the caller retries)."""
        if not self.connected:
            raise ConnectionError(f"not connected to {self.setting.url}")
        info = self._client.publish(topic, payload, qos=1)
        await asyncio.to_thread(_wait_published, info, _PUBLISH_WAIT)

    def start(self) -> None:
        """Connect and ingest on a thread of its own (connecting is retried until it works)."""
        if self._thread is None:
            self._stopping.clear()
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="simgate-mqtt-store")
            self._thread = threading.Thread(target=self._run, name="simgate-mqtt-ingest")
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store and acknowledge what was read, then disconnect cleanly (the broker keeps
        the session and queues for it)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout)
            if thread.is_alive():
                log.error("MQTT ingest: did not stop within %.0f s", timeout)
            else:
                self._writer.shutdown()

    # --- the ingest thread --------------------------------------------------------------

    def _run(self) -> None:
        delay, longest = self._retry
        wait = delay
        while not self._stopping.is_set():
            try:
                self._client.connect(self.setting.host, self.setting.port, self._keepalive)
            except (OSError, ValueError) as exc:
                log.warning(
                    "MQTT ingest: cannot reach %s (%s); retrying in %.1f s",
                    self.setting.url,
                    exc,
                    wait,
                )
            else:
                if self._serve():
                    wait = delay
            self._connected.clear()
            if self._stopping.wait(wait):
                break
            wait = min(wait * 2, longest)
        self._client.disconnect()

    def _serve(self) -> bool:
        """Read, store, acknowledge until the connection ends or `stop()`; True when a
        session was up (so the retry delay starts afresh).

        Two stages overlap: while the writer thread stores one batch (SQLite and psycopg
        let go of the GIL while they work), this thread reads the next. A batch's
        acknowledgements go out from this thread, in order, on the connection that
        brought its messages; a batch still being written when that connection ends is
        finished but not acknowledged, and messages read but not handed over are left
        unacknowledged: the broker sends them again, and the `(iccid, seq)` key makes
        the copies duplicates."""
        client, pending = self._client, self._pending
        was_up = False
        writing: _Writing | None = None
        try:
            while True:
                rc = client.loop(_IDLE if writing is None else 0)
                while rc == paho.MQTT_ERR_SUCCESS and 0 < len(pending) < self._max_batch:
                    before = len(pending)
                    rc = client.loop(0)  # take whatever else is already here
                    if len(pending) == before:
                        break
                was_up |= self.connected
                up = rc == paho.MQTT_ERR_SUCCESS
                if writing is not None:
                    done, writing = writing, None
                    if not self._acknowledge(done, send=up):
                        up, rc = False, paho.MQTT_ERR_UNKNOWN
                stopping = self._stopping.is_set()
                if up and pending:
                    writing = self._hand_over()
                    if stopping:  # what was read is stored and acknowledged first
                        done, writing = writing, None
                        self._acknowledge(done, send=True)
                if stopping:
                    client.disconnect()
                    client.loop(0)  # send the DISCONNECT
                    return was_up
                if not up:
                    if was_up:
                        log.warning("MQTT ingest: lost %s (%s); reconnecting", self.setting.url, rc)
                    client.disconnect()
                    return was_up
        finally:
            pending.clear()  # unacknowledged: the broker sends them again
            if writing is not None:
                writing.future.exception()  # wait: never two batches in the store at once

    def _hand_over(self) -> _Writing:
        """Give the messages read so far to the writer thread."""
        batch = self._pending[:]
        self._pending.clear()
        self.counts.writing_since = self._batch_since
        future = self._writer.submit(self._devices.ingest, [message for message, _, _ in batch])
        return _Writing(batch, future, self._batch_since or time.monotonic())

    def _acknowledge(self, writing: _Writing, *, send: bool) -> bool:
        """Wait for a batch to be stored, then (`send`) acknowledge its messages in order,
        with an `errors` message before each rejected one; False when storing failed
        (nothing is acknowledged, and reconnecting makes the broker resend)."""
        batch = writing.batch
        try:
            outcomes = writing.future.result()
        except Exception as exc:  # sqlite3.Error, OSError: nothing of the batch was kept
            log.error(
                "MQTT ingest: could not store %d message(s) (%s); the broker will resend them",
                len(batch),
                exc,
            )
            self.counts.failures += len(batch)
            self.counts.writing_since = None
            return False
        self.counts.batches += 1
        self.counts.writing_since = None
        self.counts.last_lag = time.monotonic() - writing.since
        for (_, mid, qos), outcome in zip(batch, outcomes, strict=True):
            self.counts.verdicts[outcome.verdict] += 1
            if not send:
                continue
            topic, error = outcome.error_topic, outcome.error
            if topic is not None and error is not None:
                self._client.publish(topic, error.to_json(), qos=1)
            if qos > 0:
                self._client.ack(mid, qos)
        return True

    # --- paho callbacks (called from `client.loop`, on the ingest thread) --------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            hint = (
                ": check the broker's password file (simgate emulator mosquitto-config)"
                if getattr(reason, "value", None) in _REFUSED_LOGIN
                else ""
            )
            log.error(
                "MQTT ingest: %s refused the login of %s (%s)%s",
                self.setting.url,
                self.login.username,
                reason,
                hint,
            )
            return
        topics = [(topic, 1) for topic in self._subscriptions]
        result = (
            client.subscribe(topics)[0] if topics else paho.MQTT_ERR_SUCCESS
        )  # none: publish only
        if result != paho.MQTT_ERR_SUCCESS:
            log.warning("MQTT ingest: subscribing failed (%s)", result)
            return
        self.connects += 1
        self._connected.set()
        present = bool(getattr(flags, "session_present", False))
        log.info(
            "MQTT ingest: connected to %s as %s (session %s)",
            self.setting.url,
            self.login.username,
            "resumed" if present else "new",
        )

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = ""
        incoming = Incoming(topic, bytes(message.payload), bool(message.retain))
        if not self._pending:
            self._batch_since = time.monotonic()  # for the ingest lag metric
        self._pending.append((incoming, message.mid, message.qos))


@dataclass(frozen=True)
class _Writing:
    """A batch handed to the writer thread: (message, mid, qos) each, and its result."""

    batch: list[tuple[Incoming, int, int]]
    future: Future[list[Outcome]]
    since: float
    """When its oldest message was read (`time.monotonic()`)."""


def _wait_published(info: paho.MQTTMessageInfo, timeout: float) -> None:
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as exc:  # queue full, or the connection went away
        raise ConnectionError(f"publish failed: {exc}") from None
    if not info.is_published():
        raise ConnectionError(f"no PUBACK within {timeout:g} s")
