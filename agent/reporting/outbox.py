"""The durable outbox: usage records live on disk until the broker has acknowledged them.

Safety rule 3: a record is committed (SQLite, WAL, `synchronous=FULL`, so it survives
power loss) before anything is sent, and deleted only after the broker's PUBACK. Its
sequence number comes from a per-device counter stored in the same database and bumped
in the same transaction as the insert, so a number is never handed out twice: not after
a restart, not after the rows that carried it were deleted, not after a crash between
the two (the transaction holds both or neither).

Size: at most `max_pending` records per device wait in the outbox. Metered usage is never
dropped to make room: when the bound is reached `append` raises `OutboxFull` and stores
nothing, and the caller keeps the bytes it could not record and adds them to a later
record (the modem's counters keep counting meanwhile).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from simgate_common.wire import UsageReport, WireError, check_iccid

log = logging.getLogger(__name__)

FILE_NAME = "outbox.sqlite3"
DEFAULT_MAX_PENDING = 100_000
USAGE = "usage"
STATE = "state"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    iccid TEXT NOT NULL,
    kind TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (iccid, kind)
);
CREATE TABLE IF NOT EXISTS usage (
    iccid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    imei TEXT,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    up INTEGER NOT NULL,
    down INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (iccid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
"""
_INSERT = (
    'INSERT INTO usage (seq, iccid, imei, start, "end", up, down, source) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    'SELECT seq, iccid, imei, start, "end", up, down, source FROM usage '
    "WHERE iccid = ? AND seq > ? ORDER BY seq LIMIT ?"
)


class OutboxError(Exception):
    """The outbox could not store or read records (disk full, corrupt file, ...)."""


class OutboxFull(OutboxError):
    """`max_pending` records are waiting; nothing was stored (see the module doc)."""


