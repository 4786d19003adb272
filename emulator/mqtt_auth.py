"""Access control and ingest for the embedded amqtt broker (amqtt 0.12 plugin API).

- `DeviceAuthPlugin`: a device logs in as its ICCID with its device token, with its ICCID
  as client id and a will (if any) in its own root; the emulator's own login
  (`simgate-emulator`) is accepted too; anything else, anonymous included, is refused at
  CONNECT. `amqtt_broker.GuardedBroker` asks it before any stored session is touched. A
  token is good while its registration lasts and the SIM is not deactivated: when a SIM
  is deleted or deactivated, `IngestGate.end_revoked` closes the device's connection and
  forgets its stored session at once (its queued commands die with it).
- `DeviceTopicPlugin`: a device may publish, subscribe and receive only under its own root
  `simgate/v1/devices/{iccid}/` (like mosquitto's `pattern readwrite
  simgate/v1/devices/%u/#`); the emulator's login may use every device topic.
- `IngestGate`: stores a device's `usage`, `state`, `status` and `platform/up` messages
  **before** the
  broker acknowledges them. amqtt puts an incoming QoS 1 message on the session's
  `delivered_message_queue` and sends PUBACK only once that `put` returns; the auth plugin
  swaps that queue for a `_GatedQueue` whose `put` first waits for the ingest writer to
  commit the message. So a PUBACK always means "stored" (or "rejected, with an `errors`
  message"), and a crash between the two only makes the device send it again, which the
  `(iccid, seq)` key ignores (safety rule 3). Rejected messages are acknowledged but not
  passed on (nor retained) by the broker.

The plugins reach the gate through their `Config` (amqtt builds each plugin's dataclass
`Config` from the broker config, which `EmbeddedBroker` fills in).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from emulator.backend import Backend
from emulator.ingest import BatchWriter
from emulator.models.credentials import MqttLogin
from emulator.models.device_messages import Incoming, Outcome, Verdict
from emulator.models.sims import find_by_iccid
from simgate_common import wire
from simgate_common.wire import Leaf, WireError

log = logging.getLogger(__name__)

_INGESTED = (Leaf.USAGE, Leaf.STATE, Leaf.STATUS, Leaf.SMS)


class IngestGate:
    """Who may log in, which topics each login may use, and ingest before PUBACK."""

    def __init__(self, backend: Backend, writer: BatchWriter, login: MqttLogin) -> None:
        self.backend = backend
        self.writer = writer
        self.login = login
        self._broker: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: set[asyncio.Task[Any]] = set()
        backend.sims.on_change(self._sims_changed)

    @property
    def broker(self) -> Any:
        """The amqtt `Broker` (set once it exists, from its event loop): used to publish
        `errors` messages and to end revoked sessions."""
        return self._broker

    @broker.setter
    def broker(self, value: Any) -> None:
        self._broker = value
        try:
            self._loop = asyncio.get_running_loop() if value is not None else None
        except RuntimeError:
            self._loop = None

    # --- who and where ------------------------------------------------------------------

    def authenticate(self, username: str | None, password: str | None) -> bool:
        """True for the emulator's login or a registered SIM's ICCID with its token."""
        if username == self.login.username:
            return self.login.matches(username, password)
        try:
            iccid = wire.check_iccid(username)
        except WireError:
            return False
        with self.backend.store.transaction() as db:
            sim = find_by_iccid(db, iccid)
        if sim is None or (not sim.activated and sim.deactivated_at is not None):
            return False  # deleted, or deactivated: its token is revoked
        return self.backend.device_tokens.verify(sim, password or "")

    # --- revocation ---------------------------------------------------------------------

    def _sims_changed(self) -> None:
        """A SIM was registered, deleted or (de)activated: end what is no longer allowed,
        on the broker's loop (the change may come from another thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(self.end_revoked())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            asyncio.run_coroutine_threadsafe(self.end_revoked(), loop)

    async def end_revoked(self) -> int:
        """Close the connection and delete the stored session of every device whose login
        no longer holds (SIM deleted or deactivated, or registered anew with a new
        token); returns how many. Its will, if any, is published as for any lost link."""
        broker = self._broker
        if broker is None:
            return 0
        ended = 0
        for client_id, (session, handler) in list(broker._sessions.items()):
            if session.username == self.login.username:
                continue
            if self.authenticate(session.username, session.password):
                continue
            log.info("MQTT: ended the session of %s: its SIM is deleted or deactivated",
                     _who(session))  # fmt: skip
            writer = getattr(getattr(handler, "writer", None), "_writer", None)
            transport = getattr(writer, "transport", None)
            if transport is not None:
                transport.abort()
            await broker._delete_session(client_id)
            ended += 1
        return ended

    def refusal(
        self, client_id: str | None, username: str | None, password: str | None, will: str | None
    ) -> str | None:
        """Why a CONNECT is refused (None: accepted). A device must use its ICCID as
        client id (else it could take over another device's session and connection) and
        may leave a will only in its own root (amqtt does not check the will topic)."""
        if not self.authenticate(username, password):
            return "unknown user or wrong token"
        if username != self.login.username and client_id != username:
            return "a client id that is not its ICCID"
        if will is not None and ("+" in will or "#" in will or not self.allowed(username, will)):
            return "a will outside its own topic root"
        return None

    def permits(self, session: Any, topic: str | None, action: Any) -> bool:
        """May this session publish, subscribe or receive on `topic`? (A refusal is logged.)"""
        if session is None:
            return False
        allowed = self.allowed(session.username, topic)
        if not allowed:
            log.info("MQTT: %s may not %s %r", _who(session), action, topic)
        return allowed

    def allowed(self, username: str | None, topic: str | None) -> bool:
        """May this login use this topic (or topic filter)?"""
        if username is None or not topic:
            return False
        if username == self.login.username:
            return topic == wire.TOPIC_PREFIX or topic.startswith(wire.TOPIC_PREFIX + "/")
        try:
            root = wire.topic_root(username)
        except WireError:
            return False
        return topic == root or topic.startswith(root + "/")

    # --- ingest -------------------------------------------------------------------------

    async def admit(self, username: str | None, message: Any) -> bool:
        """Store a device's own report before it is acknowledged; False drops it."""
        topic = message.topic
        try:
            iccid, leaf = wire.parse_topic(topic)
            ingested = leaf in _INGESTED
        except WireError:
            try:
                iccid, platform_leaf = wire.parse_platform_topic(topic)
            except WireError:
                return True  # not a device topic: the topic plugin decides
            ingested = platform_leaf == wire.PLATFORM_UP
        if iccid != username or not ingested:
            return True  # another device's root is refused by the topic plugin
        packet = message.publish_packet
        retain = bool(packet.retain_flag) if packet is not None else False
        outcome = await self.writer.store(Incoming(topic, bytes(message.data or b""), retain))
        if outcome.error is not None:
            await self.report_error(outcome)
        return outcome.verdict is not Verdict.REJECTED

    def admit_later(self, username: str | None, message: Any, forward: Any) -> None:
        """QoS 0 has no acknowledgement to hold back: ingest in the background."""

        async def run() -> None:
            if await self.admit(username, message):
                forward(message)

        task = asyncio.ensure_future(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def admit_will(self, message: Any) -> None:
        """A retained `status` the broker set itself (a device's last will, which amqtt
        broadcasts without passing it through the session's queue): ingest it too."""
        session = getattr(message, "source_session", None)
        try:
            iccid, leaf = wire.parse_topic(message.topic)
        except WireError:
            return
        if leaf is not Leaf.STATUS or session is None or session.username != iccid:
            return
        outcome = await self.writer.store(Incoming(message.topic, bytes(message.data), True))
        if outcome.error is not None:
            await self.report_error(outcome)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish from the emulator (QoS 1), e.g. a platform message for a device."""
        if self.broker is None:
            raise ConnectionError("the embedded MQTT broker is not running")
        await self.broker.internal_message_broadcast(topic, payload, 1)

    async def report_error(self, outcome: Outcome) -> None:
        """Publish the rejection on the device's `errors` topic (QoS 1)."""
        topic, error = outcome.error_topic, outcome.error
        if self.broker is None or topic is None or error is None:
            return
        await self.broker.internal_message_broadcast(topic, error.to_json(), 1)

    async def close(self) -> None:
        """Wait for background (QoS 0) ingests."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


class _GatedQueue(asyncio.Queue[Any]):
    """A session's queue of incoming messages that lets a message in only once the gate
    has stored it (amqtt sends the QoS 1 PUBACK after `put` returns)."""

    def __init__(self, gate: IngestGate, session: Any, previous: asyncio.Queue[Any]) -> None:
        super().__init__()
        self._gate = gate
        self._session = session
        while not previous.empty():
            super().put_nowait(previous.get_nowait())

    async def put(self, item: Any) -> None:
        """Store first (may raise `IngestError`: then no PUBACK), then pass it on."""
        if await self._gate.admit(self._session.username, item):
            super().put_nowait(item)

    def put_nowait(self, item: Any) -> None:
        """QoS 0 path: no acknowledgement waits on it."""
        self._gate.admit_later(self._session.username, item, super().put_nowait)


def _who(session: Any) -> str:
    """A username fit for a log: an ICCID or the emulator's login, else a placeholder (a
    confused client might send its token as the username)."""
    name = session.username
    try:
        return wire.check_iccid(name)
    except WireError:
        return "a user that is not an ICCID"


def _gate_of(config: Any) -> IngestGate:
    gate = getattr(config, "gate", None)
    if not isinstance(gate, IngestGate):
        raise TypeError("the simgate MQTT plugins need an IngestGate in their config")
    return gate


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Logins: ICCID + device token, or the emulator's own; installs the ingest gate."""

    @dataclass
    class Config:
        """Plugin settings: the gate (set by `EmbeddedBroker`)."""

        gate: Any = None

    async def authenticate(self, *, session: Any) -> bool:
        """Accept or refuse the CONNECT (the token is never logged)."""
        gate = _gate_of(self.config)
        will = session.will_topic if session.will_flag else None
        refusal = gate.refusal(session.client_id, session.username, session.password, will)
        if refusal is not None:
            log.info("MQTT: refused the login of %s (%s)", _who(session), refusal)
            return False
        session.is_anonymous = False
        if not isinstance(session.delivered_message_queue, _GatedQueue):
            session.delivered_message_queue = _GatedQueue(
                gate, session, session.delivered_message_queue
            )
        return True

    async def on_broker_retained_message(
        self, *, client_id: str | None, retained_message: Any
    ) -> None:
        """Every retained message the broker stores; wills are among them."""
        if client_id is None and retained_message.data:
            await _gate_of(self.config).admit_will(retained_message)


class DeviceTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Each device under its own topic root only."""

    @dataclass
    class Config:
        """Plugin settings: the gate (set by `EmbeddedBroker`)."""

        gate: Any = None

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool:
        """Publish, subscribe or receive: only under the login's own root."""
        return _gate_of(self.config).permits(session, topic, action)
