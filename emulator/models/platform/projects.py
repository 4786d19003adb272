"""Projects and the Mono Platform contract (001 §51.2, §52.4, §53, §60).

- A project may be created only by a business or non-profit account (§53.2) that has a
  Secure Mobile Connect contract (§51.2; **Decision**: formed, with at least one SIM
  registered or one gateway in existence).
- The contract forms when the first project is created (§53.1). Deleting every project
  ends it at the end of that JST month (§60.2); creating a project before then withdraws
  the ending, creating one after it forms a new contract.
- A project that still has devices cannot be deleted (**Decision**, like a gateway with
  SIMs): remove them first. Its adapters go with it.
- Sub-options (§50.3, fees §56), billed per project per month: **service adapter**, set
  while the project has at least one adapter (`adapters.py` logs the first and the last);
  **file send/receive**, the project setting `file_transfer` (off by default; uploads are
  refused while it is off). Deleting a project clears both (`option_cleared`, then
  `project_deleted`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from emulator.clock import JST, VirtualClock, iso_utc
from emulator.errors import Conflict, Forbidden, NotFound
from emulator.models import events
from emulator.models.common import MAX_DESCRIPTION, MAX_NAME, check_text
from emulator.store import Store, Tx

ContractStatus = Literal["none", "active", "ending", "ended"]
ProjectOption = Literal["service_adapter", "file_transfer"]


@dataclass(frozen=True)
class Project:
    """A project: routes between SIM resources and sub-options (§52.4)."""

    id: str
    name: str
    description: str
    created_at: str
    devices: int
    file_transfer: bool = False
    adapters: int = 0


@dataclass(frozen=True)
class PlatformContract:
    """The Mono Platform contract as of the virtual now."""

    status: ContractStatus
    formed_at: str | None
    ends_on: str | None
    projects: int


def option_event(db: Tx, at: datetime, option: ProjectOption, project_id: str, *, on: bool) -> None:
    """`option_set` / `option_cleared` of a project's sub-option (§50.3, §56)."""
    kind: events.EventType = "option_set" if on else "option_cleared"
    events.append(db, at, kind, option=option, subject=project_id)


def _count(db: Tx, table: str, project_id: str) -> int:
    row = db.one(
        f"SELECT count(*) AS n FROM {table} WHERE project_id = ?",  # noqa: S608 - fixed names
        (project_id,),
    )
    return 0 if row is None else int(row["n"])


def _project(db: Tx, row: Any) -> Project:
    return Project(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        created_at=row["created_at"],
        devices=_count(db, "project_devices", row["id"]),
        file_transfer=bool(row["file_transfer"]),
        adapters=_count(db, "adapters", row["id"]),
    )


def load(db: Tx, project_id: str) -> Project:
    """The project with this id; NotFound otherwise."""
    row = db.one("SELECT * FROM projects WHERE id = ?", (project_id,))
    if row is None:
        raise NotFound(f"project {project_id!r} is not found", code="project_not_found")
    return _project(db, row)


def _month_end(now: datetime) -> date:
    local = now.astimezone(JST).date()
    return date(local.year, local.month, calendar.monthrange(local.year, local.month)[1])


def _contract(db: Tx, now: datetime) -> PlatformContract:
    row = db.one("SELECT formed_at, ends_at FROM platform_account WHERE id = 1")
    count = db.one("SELECT count(*) AS n FROM projects")
    projects = 0 if count is None else int(count["n"])
    if row is None or row["formed_at"] is None:
        return PlatformContract("none", None, None, projects)
    ends_on = row["ends_at"]
    if ends_on is None:
        return PlatformContract("active", row["formed_at"], None, projects)
    ended = now.astimezone(JST).date() > date.fromisoformat(ends_on)
    return PlatformContract("ended" if ended else "ending", row["formed_at"], ends_on, projects)


def require_secure_mobile_connect(db: Tx) -> None:
    """§51.2: the platform needs a Secure Mobile Connect contract."""
    formed = db.one("SELECT contract_formed_at FROM account WHERE id = 1")
    live = db.one("SELECT 1 FROM sims UNION ALL SELECT 1 FROM gateways LIMIT 1")
    if formed is None or formed["contract_formed_at"] is None or live is None:
        raise Forbidden(
            "the Mono Platform needs a Secure Mobile Connect contract (001 §51.2): "
            "register a SIM or create a mobile gateway first",
            code="secure_mobile_connect_required",
        )


