"""The PostgreSQL engine of the store (psycopg 3): one connection, explicit transactions.

Semantics kept from SQLite: every transaction of the API first takes one
transaction-scoped advisory lock in exclusive mode (`pg_advisory_xact_lock`), the
PostgreSQL form of SQLite's `BEGIN IMMEDIATE`, so writers in every process and machine
on the database are serialised as they are on one SQLite file, and a refused request
changes nothing. Ingest batches take that lock in shared mode instead, plus one lock per
ICCID of the batch (sorted, so two workers never deadlock): batches of different devices
commit in parallel, a device's messages are still decided one batch at a time, and any
API transaction still sees the store as one writer left it. `(iccid, seq)`'s primary key
decides duplicates whatever the locks.

Parameters are bound on the client side (`ClientCursor`), as SQLite's loose typing
expects (a text literal compares with any column); booleans are stored as 0/1, and
`numeric` results (`sum` of integers) come back as `int`, as from SQLite.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.rows import RowMaker

from emulator.storage.dialect import to_postgres

log = logging.getLogger(__name__)

STORE_LOCK: Final = 0x73696D67617465  # "simgate": the store-wide advisory lock's key
SCHEMES: Final = ("postgresql://", "postgres://")


def is_postgres_url(target: object) -> bool:
    """True when `--db` names a PostgreSQL database rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for logs and errors."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host, port, name = info.get("host", ""), info.get("port", ""), info.get("dbname", "")
    user = info.get("user")
    who = f"{user}@" if user else ""
    return f"postgresql://{who}{host}{':' if port else ''}{port}/{name}"


class PgRow:
    """A result row that reads like `sqlite3.Row`: by position, by column name, `keys()`."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        """The value of a column, by name or position."""
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    result = cursor.pgresult  # not `description`, which builds Column objects
    index: dict[str, int] = {}
    if result is not None:
        index = {(result.fname(i) or b"").decode(): i for i in range(result.nfields)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, index)

    return make


class _NumberLoader(Loader):
    """`numeric` as SQLite would give it: an int when integral, else a float."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode()
        if any(mark in text for mark in ".eEN"):  # a fraction, an exponent, NaN
            return float(text)
        return int(text)


class PgResult:
    """What `Tx.execute` returns on PostgreSQL: `rowcount`, `lastrowid`, the rows."""

    def __init__(self, cursor: psycopg.Cursor[PgRow], returning: str | None) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid: int | None = None
        # `description` builds its column list on every access: ask the result once.
        result = cursor.pgresult
        self._rows = result is not None and result.status == psycopg.pq.ExecStatus.TUPLES_OK
        if returning is not None and self._rows:
            row = cursor.fetchone()
            self.lastrowid = None if row is None else int(row[0])

    def fetchone(self) -> PgRow | None:
        """The next row, or None."""
        return self._cursor.fetchone() if self._rows else None

    def fetchall(self) -> list[PgRow]:
        """The remaining rows."""
        return self._cursor.fetchall() if self._rows else []

    def __iter__(self) -> Iterator[PgRow]:
        return iter(self.fetchall())


def _adapt(params: Sequence[object] | Mapping[str, object]) -> Any:
    """Booleans as 0/1 (the schema's flags are integers, as in SQLite)."""
    if isinstance(params, Mapping):
        return {k: int(v) if isinstance(v, bool) else v for k, v in params.items()}
    return tuple(int(v) if isinstance(v, bool) else v for v in params)


class PostgresEngine:
    """One psycopg connection in autocommit mode; `begin`/`commit`/`rollback` by hand."""

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.identity: dict[str, str] = {}
        self._timeout = connect_timeout
        self._conn = self._connect()

    def _connect(self) -> psycopg.Connection[PgRow]:
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            row_factory=_row_factory,
            connect_timeout=max(1, int(self._timeout)),
            application_name="simgate-emulator",
        )
        conn.adapters.register_loader("numeric", _NumberLoader)
        return conn

    def begin(self, *, shared: bool) -> None:
        """Start a transaction holding the store lock (shared or exclusive)."""
        if self._conn.closed or self._conn.broken:
            log.warning("store: reconnecting to %s", redact(self.url))
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = self._connect()
        self._conn.execute("BEGIN")
        lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        try:
            self._conn.execute(f"SELECT {lock}(%s)", (STORE_LOCK,))
        except BaseException:
            self.rollback()
            raise

    def commit(self) -> None:
        """Commit the transaction."""
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back, if a transaction is open and the connection still works."""
        if self._conn.closed or self._conn.broken:
            return
        if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("ROLLBACK")

    def execute(self, sql: str, params: Sequence[object] | Mapping[str, object]) -> PgResult:
        """Translate and run one statement."""
        translated = to_postgres(sql, self.identity, named=isinstance(params, Mapping))
        cursor = self._conn.cursor()
        cursor.execute(translated.sql, _adapt(params))
        return PgResult(cursor, translated.returning)

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        """Translate once and run for every row (psycopg pipelines them: one round trip,
        not one per row); the rows it changed in all."""
        translated = to_postgres(sql, self.identity)
        with self._conn.cursor() as cursor:
            cursor.executemany(translated.sql, [_adapt(row) for row in rows])
            return cursor.rowcount

    def epoch(self) -> float:
        """The database server's clock, in seconds since 1970."""
        row = self._conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
        assert row is not None
        return float(row[0])

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Transaction-scoped advisory locks on `keys`, taken in sorted order."""
        ordered = sorted(set(keys))
        if ordered:
            self._conn.execute(
                "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) "
                "FROM (SELECT k FROM unnest(%s::text[]) AS k ORDER BY k) AS keys",
                (ordered,),
            )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
