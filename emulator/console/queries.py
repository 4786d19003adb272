"""The console's read side: paged, sorted, searched SQL over the emulator's tables.

Every list is cut by the database (`LIMIT`/`OFFSET` over an indexed order), never by
filtering the whole fleet in Python, so a page of a 10,000-SIM fleet costs the same as a
page of ten (benchmarks/console.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from emulator.store import Store, Tx

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50

# Sort keys a person may pick: the column's name in the result, and its expression.
SORTS: dict[str, tuple[str, str]] = {
    "iccid": ("iccid", "s.iccid"),
    "name": ("name", "s.name"),
    "registered": ("registered_at", "s.registered_at"),
    "state": ("activated", "s.activated"),
    "device": ("sim_state", "d.sim_state"),
    "last_report": ("last_report", ""),
    "traffic": ("traffic", "COALESCE(t.up, 0) + COALESCE(t.down, 0)"),
}
FILTERS: dict[str, str] = {
    "all": "1 = 1",
    "active": "s.activated = 1",
    "inactive": "s.activated = 0",
    "imei_locked": "s.imei_lock IS NOT NULL",
    "sim_locked": "d.sim_state IN ('SIM PIN', 'SIM PUK', 'BLOCKED')",
    "offline": "d.online = 0",
    "no_traffic": "t.sim_id IS NULL",
}
FILTER_LABELS: dict[str, str] = {
    "all": "all SIMs",
    "active": "activated",
    "inactive": "deactivated",
    "imei_locked": "IMEI-locked",
    "sim_locked": "PIN/PUK-locked or blocked (device report)",
    "offline": "device offline",
    "no_traffic": "no traffic this month",
}

# Indexes that keep every sort order of the SIM list an index walk (created if missing).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS console_sims_name ON sims (name, id)",
    "CREATE INDEX IF NOT EXISTS console_sims_registered ON sims (registered_at, id)",
    "CREATE INDEX IF NOT EXISTS console_sims_activated ON sims (activated, id)",
)


def ensure_indexes(store: Store) -> None:
    """Create the console's indexes (idempotent)."""
    with store.transaction() as db:
        for statement in INDEXES:
            db.execute(statement)


@dataclass(frozen=True)
class SimQuery:
    """What a person asked of the SIM list."""

    q: str = ""
    sort: str = "iccid"
    order: Literal["asc", "desc"] = "asc"
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE
    filter: str = "all"
    gateway_id: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        q: str | None,
        sort: str | None,
        order: str | None,
        page: str | None,
        size: str | None,
        filter_: str | None,
        gateway_id: str | None = None,
    ) -> SimQuery:
        """Read query parameters leniently: anything unknown falls back to the default."""
        number = int(page) if page and page.isdigit() else 1
        per = int(size) if size and size.isdigit() and int(size) in PAGE_SIZES else None
        return cls(
            q=(q or "").strip()[:64],
            sort=sort if sort in SORTS else "iccid",
            order="desc" if order == "desc" else "asc",
            page=max(1, min(number, 1_000_000)),
            size=per or DEFAULT_PAGE_SIZE,
            filter=filter_ if filter_ in FILTERS else "all",
            gateway_id=gateway_id,
        )

    def link(self, **changes: object) -> str:
        """The query string of this query with some parameters changed."""
        values = {
            "q": self.q,
            "sort": self.sort,
            "order": self.order,
            "page": self.page,
            "size": self.size,
            "filter": self.filter,
        }
        values.update(changes)
        defaults: dict[str, object] = {
            "q": "",
            "sort": "iccid",
            "order": "asc",
            "page": 1,
            "size": DEFAULT_PAGE_SIZE,
            "filter": "all",
        }
        kept = {k: v for k, v in values.items() if v != defaults.get(k)}
        return "?" + urlencode(kept) if kept else "?"


