"""The SQLite engine of the store (the embedded default): one connection in WAL mode.

Durability: `synchronous=FULL`, so a commit acknowledged to a client has been fsynced and
survives `kill -9` and power loss. `BEGIN IMMEDIATE` takes the file's one write lock at
the start of every transaction, so transactions never interleave, across processes too.
The store's portable SQL is SQLite's own, but for `FOR UPDATE`, which is dropped.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence

from emulator.storage.dialect import for_sqlite


class SqliteEngine:
    """One SQLite connection in WAL mode (the embedded default)."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def begin(self, *, shared: bool) -> None:
        """Start a transaction holding the file's write lock."""
        self.db.execute("BEGIN IMMEDIATE")  # one writer per file: `shared` changes nothing

    def commit(self) -> None:
        """Commit the transaction."""
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back if a transaction is open."""
        # A failed COMMIT (disk full) leaves the transaction open, and SQLite may have
        # rolled back by itself already: end it either way, or every later BEGIN fails.
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    def execute(self, sql: str, params: Sequence[object] | Mapping[str, object]) -> sqlite3.Cursor:
        """Run one statement."""
        return self.db.execute(for_sqlite(sql), params)

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        """Run one statement once per row; the rows it changed in all."""
        return self.db.executemany(for_sqlite(sql), rows).rowcount

    def epoch(self) -> float:
        """This machine's clock (one machine shares an SQLite file)."""
        return time.time()

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Nothing to do: the transaction already holds the whole file."""

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()
