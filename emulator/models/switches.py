"""The switch aggregate: a closed network needs one (001 §32.1, §32.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest, Conflict, NotFound
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
from emulator.store import Store, Tx


@dataclass(frozen=True)
class Switch:
    """A switch in one zone."""

    id: str
    zone: str
    name: str
    description: str
    tags: list[str]
    icon_id: str | None
    mask_len: int | None
    default_route: str | None
    created_at: datetime
    modified_at: datetime


def _from_row(row: Any) -> Switch:
    return Switch(
        id=row["id"],
        zone=row["zone"],
        name=row["name"],
        description=row["description"],
        tags=[str(t) for t in loads_list(row["tags"])],
        icon_id=row["icon_id"],
        mask_len=row["mask_len"],
        default_route=row["default_route"],
        created_at=datetime.fromisoformat(row["created_at"]),
        modified_at=datetime.fromisoformat(row["modified_at"]),
    )


def load(db: Tx, zone: str, switch_id: str) -> Switch:
    """The switch with this id in this zone; NotFound otherwise."""
    check_id("Switch", switch_id)
    row = db.one("SELECT * FROM switches WHERE id = ? AND zone = ?", (switch_id, zone))
    if row is None:
        raise NotFound(f"Switch [ID:{switch_id}] is not found in zone {zone}")
    return _from_row(row)


def _check_subnet(mask_len: int | None, default_route: str | None) -> None:
    if mask_len is not None and not 8 <= mask_len <= 29:
        raise BadRequest("NetworkMaskLen must be 8 to 29", code="invalid_parameter")
    if default_route is not None and default_route != "":
        check_ipv4("DefaultRoute", default_route)


class SwitchModel:
    """Operations on switches, each in one transaction."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def create(
        self,
        zone: str,
        *,
        name: str,
        description: str = "",
        tags: list[str] | None = None,
        icon_id: str | None = None,
        mask_len: int | None = None,
        default_route: str | None = None,
    ) -> Switch:
        """Create a switch."""
        check_text("Name", name, MAX_NAME)
        check_text("Description", description, MAX_DESCRIPTION)
        tags = check_tags(list(tags or []))
        _check_subnet(mask_len, default_route)
        now = iso_utc(self._clock.now())
        with self._store.transaction() as db:
            switch_id = db.new_id("switches")
            db.execute(
                "INSERT INTO switches (id, zone, name, description, tags, icon_id, mask_len, "
                "default_route, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    switch_id,
                    zone,
                    name,
                    description,
                    dumps(tags),
                    icon_id,
                    mask_len,
                    default_route or None,
                    now,
                    now,
                ),
            )
            return load(db, zone, switch_id)

    def get(self, zone: str, switch_id: str) -> Switch:
        """One switch."""
        with self._store.transaction() as db:
            return load(db, zone, switch_id)

    def list_all(self, zone: str) -> list[Switch]:
        """The zone's switches, oldest first."""
        with self._store.transaction() as db:
            rows = db.all("SELECT * FROM switches WHERE zone = ? ORDER BY created_at, id", (zone,))
        return [_from_row(r) for r in rows]

    def update(
        self,
        zone: str,
        switch_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        icon_id: str | None = None,
        mask_len: int | None = None,
        default_route: str | None = None,
    ) -> Switch:
        """Change a switch's fields; omitted ones stay."""
        _check_subnet(mask_len, default_route)
        now = iso_utc(self._clock.now())
        with self._store.transaction() as db:
            sw = load(db, zone, switch_id)
            db.execute(
                "UPDATE switches SET name = ?, description = ?, tags = ?, icon_id = ?, "
                "mask_len = ?, "
                "default_route = ?, modified_at = ? WHERE id = ?",
                (
                    check_text("Name", name, MAX_NAME) if name is not None else sw.name,
                    check_text("Description", description, MAX_DESCRIPTION)
                    if description is not None
                    else sw.description,
                    dumps(check_tags(tags)) if tags is not None else dumps(sw.tags),
                    icon_id if icon_id is not None else sw.icon_id,
                    mask_len if mask_len is not None else sw.mask_len,
                    (default_route or None) if default_route is not None else sw.default_route,
                    now,
                    switch_id,
                ),
            )
            return load(db, zone, switch_id)

    def delete(self, zone: str, switch_id: str) -> Switch:
        """Delete a switch no gateway is connected to."""
        with self._store.transaction() as db:
            sw = load(db, zone, switch_id)
            gw = db.one("SELECT id FROM gateways WHERE switch_id = ?", (switch_id,))
            if gw is not None:
                raise Conflict(
                    f"Switch [ID:{switch_id}] is connected to mobile gateway {gw['id']}: "
                    "disconnect it first",
                    code="switch_in_use",
                )
            db.execute("DELETE FROM switches WHERE id = ?", (switch_id,))
            return sw
