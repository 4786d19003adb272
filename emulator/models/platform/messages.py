"""Messages through the platform: typed objects between devices and outside systems.

- **Up**: a device publishes a `simgate_common.wire.PlatformMessage` on its
  `platform/up` topic. It is validated strictly (wire schema), must come from a SIM
  resource registered to a project, and is stored once per `(iccid, id)`: a repeat is
  acknowledged and ignored. A stored message is queued (outbox, same transaction) for
  every outgoing webhook of the project, and read by the project's WebSocket streams.
- **Down**: the REST API, an incoming webhook or a stream sends a message to a device of
  the project; it is stored and queued for the device's `platform/down` topic. A sender
  may give the `id` (then a repeat from the same source is answered with the stored
  message and not sent again), else one is made.
- Every carried message, either way, appends `platform_traffic` (`messages: 1`) to the
  billing log (001 §55: a device ID that carried no platform traffic in a month is free).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest
from emulator.models import events
from emulator.models.device_messages import Incoming, Outcome, Verdict
from emulator.models.platform import adapters, devices, projects
from emulator.models.platform.outbox import Outbox, Signal
from emulator.store import Store, Tx
from simgate_common import wire
from simgate_common.wire import ErrorReport, PlatformMessage, WireError

log = logging.getLogger(__name__)

MAX_LIST = 1000


@dataclass(frozen=True)
class Message:
    """A stored platform message."""

    seq: int
    id: str
    project_id: str
    device_id: str
    iccid: str
    direction: str
    source: str
    objects: list[dict[str, Any]]
    at: str

    def to_json(self) -> dict[str, Any]:
        """The JSON view used by the REST API, webhooks and the stream."""
        return {
            "seq": self.seq,
            "id": self.id,
            "project_id": self.project_id,
            "device_id": self.device_id,
            "iccid": self.iccid,
            "direction": self.direction,
            "source": self.source,
            "objects": self.objects,
            "at": self.at,
        }


def _message(row: Any) -> Message:
    return Message(
        seq=int(row["seq"]),
        id=row["message_id"],
        project_id=row["project_id"],
        device_id=row["device_id"],
        iccid=row["iccid"],
        direction=row["direction"],
        source=row["source"],
        objects=json.loads(row["objects"]),
        at=row["at"],
    )


def parse_body(doc: Mapping[str, Any]) -> PlatformMessage:
    """A REST/stream body `{"id"?, "objects"}` as a validated message (BadRequest naming
    the field otherwise); an omitted id is made up."""
    fields = dict(doc)
    if fields.get("id") is None:
        fields["id"] = uuid.uuid4().hex
    try:
        return PlatformMessage.from_doc(fields)
    except WireError as exc:
        raise BadRequest(f"invalid message: {exc}", code="invalid_message") from None


class Messages:
    """Store, route and read platform messages."""

    def __init__(self, store: Store, clock: VirtualClock, outbox: Outbox) -> None:
        self._store = store
        self._clock = clock
        self._outbox = outbox
        self.signal = Signal()
        """Bumped whenever a message is stored (the streams poll it)."""

    # --- up (MQTT) ----------------------------------------------------------------------

    def handle_mqtt(self, db: Tx, now: datetime, msg: Incoming) -> Outcome | None:
        """The `DeviceReports` hook: decide a platform topic's message (None: not ours)."""
        try:
            iccid, leaf = wire.parse_platform_topic(msg.topic)
        except WireError:
            return None
        if leaf != wire.PLATFORM_UP or not msg.payload:
            return Outcome(Verdict.IGNORED, iccid)
        try:
            message = PlatformMessage.from_json(msg.payload)
        except WireError as exc:
            return _reject(msg.topic, iccid, str(exc))
        device = devices.membership(db, iccid)
        if device is None:
            why = f"the SIM resource {iccid} is not registered to a project: message not stored"
            return _reject(msg.topic, iccid, why)
        stored = self._insert(db, now, device, "up", "device", message)
        if stored is None:
            return Outcome(Verdict.DUPLICATE, iccid)
        for adapter in adapters.outgoing(db, device.project_id):
            body = {
                "id": None,
                "type": "message",
                "adapter": adapter.id,
                "message": stored.to_json(),
            }
            self._outbox.enqueue(db, now, f"adapter:{adapter.id}", "message", body)
        return Outcome(Verdict.STORED, iccid)

    def _insert(
        self,
        db: Tx,
        now: datetime,
        device: devices.Device,
        direction: str,
        source: str,
        message: PlatformMessage,
    ) -> Message | None:
        objects = json.dumps([o.to_dict() for o in message.objects], separators=(",", ":"))
        cursor = db.execute(
            "INSERT INTO platform_messages (project_id, iccid, device_id, direction, source, "
            "message_id, objects, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (iccid, direction, source, message_id) DO NOTHING",
            (
                device.project_id,
                device.iccid,
                device.device_id,
                direction,
                source,
                message.id,
                objects,
                iso_utc(now),
            ),
        )
        if cursor.rowcount == 0:
            return None
        events.append(
            db, now, "platform_traffic", iccid=device.iccid, project=device.project_id, messages=1
        )
        self.signal.bump()
        row = db.one("SELECT * FROM platform_messages WHERE seq = ?", (cursor.lastrowid,))
        assert row is not None
        return _message(row)

    # --- down ---------------------------------------------------------------------------

    def send_down_in(
        self, db: Tx, project_id: str, device_id: str, message: PlatformMessage, source: str
    ) -> tuple[Message, bool]:
        """Store a message for a device of the project and queue it for MQTT, inside the
        caller's transaction; `(message, created)` (False: the same id was sent before)."""
        now = self._clock.now()
        device = devices.in_project(db, project_id, device_id)
        stored = self._insert(db, now, device, "down", source, message)
        if stored is None:
            row = db.one(
                "SELECT * FROM platform_messages WHERE iccid = ? AND direction = 'down' "
                "AND source = ? AND message_id = ?",
                (device.iccid, source, message.id),
            )
            assert row is not None
            return _message(row), False
        topic = wire.platform_topic(device.iccid, wire.PLATFORM_DOWN)
        self._outbox.enqueue(
            db, now, f"device:{device.iccid}", "message", {"topic": topic, **message.to_dict()}
        )
        return stored, True

    def send_down(
        self, project_id: str, device_id: str, doc: Mapping[str, Any], source: str = "api"
    ) -> tuple[Message, bool]:
        """Validate and send a message `{"id"?, "objects"}` to a device of the project."""
        message = parse_body(doc)
        with self._store.transaction() as db:
            return self.send_down_in(db, project_id, device_id, message, source)

    # --- read ---------------------------------------------------------------------------

    def list_project(
        self,
        project_id: str,
        *,
        after: int = 0,
        limit: int = 100,
        direction: str | None = None,
        device_id: str | None = None,
    ) -> list[Message]:
        """A project's messages with `seq > after`, oldest first."""
        if direction not in (None, "up", "down"):
            raise BadRequest("direction must be up or down", code="invalid_parameter")
        sql = "SELECT * FROM platform_messages WHERE project_id = ? AND seq > ?"
        params: list[object] = [project_id, max(after, 0)]
        if direction is not None:
            sql += " AND direction = ?"
            params.append(direction)
        if device_id is not None:
            sql += " AND device_id = ?"
            params.append(device_id)
        sql += " ORDER BY seq LIMIT ?"
        params.append(min(max(limit, 1), MAX_LIST))
        with self._store.transaction() as db:
            projects.load(db, project_id)
            rows = db.all(sql, tuple(params))
        return [_message(r) for r in rows]

    def latest_seq(self, project_id: str) -> int:
        """The highest message `seq` so far (0 when none): where a new stream starts."""
        with self._store.transaction() as db:
            projects.load(db, project_id)
            row = db.one("SELECT max(seq) AS s FROM platform_messages")
        return 0 if row is None or row["s"] is None else int(row["s"])


def _reject(topic: str, iccid: str, why: str) -> Outcome:
    log.info("MQTT: rejected a platform message on %s: %s", topic, why)
    return Outcome(Verdict.REJECTED, iccid, ErrorReport(topic[:256], None, why[:1024]))
