"""What devices tell the cloud over MQTT (contracts §3): usage, state and status.

Free of MQTT: a broker adapter hands `DeviceReports.ingest` a batch of `Incoming`
messages and gets one `Outcome` each, all decided in one transaction (one fsync per batch).

- **usage**: validated with the shared wire schema; stored once per `(iccid, seq)` (the
  unique key, safety rule 3): a repeat is acknowledged and ignored. Each stored report
  appends a `device_usage` event to the billing log in the same transaction (at the
  report's `end`: the month its measurement closed).
- **state** (retained): what the emulator knows of the card (service rules §1.2: the lock
  state comes from device reports): `sim.state`, PIN/PUK tries left, PIN lock on/off.
- **status** (retained): `"online"`/`"offline"` (the broker's will says offline).

Bad input (safety rule 4) changes nothing: malformed or oversized JSON, wrong types, a
payload whose `iccid` is not the topic's, an unregistered or deleted SIM give an
`ErrorReport` for the device's `errors` topic. Lock and status changes go to the SIM's
session log (`SIM_STATE`, `DEVICE_ONLINE`, `DEVICE_OFFLINE`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import NotFound
from emulator.models import sessions
from emulator.models.device_messages import Incoming, Outcome, Verdict, peek_seq, reject
from emulator.models.device_sms import store_sms
from emulator.models.device_usage import UsageBatch
from emulator.models.sims import Sim, find_by_iccid
from emulator.store import Store, Tx
from simgate_common import wire
from simgate_common.wire import ErrorReport, Leaf, StateReport, WireError

log = logging.getLogger(__name__)

ONLINE = "DEVICE_ONLINE"
OFFLINE = "DEVICE_OFFLINE"
SIM_STATE = "SIM_STATE"
_MAX_STATE_TEXT = 32
_MAX_TRIES = 99


@dataclass(frozen=True)
class DeviceView:
    """What the emulator knows of a device (`GET /_emulator/sims/{iccid}`)."""

    iccid: str
    sim_id: str | None
    online: bool | None
    status_at: str | None
    sim_state: str | None
    pin_retries: int | None
    puk_retries: int | None
    pin_enabled: bool | None
    state_seq: int | None
    state_at: str | None
    state: dict[str, Any] | None
    updated_at: str | None
    reports: int
    last_seq: int | None
    bytes_up: int
    bytes_down: int


@dataclass(frozen=True)
class _Lock:
    """The lock fields of a state report's `sim` document."""

    state: str | None
    pin_retries: int | None
    puk_retries: int | None
    pin_enabled: bool | None

    def describe(self) -> str:
        tries = ", ".join(
            f"{name} tries left {value}"
            for name, value in (("PIN", self.pin_retries), ("PUK", self.puk_retries))
            if value is not None
        )
        text = f"device reports {self.state or 'an unknown SIM state'}"
        return f"{text} ({tries})" if tries else text