class Outbox:
    """The usage records of one device (`iccid`) waiting for the broker's ack.

    Several `Outbox` objects (one per ICCID, if the SIM was swapped) may share one file.
    Not thread-safe: use it from one thread (the agent's event loop).
    """

    def __init__(self, path: Path, iccid: str, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self.path = path
        self.iccid = check_iccid(iccid)
        self.max_pending = max_pending
        self._db = _open(path)

    @classmethod
    def in_state_dir(cls, directory: Path, iccid: str, **kwargs: int) -> Self:
        """The outbox file under the agent's state dir (contracts §1)."""
        return cls(directory / FILE_NAME, iccid, **kwargs)

    def append(
        self,
        *,
        imei: str | None,
        start: str,
        end: str,
        up: int,
        down: int,
        source: str,
        meter_state: Mapping[str, Any] | None = None,
    ) -> UsageReport:
        """Store one record durably; the returned report carries its new `seq`.

        `meter_state`, the usage meter's state once these bytes are counted, is written in
        the same transaction (safety rule 3): a crash leaves either both the record and
        the meter's "already metered", or neither, so bytes are never lost or counted
        twice. Raises `WireError` (invalid fields; nothing stored), `OutboxFull` or
        `OutboxError`.
        """
        with self._transaction():
            if meter_state is not None:
                self._write_meter_state(meter_state)
            if self.count() >= self.max_pending:
                raise OutboxFull(
                    f"outbox {self.path} holds {self.max_pending} unsent records for "
                    f"{self.iccid}; keep the usage and retry later"
                )
            seq = self._bump(USAGE)
            report = UsageReport(seq, self.iccid, imei, start, end, up, down, source)
            self._db.execute(
                _INSERT,
                (seq, self.iccid, imei, start, end, up, down, source),
            )
        return report

    def save_meter_state(self, meter_state: Mapping[str, Any]) -> None:
        """Store the usage meter's state after a reading that made no record."""
        with self._transaction():
            self._write_meter_state(meter_state)

    def meter_state(self) -> dict[str, Any] | None:
        """The usage meter's state last stored here, or None."""
        try:
            row = self._db.execute("SELECT state FROM meter WHERE name = 'daemon'").fetchone()
            return None if row is None else dict(json.loads(row[0]))
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise OutboxError(f"cannot read the meter state in {self.path}: {exc}") from None

    def _write_meter_state(self, meter_state: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meter (name, state) VALUES ('daemon', ?)",
            (json.dumps(meter_state, sort_keys=True),),
        )

    def next_seq(self, kind: str) -> int:
        """Bump and return another durable counter of this device (e.g. `state`)."""
        if kind == USAGE:
            raise ValueError("usage numbers are only handed out by append()")
        with self._transaction():
            return self._bump(kind)

    def pending(self, limit: int = 100, after: int = 0) -> list[UsageReport]:
        """Up to `limit` waiting records with `seq > after`, oldest first."""
        try:
            rows = self._db.execute(
                _SELECT,
                (self.iccid, after, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot read outbox {self.path}: {exc}") from None
        return [UsageReport(*row) for row in rows]

    def acknowledge(self, seq: int) -> bool:
        """Delete record `seq` (the broker has it); False when it was not there."""
        return self.acknowledge_many((seq,)) == 1

    def acknowledge_many(self, seqs: Iterable[int]) -> int:
        """Delete several records in one transaction; how many were there."""
        with self._transaction():
            cursor = self._db.executemany(
                "DELETE FROM usage WHERE iccid = ? AND seq = ?",
                ((self.iccid, seq) for seq in seqs),
            )
            return max(cursor.rowcount, 0)

    def count(self) -> int:
        """How many records of this device wait."""
        row = self._db.execute("SELECT count(*) FROM usage WHERE iccid = ?", (self.iccid,))
        return int(row.fetchone()[0])

    def last_seq(self, kind: str = USAGE) -> int:
        """The last number handed out for `kind` (0 before the first)."""
        row = self._db.execute(
            "SELECT last FROM counters WHERE iccid = ? AND kind = ?", (self.iccid, kind)
        ).fetchone()
        return int(row[0]) if row else 0

    def other_devices(self) -> list[str]:
        """ICCIDs other than this one with records waiting (a SIM that was swapped out)."""
        rows = self._db.execute(
            "SELECT DISTINCT iccid FROM usage WHERE iccid != ? ORDER BY iccid", (self.iccid,)
        )
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        """Close the database; committed records stay on disk."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _bump(self, kind: str) -> int:
        # Plain statements rather than an UPSERT ... RETURNING: Raspberry Pi OS 11 ships
        # SQLite 3.34, which lacks RETURNING.
        key = (self.iccid, kind)
        self._db.execute("INSERT OR IGNORE INTO counters VALUES (?, ?, 0)", key)
        self._db.execute("UPDATE counters SET last = last + 1 WHERE iccid = ? AND kind = ?", key)
        return self.last_seq(kind)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self.path)


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT`, or `ROLLBACK` on any exception."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot write outbox {self._path}: {exc}") from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as commit_error:
                self._rollback()
                raise OutboxError(f"cannot write outbox {self._path}: {commit_error}") from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise OutboxError(f"cannot write outbox {self._path}: {exc}") from None

    def _rollback(self) -> None:
        # On SQLITE_FULL, IOERR, NOMEM or BUSY SQLite may have rolled back by itself; a
        # second ROLLBACK would raise and hide the error that matters.
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")


def _open(path: Path) -> sqlite3.Connection:
    """Open (creating owner-only) the outbox database in WAL mode with full syncs."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise OutboxError(f"cannot open outbox {path}: {exc}") from None
    try:
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxError(f"outbox {path}: SQLite refused WAL mode (got {mode})")
        db.execute("PRAGMA synchronous = FULL")
        db.executescript(_SCHEMA)
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise OutboxError(f"outbox {path} is damaged ({check}); it was left as it is")
    except sqlite3.Error as exc:
        db.close()
        raise OutboxError(f"cannot open outbox {path}: {exc}") from None
    except OutboxError:
        db.close()
        raise
    log.debug("outbox %s open", path)
    return db


__all__ = [
    "DEFAULT_MAX_PENDING",
    "FILE_NAME",
    "Outbox",
    "OutboxError",
    "OutboxFull",
    "WireError",
]