@dataclass(frozen=True)
class SimRow:
    """One line of the SIM list."""

    id: str
    iccid: str
    name: str
    tags: list[str]
    activated: bool
    imei_lock: str | None
    gateway_id: str | None
    attached: bool
    session_up: bool
    session_cut: bool
    registered_at: str
    online: bool | None
    sim_state: str | None
    pin_retries: int | None
    puk_retries: int | None
    last_report: str | None
    traffic: int


@dataclass(frozen=True)
class SimPage:
    """One page of the SIM list and how many SIMs matched."""

    query: SimQuery
    rows: list[SimRow]
    total: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.query.size))

    @property
    def first(self) -> int:
        """1-based position of the page's first row (0 when empty)."""
        return 0 if not self.rows else (self.query.page - 1) * self.query.size + 1


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(query: SimQuery) -> tuple[str, list[object]]:
    clauses = [FILTERS[query.filter]]
    params: list[object] = []
    if query.q:
        pattern = f"%{_escape_like(query.q.lower())}%"
        clauses.append(
            "(s.iccid LIKE ? ESCAPE '\\' OR LOWER(s.name) LIKE ? ESCAPE '\\' "
            "OR LOWER(s.tags) LIKE ? ESCAPE '\\')"
        )
        params += [pattern, pattern, pattern]
    if query.gateway_id is not None:
        clauses.append("s.gateway_id = ?")
        params.append(query.gateway_id)
    return " AND ".join(clauses), params


_FROM = (
    "FROM sims s LEFT JOIN device_state d ON d.iccid = s.iccid "
    "LEFT JOIN sim_traffic t ON t.sim_id = s.id AND t.month = ? "
)