def _optional_int(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_TRIES:
        raise WireError(f"sim.{key}", f"must be an integer from 0 to {_MAX_TRIES}, or null")
    return value


def _lock_of(report: StateReport, iccid: str) -> _Lock:
    sim = dict(report.sim)
    state = sim.get("state")
    if state is not None and (not isinstance(state, str) or not 0 < len(state) <= _MAX_STATE_TEXT):
        raise WireError("sim.state", f"must be a string of 1 to {_MAX_STATE_TEXT} characters")
    card = sim.get("iccid")
    if card is not None and card != iccid:
        raise WireError("sim.iccid", "is not the topic's ICCID (a foreign report)")
    enabled = sim.get("pin_enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise WireError("sim.pin_enabled", "must be true, false or null")
    return _Lock(
        state, _optional_int(sim, "pin_retries"), _optional_int(sim, "puk_retries"), enabled
    )


Handler = Callable[[Tx, datetime, Incoming], "Outcome | None"]
"""Decides messages on topics other than the report leaves (None: not its topic)."""


class DeviceReports:
    """Ingest of device messages, and what they taught the emulator."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock
        self._handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        """Let another aggregate decide messages on its own topics (e.g. the platform's
        `platform/up`), in the same batch transaction."""
        self._handlers.append(handler)

    # --- ingest -----------------------------------------------------------------------

    def ingest(self, messages: Sequence[Incoming]) -> list[Outcome]:
        """Decide every message, in order, in one transaction; one outcome each.

        Only a database failure raises (and then nothing of the batch is kept).
        """
        usage = UsageBatch(messages)
        now = self._clock.now()
        with self._store.transaction() as db:
            sims: dict[str, Sim | None] = {}
            usage.look_up(db, now)
            outcomes = []
            for index, message in enumerate(messages):
                outcome = usage.decide(index, message)
                if outcome is None:
                    usage.flush()  # what was decided before this message is written first
                    outcome = self._one(db, now, sims, message)
                outcomes.append(outcome)
            usage.flush()
            return outcomes

    def _one(self, db: Tx, now: datetime, sims: dict[str, Sim | None], msg: Incoming) -> Outcome:
        try:
            iccid, leaf = wire.parse_topic(msg.topic)
        except WireError:
            for handler in self._handlers:
                outcome = handler(db, now, msg)
                if outcome is not None:
                    return outcome
            return Outcome(Verdict.IGNORED)
        if leaf in (Leaf.COMMANDS, Leaf.ERRORS):
            return Outcome(Verdict.IGNORED, iccid)
        if not msg.payload and leaf not in (Leaf.USAGE, Leaf.SMS):
            return Outcome(Verdict.IGNORED, iccid)  # a retained message being cleared
        if iccid not in sims:
            sims[iccid] = find_by_iccid(db, iccid)
        sim = sims[iccid]
        if leaf is Leaf.SMS:
            verdict, seq, why = store_sms(db, now, sim.id if sim else None, iccid, msg.payload)
            if verdict == "rejected":
                return reject(msg.topic, iccid, seq, why or "rejected")
            error = ErrorReport(msg.topic, seq, why) if why else None
            return Outcome(Verdict(verdict), iccid, error)
        if sim is None:
            return reject(msg.topic, iccid, None, f"no registered SIM has ICCID {iccid}")
        if leaf is Leaf.STATE:
            return self._state(db, now, sim, msg)
        return self._status(db, now, sim, msg)

    def _state(self, db: Tx, now: datetime, sim: Sim, msg: Incoming) -> Outcome:
        try:
            report = StateReport.from_json(msg.payload)
            lock = _lock_of(report, sim.iccid)
        except WireError as exc:
            return reject(msg.topic, sim.iccid, peek_seq(msg.payload), str(exc))
        row = db.one("SELECT * FROM device_state WHERE iccid = ?", (sim.iccid,))
        if row is not None and row["state_seq"] is not None:
            newer_seq = report.seq > row["state_seq"]
            newer_time = wire.parse_time(report.at) > wire.parse_time(row["state_at"])
            if not (newer_seq or newer_time):
                return Outcome(Verdict.DUPLICATE, sim.iccid)
        before = (
            None
            if row is None
            else _Lock(
                row["sim_state"],
                row["pin_retries"],
                row["puk_retries"],
                None if row["pin_enabled"] is None else bool(row["pin_enabled"]),
            )
        )
        self._ensure_row(db, now, sim.iccid)
        db.execute(
            "UPDATE device_state SET state_seq = ?, state_at = ?, sim_state = ?, "
            "pin_retries = ?, puk_retries = ?, pin_enabled = ?, state = ?, updated_at = ? "
            "WHERE iccid = ?",
            (
                report.seq,
                report.at,
                lock.state,
                lock.pin_retries,
                lock.puk_retries,
                None if lock.pin_enabled is None else int(lock.pin_enabled),
                report.to_json().decode(),
                iso_utc(now),
                sim.iccid,
            ),
        )
        if before is None or (before.state, before.pin_retries, before.puk_retries) != (
            lock.state,
            lock.pin_retries,
            lock.puk_retries,
        ):
            sessions.log(db, now, sim.id, SIM_STATE, reason=lock.describe(), imsi=sim.imsi)
        return Outcome(Verdict.STORED, sim.iccid)

    def _status(self, db: Tx, now: datetime, sim: Sim, msg: Incoming) -> Outcome:
        try:
            online = wire.parse_status(msg.payload)
        except WireError as exc:
            return reject(msg.topic, sim.iccid, None, str(exc))
        row = db.one("SELECT online FROM device_state WHERE iccid = ?", (sim.iccid,))
        if row is not None and row["online"] is not None and bool(row["online"]) == online:
            return Outcome(Verdict.DUPLICATE, sim.iccid)
        self._ensure_row(db, now, sim.iccid)
        db.execute(
            "UPDATE device_state SET online = ?, status_at = ?, updated_at = ? WHERE iccid = ?",
            (int(online), iso_utc(now), iso_utc(now), sim.iccid),
        )
        reason = (
            "the device said online" if online else "the device (or its last will) said offline"
        )
        sessions.log(db, now, sim.id, ONLINE if online else OFFLINE, reason=reason, imsi=sim.imsi)
        return Outcome(Verdict.STORED, sim.iccid)

    @staticmethod
    def _ensure_row(db: Tx, now: datetime, iccid: str) -> None:
        db.execute(
            "INSERT INTO device_state (iccid, updated_at) VALUES (?, ?) "
            "ON CONFLICT (iccid) DO NOTHING",
            (iccid, iso_utc(now)),
        )

    # --- read side --------------------------------------------------------------------

    def reports(self, iccid: str) -> list[dict[str, Any]]:
        """The stored usage payloads of an ICCID, each once, in `seq` order.

        NotFound when the ICCID is neither registered nor has any report stored.
        """
        with self._store.transaction() as db:
            rows = db.all(
                "SELECT payload FROM device_reports WHERE iccid = ? ORDER BY seq", (iccid,)
            )
            if not rows and find_by_iccid(db, iccid) is None:
                raise NotFound(f"no registered SIM has ICCID {iccid}", code="not_registered")
        return [json.loads(row["payload"]) for row in rows]

    def view(self, iccid: str) -> DeviceView:
        """What the emulator knows of the device; NotFound when it knows nothing."""
        with self._store.transaction() as db:
            sim = find_by_iccid(db, iccid)
            row = db.one("SELECT * FROM device_state WHERE iccid = ?", (iccid,))
            totals = db.one(
                "SELECT count(*) AS n, max(seq) AS last FROM device_reports WHERE iccid = ?",
                (iccid,),
            )
            volume = db.one(
                "SELECT coalesce(sum(json_extract(payload, '$.up')), 0) AS up, "
                "coalesce(sum(json_extract(payload, '$.down')), 0) AS down "
                "FROM device_reports WHERE iccid = ?",
                (iccid,),
            )
        count = int(totals["n"]) if totals is not None else 0
        if sim is None and row is None and count == 0:
            raise NotFound(
                f"the emulator knows no device with ICCID {iccid}", code="not_registered"
            )

        def col(name: str) -> Any:
            return None if row is None else row[name]

        enabled = col("pin_enabled")
        state = col("state")
        return DeviceView(
            iccid=iccid,
            sim_id=None if sim is None else sim.id,
            online=None if col("online") is None else bool(col("online")),
            status_at=col("status_at"),
            sim_state=col("sim_state"),
            pin_retries=col("pin_retries"),
            puk_retries=col("puk_retries"),
            pin_enabled=None if enabled is None else bool(enabled),
            state_seq=col("state_seq"),
            state_at=col("state_at"),
            state=None if state is None else json.loads(state),
            updated_at=col("updated_at"),
            reports=count,
            last_seq=None if totals is None else totals["last"],
            bytes_up=0 if volume is None else int(volume["up"]),
            bytes_down=0 if volume is None else int(volume["down"]),
        )
