"""SIM resources and device IDs (001 §52.2, §52.5, §55).

- A **SIM resource** exists for every registered SIM (§52.2): the emulator shows the
  registered SIMs as SIM resources, so one appears the moment a SIM is registered.
- Registering a SIM resource to a project issues its **device ID** (§52.5); removing it
  and registering it again, to any project, gives back the same device ID. **Decision**:
  the device ID belongs to the physical SIM (its ICCID), so it survives even deleting and
  registering the SIM again.
- `device_registered` (with `device_id`) and `device_unregistered` go to the billing log
  in the same transaction (§55). Deleting a SIM removes it from its project first.

This module reads the `sims` table directly (no import of `models.sims`, which calls
`release_sim` when a SIM is deleted).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest, Conflict, NotFound
from emulator.models import events
from emulator.models.platform import projects
from emulator.store import Store, Tx


@dataclass(frozen=True)
class SimResource:
    """A registered SIM as the platform sees it."""

    iccid: str
    sim_id: str
    created_at: str
    device_id: str | None
    project_id: str | None


@dataclass(frozen=True)
class Device:
    """A SIM resource registered to a project, with its device ID."""

    device_id: str
    iccid: str
    project_id: str
    registered_at: str


def _device(row: Any) -> Device:
    return Device(row["device_id"], row["iccid"], row["project_id"], row["registered_at"])


_JOIN = (
    "SELECT d.device_id, p.iccid, p.project_id, p.registered_at FROM project_devices p "
    "JOIN platform_device_ids d ON d.iccid = p.iccid"
)


def membership(db: Tx, iccid: str) -> Device | None:
    """The project the SIM resource is registered to, if any."""
    row = db.one(f"{_JOIN} WHERE p.iccid = ?", (iccid,))
    return None if row is None else _device(row)


def by_device_id(db: Tx, device_id: str) -> Device:
    """The registered device with this ID; NotFound otherwise (also when its SIM resource
    is not in any project now)."""
    row = db.one(f"{_JOIN} WHERE d.device_id = ?", (device_id,))
    if row is None:
        raise NotFound(
            f"device {device_id!r} is not registered to any project", code="device_not_found"
        )
    return _device(row)


def in_project(db: Tx, project_id: str, device_id: str) -> Device:
    """The device, which must be registered to this project."""
    projects.load(db, project_id)
    device = by_device_id(db, device_id)
    if device.project_id != project_id:
        raise NotFound(
            f"device {device_id!r} is not registered to project {project_id}",
            code="device_not_found",
        )
    return device


def _unregister(db: Tx, now: datetime, device: Device) -> None:
    db.execute("DELETE FROM project_devices WHERE iccid = ?", (device.iccid,))
    events.append(db, now, "device_unregistered", iccid=device.iccid, project=device.project_id)


def release_sim(db: Tx, now: datetime, iccid: str) -> None:
    """A SIM is being deleted: take its SIM resource out of its project (billing ends)."""
    device = membership(db, iccid)
    if device is not None:
        _unregister(db, now, device)


class Devices:
    """SIM resources, device IDs and project registration."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def resources(self) -> list[SimResource]:
        """Every SIM resource (registered SIM), oldest first."""
        with self._store.transaction() as db:
            rows = db.all(
                "SELECT s.iccid, s.id, s.registered_at, d.device_id, p.project_id "
                "FROM sims s LEFT JOIN platform_device_ids d ON d.iccid = s.iccid "
                "LEFT JOIN project_devices p ON p.iccid = s.iccid "
                "ORDER BY s.registered_at, s.id"
            )
        return [
            SimResource(r["iccid"], r["id"], r["registered_at"], r["device_id"], r["project_id"])
            for r in rows
        ]

    def register(self, project_id: str, iccid: str) -> Device:
        """Register the SIM resource to the project; issues (or gives back) its device ID."""
        if not (isinstance(iccid, str) and 18 <= len(iccid) <= 22 and iccid.isdigit()):
            raise BadRequest(f"iccid must be 18 to 22 digits, not {iccid!r}", code="invalid_iccid")
        now = self._clock.now()
        with self._store.transaction() as db:
            projects.load(db, project_id)
            if db.one("SELECT 1 FROM sims WHERE iccid = ?", (iccid,)) is None:
                raise NotFound(
                    f"no SIM resource for ICCID {iccid}: register the SIM first (001 §52.2)",
                    code="sim_resource_not_found",
                )
            current = membership(db, iccid)
            if current is not None:
                raise Conflict(
                    f"the SIM resource {iccid} is already registered to project "
                    f"{current.project_id} as device {current.device_id}: remove it first",
                    code="already_registered",
                )
            row = db.one("SELECT device_id FROM platform_device_ids WHERE iccid = ?", (iccid,))
            if row is None:
                device_id = f"dev-{secrets.token_hex(8)}"
                db.execute(
                    "INSERT INTO platform_device_ids (iccid, device_id, first_issued_at) "
                    "VALUES (?, ?, ?)",
                    (iccid, device_id, iso_utc(now)),
                )
            else:
                device_id = str(row["device_id"])
            db.execute(
                "INSERT INTO project_devices (iccid, project_id, registered_at) VALUES (?, ?, ?)",
                (iccid, project_id, iso_utc(now)),
            )
            events.append(
                db, now, "device_registered", iccid=iccid, project=project_id, device_id=device_id
            )
            return by_device_id(db, device_id)

    def unregister(self, project_id: str, device_id: str) -> Device:
        """Remove the SIM resource from the project (the device ID is kept for later)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            device = in_project(db, project_id, device_id)
            _unregister(db, now, device)
            return device

    def list_project(self, project_id: str) -> list[Device]:
        """The devices of a project."""
        with self._store.transaction() as db:
            projects.load(db, project_id)
            rows = db.all(
                f"{_JOIN} WHERE p.project_id = ? ORDER BY p.registered_at, d.device_id",
                (project_id,),
            )
        return [_device(r) for r in rows]

    def get(self, device_id: str) -> Device:
        """A registered device by its ID."""
        with self._store.transaction() as db:
            return by_device_id(db, device_id)
