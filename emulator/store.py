"""The emulator's store: schema, one connection, explicit transactions; SQLite or PostgreSQL.

SQLite (a file; the embedded default): WAL journal with `synchronous=FULL`, so a write
acknowledged to a client has been fsynced and survives `kill -9` and power loss. Every
request runs in one `BEGIN IMMEDIATE` transaction under a process-wide lock, so concurrent
requests on the same SIM are serialised and a refused request changes nothing.

PostgreSQL (`postgresql://...`): the same statements, translated by
`emulator.storage.dialect`, and the same serialisation across processes and machines
through a transaction-scoped advisory lock (`emulator.storage.postgres`). The models write
SQLite's dialect through `Tx`; docs/scaling.md lists what is portable.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from emulator.storage import migrations
from emulator.storage.dialect import autoincrement_keys, split_script
from emulator.storage.postgres import PostgresEngine, is_postgres_url, redact
from emulator.storage.sqlite import SqliteEngine

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    entity_type TEXT NOT NULL DEFAULT 'business',
    contract_formed_at TEXT,
    suspension_enabled INTEGER NOT NULL DEFAULT 0,
    suspension_days INTEGER NOT NULL DEFAULT 30,
    session_cut_bytes INTEGER
);
CREATE TABLE IF NOT EXISTS cards (
    iccid TEXT PRIMARY KEY,
    imsi TEXT NOT NULL,
    passcode_hash TEXT NOT NULL,
    manufactured_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS switches (
    id TEXT PRIMARY KEY,
    zone TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    icon_id TEXT,
    mask_len INTEGER,
    default_route TEXT,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gateways (
    id TEXT PRIMARY KEY,
    zone TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    icon_id TEXT,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    power TEXT NOT NULL DEFAULT 'down',
    status_changed_at TEXT NOT NULL,
    switch_id TEXT REFERENCES switches(id),
    internet_enabled INTEGER NOT NULL DEFAULT 0,
    inter_device_enabled INTEGER NOT NULL DEFAULT 0,
    interface_settings TEXT NOT NULL DEFAULT '[]',
    static_routes TEXT NOT NULL DEFAULT '[]',
    dns1 TEXT,
    dns2 TEXT,
    traffic_config TEXT,
    sim_routes TEXT NOT NULL DEFAULT '[]',
    global_address TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sims (
    id TEXT PRIMARY KEY,
    iccid TEXT NOT NULL UNIQUE,
    imsi TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    icon_id TEXT,
    registered_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    activated INTEGER NOT NULL DEFAULT 0,
    activated_at TEXT,
    deactivated_at TEXT,
    ip TEXT UNIQUE,
    imei_lock TEXT,
    connected_imei TEXT,
    gateway_id TEXT REFERENCES gateways(id),
    attached INTEGER NOT NULL DEFAULT 0,
    session_up INTEGER NOT NULL DEFAULT 0,
    session_bytes INTEGER NOT NULL DEFAULT 0,
    session_cut INTEGER NOT NULL DEFAULT 0,
    operators TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sims_gateway ON sims (gateway_id);
CREATE TABLE IF NOT EXISTS session_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sim_id TEXT NOT NULL,
    gateway_id TEXT,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    imei TEXT,
    imsi TEXT
);
CREATE INDEX IF NOT EXISTS session_log_sim ON session_log (sim_id, seq);
CREATE TABLE IF NOT EXISTS sim_traffic (
    sim_id TEXT NOT NULL,
    month TEXT NOT NULL,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sim_id, month)
);
CREATE TABLE IF NOT EXISTS gateway_traffic (
    gateway_id TEXT NOT NULL,
    month TEXT NOT NULL,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    over_quota INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gateway_id, month)
);
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoice_status (
    month TEXT PRIMARY KEY,
    paid INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS device_reports (
    iccid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sim_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (iccid, seq)
);
CREATE TABLE IF NOT EXISTS device_state (
    iccid TEXT PRIMARY KEY,
    online INTEGER,
    status_at TEXT,
    state_seq INTEGER,
    state_at TEXT,
    sim_state TEXT,
    pin_retries INTEGER,
    puk_retries INTEGER,
    pin_enabled INTEGER,
    state TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS platform_account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    formed_at TEXT,
    ends_at TEXT,
    file_size_limit INTEGER NOT NULL DEFAULT 1048576,
    retry_initial REAL NOT NULL DEFAULT 0.5,
    retry_max REAL NOT NULL DEFAULT 60.0
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL,
    file_transfer INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS platform_device_ids (
    iccid TEXT PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    first_issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project_devices (
    iccid TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    registered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS project_devices_project ON project_devices (project_id);
CREATE TABLE IF NOT EXISTS platform_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    iccid TEXT NOT NULL,
    device_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    source TEXT NOT NULL,
    message_id TEXT NOT NULL,
    objects TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (iccid, direction, source, message_id)
);
CREATE INDEX IF NOT EXISTS platform_messages_project ON platform_messages (project_id, seq);
CREATE TABLE IF NOT EXISTS adapters (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered_at, target, seq);
CREATE TABLE IF NOT EXISTS platform_files (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sms_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    a2p_approved INTEGER NOT NULL DEFAULT 0,
    restricted_reason TEXT,
    restricted_at TEXT,
    rate_limit INTEGER NOT NULL DEFAULT 60,
    rate_window REAL NOT NULL DEFAULT 60,
    failure_rate REAL NOT NULL DEFAULT 0,
    seed INTEGER NOT NULL DEFAULT 0,
    fail_numbers TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS sms_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    end_user TEXT,
    delivered INTEGER NOT NULL,
    failure_reason TEXT,
    sent_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_messages_sent ON sms_messages (sent_at);
CREATE TABLE IF NOT EXISTS sms_contracts (
    kind TEXT PRIMARY KEY,
    formed_at TEXT,
    notice_at TEXT,
    ends_on TEXT
);
CREATE TABLE IF NOT EXISTS card_numbers (
    iccid TEXT PRIMARY KEY,
    msisdn TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS device_sms (
    iccid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sim_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (iccid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sms_radio (
    sms_id TEXT PRIMARY KEY,
    iccid TEXT NOT NULL,
    sender TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_radio_pending ON sms_radio (iccid, status);
INSERT OR IGNORE INTO account (id) VALUES (1);
INSERT OR IGNORE INTO platform_account (id) VALUES (1);
INSERT OR IGNORE INTO sms_settings (id) VALUES (1);
"""

