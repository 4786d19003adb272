"""The SIM aggregate: registration with the card's PASSCODE (001 §43.2), activation, the
IMEI lock (device lock, §31.3), the fixed IP option, carrier settings, status and log.

Registration and options write the billing event log in the same transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.clock import VirtualClock, iso_utc, jst_month
from emulator.errors import BadRequest, Conflict, NotFound
from emulator.models import account, events, sessions, traffic
from emulator.models.cards import card_imsi, check_iccid, passcode_matches
from emulator.models.common import (
    MAX_DESCRIPTION,
    MAX_NAME,
    check_id,
    check_ipv4,
    check_tags,
    check_text,
    dumps,
    loads_list,
)
from emulator.models.platform.devices import release_sim
from emulator.store import Store, Tx

log = logging.getLogger(__name__)

DEFAULT_OPERATORS: list[dict[str, Any]] = [
    {"allow": True, "country_code": "JP", "name": "KDDI"},
    {"allow": True, "country_code": "JP", "name": "SoftBank"},
    {"allow": True, "country_code": "JP", "name": "NTT DOCOMO"},
]


@dataclass(frozen=True)
class Sim:
    """A registered SIM (a `CommonServiceItem` with `Provider.Class: "sim"`)."""

    id: str
    iccid: str
    imsi: str
    name: str
    description: str
    tags: list[str]
    icon_id: str | None
    registered_at: datetime
    modified_at: datetime
    activated: bool
    activated_at: datetime | None
    deactivated_at: datetime | None
    ip: str | None
    imei_lock: str | None
    connected_imei: str | None
    gateway_id: str | None
    attached: bool
    session_up: bool
    session_bytes: int
    session_cut: bool
    operators: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SimStatus:
    """`sim/status`: the SIM and its traffic in the current JST month."""

    sim: Sim
    month: str
    traffic: traffic.Counter


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def sim_from_row(row: Any) -> Sim:
    """Build a Sim from a `sims` row."""
    return Sim(
        id=row["id"],
        iccid=row["iccid"],
        imsi=row["imsi"],
        name=row["name"],
        description=row["description"],
        tags=[str(t) for t in loads_list(row["tags"])],
        icon_id=row["icon_id"],
        registered_at=datetime.fromisoformat(row["registered_at"]),
        modified_at=datetime.fromisoformat(row["modified_at"]),
        activated=bool(row["activated"]),
        activated_at=_time(row["activated_at"]),
        deactivated_at=_time(row["deactivated_at"]),
        ip=row["ip"],
        imei_lock=row["imei_lock"],
        connected_imei=row["connected_imei"],
        gateway_id=row["gateway_id"],
        attached=bool(row["attached"]),
        session_up=bool(row["session_up"]),
        session_bytes=int(row["session_bytes"]),
        session_cut=bool(row["session_cut"]),
        operators=json.loads(row["operators"]),
    )


def load(db: Tx, sim_id: str) -> Sim:
    """The SIM with this id; NotFound otherwise."""
    check_id("SIM", sim_id)
    row = db.one("SELECT * FROM sims WHERE id = ?", (sim_id,))
    if row is None:
        raise NotFound(f"SIM [ID:{sim_id}] is not found")
    return sim_from_row(row)


def find_by_iccid(db: Tx, iccid: str) -> Sim | None:
    """The registered SIM with this ICCID, if any."""
    row = db.one("SELECT * FROM sims WHERE iccid = ?", (iccid,))
    return None if row is None else sim_from_row(row)


def names_by_iccid(db: Tx, iccids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """ICCID -> (SIM id, name) of the registered SIMs among `iccids`: `find_by_iccid` for
    many at once, one query per 500 ICCIDs."""
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(iccids), 500):
        chunk = tuple(iccids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT iccid, id, name FROM sims WHERE iccid IN ({marks})"  # noqa: S608 - marks
        for row in db.all(sql, chunk):
            found[row["iccid"]] = (row["id"], row["name"])
    return found


def check_imei(imei: str) -> str:
    """An IMEI is 15 decimal digits."""
    if not (isinstance(imei, str) and len(imei) == 15 and imei.isdigit()):
        raise BadRequest(
            f"invalid IMEI {imei!r}: it must be 15 decimal digits", code="invalid_imei"
        )
    return imei


class SimModel:
    """Operations on SIMs, each in one transaction."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Callable[[], object]] = []

    def on_change(self, listener: Callable[[], object]) -> None:
        """Call `listener()` after a SIM is registered, deleted, activated or deactivated
        (e.g. to rewrite a broker's password file or end a device's MQTT session: device
        tokens belong to registrations and are revoked while a SIM is deactivated)."""
        self._listeners.append(listener)

    def notify(self) -> None:
        """Tell the listeners that the set of registered SIMs changed."""
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("a listener of SIM registrations failed")

    def register(
        self,
        *,
        iccid: str,
        passcode: str,
        name: str = "",
        description: str = "",
        tags: list[str] | None = None,
        icon_id: str | None = None,
    ) -> Sim:
        """Register a shipped card (001 §43.2): right PASSCODE, business account (§34.2);
        forms the contract (§34.1) and starts the SIM's billing (`sim_registered`)."""
        check_iccid(iccid)
        check_text("Name", name, MAX_NAME)
        check_text("Description", description, MAX_DESCRIPTION)
        tags = check_tags(list(tags or []))
        now = self._clock.now()
        with self._store.transaction() as db:
            account.require_business(db)
            if find_by_iccid(db, iccid) is not None:
                raise Conflict(f"ICCID {iccid} is already registered", code="duplicate_iccid")
            match = passcode_matches(db, iccid, passcode)
            if match is None:
                raise BadRequest(
                    f"no card with ICCID {iccid} was shipped to this account "
                    "(emulator: manufacture one with POST /_emulator/sims)",
                    code="invalid_iccid",
                )
            if not match:
                raise BadRequest(
                    f"the PASSCODE does not match the card with ICCID {iccid}",
                    code="invalid_passcode",
                )
            imsi = card_imsi(db, iccid)
            assert imsi is not None
            sim_id = db.new_id("sims")
            db.execute(
                "INSERT INTO sims (id, iccid, imsi, name, description, tags, icon_id, "
                "registered_at, "
                "modified_at, operators) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sim_id,
                    iccid,
                    imsi,
                    name or iccid,
                    description,
                    dumps(tags),
                    icon_id,
                    iso_utc(now),
                    iso_utc(now),
                    dumps(DEFAULT_OPERATORS),
                ),
            )
            account.form_contract(db, now)
            events.append(db, now, "sim_registered", iccid=iccid)
            sim = load(db, sim_id)
        self.notify()
        return sim

    def get(self, sim_id: str) -> Sim:
        """One SIM."""
        with self._store.transaction() as db:
            return load(db, sim_id)

    def list_all(self) -> list[Sim]:
        """Every registered SIM, oldest first."""
        with self._store.transaction() as db:
            rows = db.all("SELECT * FROM sims ORDER BY registered_at, id")
        return [sim_from_row(r) for r in rows]

    def update(
        self,
        sim_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        icon_id: str | None = None,
    ) -> Sim:
        """Change the SIM's name, description, tags or icon."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = load(db, sim_id)
            db.execute(
                "UPDATE sims SET name = ?, description = ?, tags = ?, icon_id = ?, modified_at = ? "
                "WHERE id = ?",
                (
                    check_text("Name", name, MAX_NAME) if name is not None else sim.name,
                    check_text("Description", description, MAX_DESCRIPTION)
                    if description is not None
                    else sim.description,
                    dumps(check_tags(tags)) if tags is not None else dumps(sim.tags),
                    icon_id if icon_id is not None else sim.icon_id,
                    iso_utc(now),
                    sim_id,
                ),
            )
            return load(db, sim_id)

    def delete(self, sim_id: str) -> Sim:
        """Delete the SIM: its options are cleared, its SIM resource leaves its project
        (`device_unregistered`) and its billing ends (`sim_deleted`).
        A SIM still registered to a gateway must be removed from it first."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = load(db, sim_id)
            if sim.gateway_id is not None:
                raise Conflict(
                    f"SIM [ID:{sim_id}] is registered to mobile gateway {sim.gateway_id}: "
                    "delete it from the gateway first",
                    code="sim_in_use",
                )
            if sim.ip is not None:
                events.option_event(db, now, set_=False, option="ip", subject=sim.iccid)
            if sim.imei_lock is not None:
                events.option_event(db, now, set_=False, option="device_lock", subject=sim.iccid)
            sessions.end_session(db, now, sim_id, "sim_deleted", detach=True)
            release_sim(db, now, sim.iccid)
            db.execute("DELETE FROM sims WHERE id = ?", (sim_id,))
            events.append(db, now, "sim_deleted", iccid=sim.iccid)
        self.notify()
        return sim

    def set_activated(self, sim_id: str, activated: bool) -> Sim:
        """Activate or deactivate; a deactivated SIM is refused by the network and its
        session ends. Repeating the current state changes nothing."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = load(db, sim_id)
            if sim.activated == activated:
                return sim
            if activated:
                db.execute(
                    "UPDATE sims SET activated = 1, activated_at = ?, deactivated_at = NULL, "
                    "modified_at = ? WHERE id = ?",
                    (iso_utc(now), iso_utc(now), sim_id),
                )
            else:
                sessions.end_session(db, now, sim_id, "deactivated", detach=True)
                db.execute(
                    "UPDATE sims SET activated = 0, deactivated_at = ?, modified_at = ? "
                    "WHERE id = ?",
                    (iso_utc(now), iso_utc(now), sim_id),
                )
            sim = load(db, sim_id)
        self.notify()
        return sim

    def set_imei_lock(self, sim_id: str, imei: str | None) -> Sim:
        """Lock the SIM to one IMEI (device lock sub-option, 001 §31.3, §40), or unlock
        with None. Setting and clearing the option is recorded for billing."""
        if imei is not None:
            check_imei(imei)
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = load(db, sim_id)
            if (sim.imei_lock is None) != (imei is None):
                events.option_event(
                    db, now, set_=imei is not None, option="device_lock", subject=sim.iccid
                )
            db.execute(
                "UPDATE sims SET imei_lock = ?, modified_at = ? WHERE id = ?",
                (imei, iso_utc(now), sim_id),
            )
            return load(db, sim_id)

    def set_ip(self, sim_id: str, ip: str | None) -> Sim:
        """Assign a fixed IP (IP address assignment sub-option, §40), or clear it."""
        address = None if ip is None else check_ipv4("ip", ip)
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = load(db, sim_id)
            if address is not None:
                if sim.ip is not None:
                    raise Conflict(
                        f"SIM [ID:{sim_id}] already has IP address {sim.ip}: clear it first",
                        code="ip_already_assigned",
                    )
                other = db.one("SELECT id FROM sims WHERE ip = ?", (address,))
                if other is not None:
                    raise Conflict(
                        f"IP address {address} is used by SIM {other['id']}", code="ip_in_use"
                    )
            if (sim.ip is None) != (address is None):
                events.option_event(
                    db, now, set_=address is not None, option="ip", subject=sim.iccid
                )
            db.execute(
                "UPDATE sims SET ip = ?, modified_at = ? WHERE id = ?",
                (address, iso_utc(now), sim_id),
            )
            return load(db, sim_id)

    def set_operators(self, sim_id: str, operators: list[dict[str, Any]]) -> Sim:
        """Replace the carrier settings (`network_operator_config`)."""
        with self._store.transaction() as db:
            load(db, sim_id)
            db.execute("UPDATE sims SET operators = ? WHERE id = ?", (dumps(operators), sim_id))
            return load(db, sim_id)

    def status(self, sim_id: str) -> SimStatus:
        """The SIM with its traffic in the current JST month."""
        month = jst_month(self._clock.now())
        with self._store.transaction() as db:
            sim = load(db, sim_id)
            return SimStatus(sim=sim, month=month, traffic=traffic.sim_month(db, sim_id, month))

    def session_log(self, sim_id: str) -> list[sessions.LogEntry]:
        """The SIM's session log, newest first."""
        with self._store.transaction() as db:
            load(db, sim_id)
            return sessions.entries(db, sim_id=sim_id)