def require_business(db: Tx) -> None:
    """§53.2: projects may be created for business use only."""
    row = db.one("SELECT entity_type FROM account WHERE id = 1")
    if row is not None and row["entity_type"] == "individual":
        raise Forbidden(
            "the Mono Platform is for business use by organisations only (001 §53.2): "
            "this account's entity_type is 'individual'",
            code="individual_account_refused",
        )


class Projects:
    """Create, read, rename and delete projects; the platform contract."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def create(self, name: str, description: str = "", *, file_transfer: bool = False) -> Project:
        """Create a project; the first one forms the contract (§53.1). `file_transfer`
        chooses the file send/receive sub-option at once (`option_set`)."""
        check_text("name", name, MAX_NAME)
        check_text("description", description, MAX_DESCRIPTION)
        now = self._clock.now()
        with self._store.transaction() as db:
            require_business(db)
            require_secure_mobile_connect(db)
            contract = _contract(db, now)
            if contract.status in ("none", "ended"):
                db.execute(
                    "UPDATE platform_account SET formed_at = ?, ends_at = NULL WHERE id = 1",
                    (iso_utc(now),),
                )
            elif contract.status == "ending":
                db.execute("UPDATE platform_account SET ends_at = NULL WHERE id = 1")
            project_id = db.new_id("projects")
            db.execute(
                "INSERT INTO projects (id, name, description, created_at, file_transfer) "
                "VALUES (?, ?, ?, ?, ?)",
                (project_id, name or project_id, description, iso_utc(now), int(file_transfer)),
            )
            events.append(db, now, "project_created", project=project_id)
            if file_transfer:
                option_event(db, now, "file_transfer", project_id, on=True)
            return load(db, project_id)

    def get(self, project_id: str) -> Project:
        """One project."""
        with self._store.transaction() as db:
            return load(db, project_id)

    def list_all(self) -> list[Project]:
        """Every project, oldest first."""
        with self._store.transaction() as db:
            rows = db.all("SELECT * FROM projects ORDER BY created_at, id")
            return [_project(db, row) for row in rows]

    def update(
        self,
        project_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        file_transfer: bool | None = None,
    ) -> Project:
        """Rename or redescribe a project, or turn its file send/receive sub-option on or
        off (`option_set` / `option_cleared` when it changes)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            project = load(db, project_id)
            if file_transfer is not None and file_transfer != project.file_transfer:
                option_event(db, now, "file_transfer", project_id, on=file_transfer)
            db.execute(
                "UPDATE projects SET name = ?, description = ?, file_transfer = ? WHERE id = ?",
                (
                    check_text("name", name, MAX_NAME) if name else project.name,
                    check_text("description", description, MAX_DESCRIPTION)
                    if description is not None
                    else project.description,
                    int(project.file_transfer if file_transfer is None else file_transfer),
                    project_id,
                ),
            )
            return load(db, project_id)

    def delete(self, project_id: str) -> Project:
        """Delete an empty project (its adapters and pending deliveries to them go too, and
        its sub-options are cleared); the last one ends the contract at the end of the
        month (§60.2)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            project = load(db, project_id)
            if project.devices:
                raise Conflict(
                    f"project {project_id} still has {project.devices} device(s): "
                    "unregister them first",
                    code="project_not_empty",
                )
            adapters = [
                r["id"]
                for r in db.all("SELECT id FROM adapters WHERE project_id = ?", (project_id,))
            ]
            for adapter_id in adapters:
                db.execute(
                    "DELETE FROM outbox WHERE target = ? AND delivered_at IS NULL",
                    (f"adapter:{adapter_id}",),
                )
            db.execute("DELETE FROM adapters WHERE project_id = ?", (project_id,))
            db.execute("DELETE FROM platform_files WHERE project_id = ?", (project_id,))
            db.execute("DELETE FROM projects WHERE id = ?", (project_id,))
            if project.adapters:
                option_event(db, now, "service_adapter", project_id, on=False)
            if project.file_transfer:
                option_event(db, now, "file_transfer", project_id, on=False)
            events.append(db, now, "project_deleted", project=project_id)
            if db.one("SELECT 1 FROM projects LIMIT 1") is None:
                db.execute(
                    "UPDATE platform_account SET ends_at = ? WHERE id = 1",
                    (_month_end(now).isoformat(),),
                )
            return project

    def contract(self) -> PlatformContract:
        """The contract's state at the virtual now."""
        with self._store.transaction() as db:
            return _contract(db, self._clock.now())