def sim_page(db: Tx, query: SimQuery, month: str) -> SimPage:
    """The page of SIMs `query` asks for, with their traffic in `month` (JST)."""
    where, params = _where(query)
    count_row = db.one(f"SELECT count(*) AS n {_FROM} WHERE {where}", (month, *params))
    total = 0 if count_row is None else int(count_row["n"])
    page = min(query.page, max(1, -(-total // query.size)))
    query = SimQuery(**{**query.__dict__, "page": page})
    direction = "DESC" if query.order == "desc" else "ASC"
    alias, expression = SORTS[query.sort]
    outer_order = f"{alias} {direction}, id {direction}"
    last_usage = "(SELECT max(r.received_at) FROM device_reports r WHERE r.iccid = {}.iccid)"
    inner = (
        "SELECT s.id AS id, s.iccid AS iccid, s.name AS name, s.tags AS tags, "
        "s.activated AS activated, s.imei_lock AS imei_lock, s.gateway_id AS gateway_id, "
        "s.attached AS attached, s.session_up AS session_up, s.session_cut AS session_cut, "
        "s.registered_at AS registered_at, d.online AS online, d.sim_state AS sim_state, "
        "d.pin_retries AS pin_retries, d.puk_retries AS puk_retries, "
        "d.updated_at AS state_at, COALESCE(t.up, 0) + COALESCE(t.down, 0) AS traffic"
    )
    # Every piece of SQL below is a fixed fragment chosen from the tables above; values
    # travel as parameters.
    if query.sort == "last_report":
        # Only this order needs every matching SIM's latest report.
        sql = (
            "SELECT *, CASE WHEN last_usage IS NULL THEN state_at "  # noqa: S608
            "WHEN state_at IS NULL OR last_usage > state_at THEN last_usage "
            "ELSE state_at END AS last_report FROM "
            f"({inner}, {last_usage.format('s')} AS last_usage {_FROM} WHERE {where}) base "
            f"ORDER BY {outer_order} LIMIT ? OFFSET ?"
        )
    else:
        # The page is cut by an index walk first; the latest report is looked up for its
        # rows alone.
        sql = (
            f"SELECT *, {last_usage.format('base')} AS last_usage FROM "  # noqa: S608
            f"({inner} {_FROM} WHERE {where} "
            f"ORDER BY {expression} {direction}, s.id {direction} LIMIT ? OFFSET ?) base "
            f"ORDER BY {outer_order}"
        )
    offset = (query.page - 1) * query.size
    rows = db.all(sql, (month, *params, query.size, offset))
    return SimPage(query, [_sim_row(r) for r in rows], total)


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _sim_row(row: Any) -> SimRow:
    return SimRow(
        id=row["id"],
        iccid=row["iccid"],
        name=row["name"],
        tags=[str(t) for t in json.loads(row["tags"] or "[]")],
        activated=bool(row["activated"]),
        imei_lock=row["imei_lock"],
        gateway_id=row["gateway_id"],
        attached=bool(row["attached"]),
        session_up=bool(row["session_up"]),
        session_cut=bool(row["session_cut"]),
        registered_at=row["registered_at"],
        online=None if row["online"] is None else bool(row["online"]),
        sim_state=row["sim_state"],
        pin_retries=row["pin_retries"],
        puk_retries=row["puk_retries"],
        last_report=_later(row["last_usage"], row["state_at"]),
        traffic=int(row["traffic"]),
    )


@dataclass(frozen=True)
class Overview:
    """Counts for the front page."""

    sims: int
    activated: int
    imei_locked: int
    sim_locked: int
    online: int
    sessions_up: int
    gateways: int
    gateways_up: int
    traffic_month: int


def overview(db: Tx, month: str) -> Overview:
    """Fleet-wide counts, each one aggregate query."""
    row = db.one(
        "SELECT count(*) AS n, COALESCE(sum(activated), 0) AS a, "
        "COALESCE(sum(CASE WHEN imei_lock IS NULL THEN 0 ELSE 1 END), 0) AS l, "
        "COALESCE(sum(session_up), 0) AS u FROM sims"
    )
    dev = db.one(
        "SELECT COALESCE(sum(CASE WHEN d.sim_state IN ('SIM PIN', 'SIM PUK', 'BLOCKED') "
        "THEN 1 ELSE 0 END), 0) AS locked, COALESCE(sum(d.online), 0) AS online "
        "FROM device_state d JOIN sims s ON s.iccid = d.iccid"
    )
    gws = db.one(
        "SELECT count(*) AS n, COALESCE(sum(CASE WHEN power = 'up' THEN 1 ELSE 0 END), 0) AS up "
        "FROM gateways"
    )
    used = db.one(
        "SELECT COALESCE(sum(up + down), 0) AS v FROM sim_traffic WHERE month = ?", (month,)
    )
    assert row is not None
    assert dev is not None
    assert gws is not None
    assert used is not None
    return Overview(
        sims=int(row["n"]),
        activated=int(row["a"]),
        imei_locked=int(row["l"]),
        sim_locked=int(dev["locked"]),
        online=int(dev["online"]),
        sessions_up=int(row["u"]),
        gateways=int(gws["n"]),
        gateways_up=int(gws["up"]),
        traffic_month=int(used["v"]),
    )


@dataclass(frozen=True)
class DeviceInfo:
    """What the device told the cloud over MQTT (contracts §3)."""

    online: bool | None = None
    status_at: str | None = None
    sim_state: str | None = None
    pin_retries: int | None = None
    puk_retries: int | None = None
    pin_enabled: bool | None = None
    state_at: str | None = None
    state: dict[str, Any] | None = None
    reports: int = 0
    last_report: dict[str, Any] | None = None
    last_report_at: str | None = None


def device_info(db: Tx, iccid: str) -> DeviceInfo:
    """The device's last state, status and usage report."""
    row = db.one("SELECT * FROM device_state WHERE iccid = ?", (iccid,))
    last = db.one(
        "SELECT payload, received_at FROM device_reports WHERE iccid = ? ORDER BY seq DESC LIMIT 1",
        (iccid,),
    )
    count = db.one("SELECT count(*) AS n FROM device_reports WHERE iccid = ?", (iccid,))
    base = DeviceInfo(
        reports=0 if count is None else int(count["n"]),
        last_report=None if last is None else json.loads(last["payload"]),
        last_report_at=None if last is None else last["received_at"],
    )
    if row is None:
        return base
    return DeviceInfo(
        online=None if row["online"] is None else bool(row["online"]),
        status_at=row["status_at"],
        sim_state=row["sim_state"],
        pin_retries=row["pin_retries"],
        puk_retries=row["puk_retries"],
        pin_enabled=None if row["pin_enabled"] is None else bool(row["pin_enabled"]),
        state_at=row["state_at"],
        state=None if row["state"] is None else json.loads(row["state"]),
        reports=base.reports,
        last_report=base.last_report,
        last_report_at=base.last_report_at,
    )


@dataclass(frozen=True)
class LogRow:
    """One session-log row."""

    at: str
    status: str
    reason: str | None
    imei: str | None
    gateway_id: str | None


def session_log(db: Tx, sim_id: str, limit: int = 20) -> list[LogRow]:
    """The SIM's latest session-log rows, newest first."""
    rows = db.all(
        "SELECT at, status, reason, imei, gateway_id FROM session_log WHERE sim_id = ? "
        "ORDER BY seq DESC LIMIT ?",
        (sim_id, limit),
    )
    return [LogRow(r["at"], r["status"], r["reason"], r["imei"], r["gateway_id"]) for r in rows]


@dataclass(frozen=True)
class GatewayRow:
    """One line of the gateway list."""

    id: str
    zone: str
    name: str
    power: str
    internet_enabled: bool
    switch_id: str | None
    switch_name: str | None
    sims: int
    traffic: int
    tags: list[str] = field(default_factory=list)


def gateways(db: Tx, month: str) -> list[GatewayRow]:
    """Every gateway with its SIM count and this month's traffic."""
    rows = db.all(
        "SELECT g.id, g.zone, g.name, g.power, g.internet_enabled, g.switch_id, g.tags, "
        "w.name AS switch_name, "
        "(SELECT count(*) FROM sims s WHERE s.gateway_id = g.id) AS sims, "
        "COALESCE(t.up, 0) + COALESCE(t.down, 0) AS traffic "
        "FROM gateways g LEFT JOIN switches w ON w.id = g.switch_id "
        "LEFT JOIN gateway_traffic t ON t.gateway_id = g.id AND t.month = ? "
        "ORDER BY g.created_at, g.id",
        (month,),
    )
    return [
        GatewayRow(
            id=r["id"],
            zone=r["zone"],
            name=r["name"],
            power=r["power"],
            internet_enabled=bool(r["internet_enabled"]),
            switch_id=r["switch_id"],
            switch_name=r["switch_name"],
            sims=int(r["sims"]),
            traffic=int(r["traffic"]),
            tags=[str(t) for t in json.loads(r["tags"] or "[]")],
        )
        for r in rows
    ]


def gateway_names(db: Tx, ids: list[str]) -> dict[str, str]:
    """Gateway id -> name for the existing ones among `ids`."""
    wanted = sorted({i for i in ids if i.isdigit()})[:500]
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows = db.all(f"SELECT id, name FROM gateways WHERE id IN ({marks})", tuple(wanted))  # noqa: S608
    return {r["id"]: r["name"] for r in rows}


def fingerprint(db: Tx) -> str:
    """A short text that changes whenever anything a console page shows may have changed:
    the event log, the session log, device reports and states, SIMs, gateways, the clock."""
    parts = []
    for sql in (
        "SELECT max(seq) AS v FROM events",
        "SELECT max(seq) AS v FROM session_log",
        "SELECT max(updated_at) AS v FROM device_state",
        "SELECT max(modified_at) || ':' || count(*) || ':' || count(gateway_id) AS v FROM sims",
        "SELECT max(modified_at) || max(status_changed_at) || count(*) AS v FROM gateways",
        "SELECT value AS v FROM meta WHERE key = 'clock_virtual'",
    ):
        row = db.one(sql)
        parts.append("" if row is None or row["v"] is None else str(row["v"]))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