# Tables emptied by a reset; `meta` (credentials, token key, clock) is kept.
RESET_TABLES = (
    "account",
    "cards",
    "sims",
    "gateways",
    "switches",
    "session_log",
    "sim_traffic",
    "gateway_traffic",
    "notifications",
    "invoice_status",
    "events",
    "device_reports",
    "device_state",
    "platform_account",
    "project_devices",
    "platform_device_ids",
    "platform_messages",
    "outbox",
    "adapters",
    "platform_files",
    "projects",
    "sms_settings",
    "sms_messages",
    "sms_contracts",
    "card_numbers",
    "sms_radio",
    "device_sms",
)


class Row(Protocol):
    """A result row: by column name or position, like `sqlite3.Row`."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]:
        """The column names."""
        ...

    def __iter__(self) -> Iterator[Any]: ...


class Result(Protocol):
    """What `Tx.execute` returns: a cursor's `rowcount`, `lastrowid` and rows."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT, UPDATE or DELETE."""
        ...

    @property
    def lastrowid(self) -> int | None:
        """The autoincrement key of the row an INSERT made."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        ...


Params = Sequence[object] | Mapping[str, object]  # positional `?` or named `:name`


class Store:
    """One database, SQLite file or PostgreSQL URL; `transaction()` is the only way in."""

    def __init__(
        self,
        target: Path | str,
        *,
        schema_migrations: Sequence[migrations.Migration] = migrations.MIGRATIONS,
    ) -> None:
        self.path = str(target)
        self.postgres = is_postgres_url(self.path)
        self._lock = threading.RLock()
        self._depth = 0
        self._engine: SqliteEngine | PostgresEngine
        if self.postgres:
            self._engine = PostgresEngine(self.path)
            self._engine.identity = autoincrement_keys(_SCHEMA)
        else:
            self._engine = SqliteEngine(self.path)
        with self.transaction() as db:
            self.migrated = migrations.apply(
                lambda sql, params: db.execute(sql, params),
                lambda sql: [int(row[0]) for row in db.all(sql)],
                split_script(_SCHEMA),
                schema_migrations,
            )

    @property
    def shared(self) -> bool:
        """True when other processes may write the same database (PostgreSQL): state
        cached in memory (the clock) must then be read again from the store."""
        return self.postgres

    @property
    def display(self) -> str:
        """Where the store is, without a password: for logs and `--json`."""
        return redact(self.path) if self.postgres else self.path

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The SQLite connection (tests that drive SQLite itself); TypeError on PostgreSQL."""
        if not isinstance(self._engine, SqliteEngine):
            raise TypeError("this store is PostgreSQL, not SQLite")
        return self._engine.db

    @contextmanager
    def transaction(self, *, shared: bool = False) -> Iterator[Tx]:
        """Run a block in one transaction: committed on success, rolled back on any
        exception. Nested use joins the outer transaction.

        `shared` (PostgreSQL) takes the store lock in shared mode: for ingest batches, which
        lock their ICCIDs with `Tx.lock_keys`, and for reads of settings (the clock). Never
        follow a sequence (`events.seq`, `platform_messages.seq`, ...) in a shared
        transaction: batches committing in parallel may show a later number before an
        earlier one; the exclusive lock (the default, as SQLite's `BEGIN IMMEDIATE`) waits
        until every batch in flight has committed, so a cursor never skips one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield Tx(self._engine)
                finally:
                    self._depth -= 1
                return
            self._engine.begin(shared=shared)
            self._depth = 1
            try:
                yield Tx(self._engine)
                self._engine.commit()
            except BaseException:
                self._engine.rollback()
                raise
            finally:
                self._depth = 0

    def reset(self) -> None:
        """Empty every table but `meta`, then recreate the default account."""
        with self.transaction() as db:
            for table in RESET_TABLES:
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            db.execute("INSERT OR IGNORE INTO account (id) VALUES (1)")
            db.execute("INSERT OR IGNORE INTO platform_account (id) VALUES (1)")
            db.execute("INSERT OR IGNORE INTO sms_settings (id) VALUES (1)")

    def close(self) -> None:
        """Close the connection (checkpointing the WAL on SQLite)."""
        with self._lock:
            self._engine.close()


class Tx:
    """The connection inside a transaction, with small helpers used by the models.

    SQL is SQLite's dialect (`?` placeholders, `INSERT OR IGNORE`, ...) plus
    `SELECT ... FOR UPDATE`; on PostgreSQL it is translated (docs/scaling.md)."""

    def __init__(self, engine: SqliteEngine | PostgresEngine) -> None:
        self._engine = engine

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement."""
        return self._engine.execute(sql, params)

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        """Run one statement for each row of parameters; how many rows it changed. (An
        INSERT's keys are not returned: use `execute` for `lastrowid`.)"""
        return self._engine.execute_many(sql, rows) if rows else 0

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        """The first row of a query, or None."""
        row: Row | None = self._engine.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Every row of a query."""
        return list(self._engine.execute(sql, params).fetchall())

    def epoch(self) -> float:
        """Now, in seconds since 1970, by the database server's clock on PostgreSQL (one
        clock for every machine), by this machine's on SQLite."""
        return self._engine.epoch()

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Hold a lock on each key until the transaction ends (PostgreSQL advisory locks,
        sorted; nothing on SQLite, where the transaction holds the whole file)."""
        self._engine.lock_keys(keys)

    def executescript_in_tx(self, script: str) -> None:
        """Run a script statement by statement (executescript would COMMIT first)."""
        for statement in split_script(script):
            self._engine.execute(statement, ())

    def meta_get(self, key: str) -> str | None:
        """A value of the `meta` table."""
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def meta_set(self, key: str, value: str) -> None:
        """Set a value of the `meta` table."""
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def new_id(self, table: str) -> str:
        """A fresh 12-digit numeric id, unique in `table` (Sakura ids look like this)."""
        while True:
            candidate = f"11{secrets.randbelow(10**10):010d}"
            if self.one(f"SELECT 1 FROM {table} WHERE id = ?", (candidate,)) is None:  # noqa: S608
                return candidate
