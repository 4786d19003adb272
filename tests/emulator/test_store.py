"""The SQLite store after a write fails: the next transaction must still work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emulator.store import Store


def fill(store: Store) -> None:
    with store.transaction() as tx:
        for _ in range(100):
            tx.execute("INSERT INTO blobs VALUES (?)", (b"x" * 4096,))


def test_rule4_a_full_disk_fails_one_request_and_the_store_goes_on(tmp_path: Path) -> None:
    store = Store(tmp_path / "emulator.db")
    with store.transaction() as tx:
        tx.execute("CREATE TABLE blobs (data BLOB)")
    pages = store.sqlite.execute("PRAGMA page_count").fetchone()[0]
    store.sqlite.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is nearly full
    with pytest.raises(sqlite3.OperationalError, match="full"):
        fill(store)
    store.sqlite.execute("PRAGMA max_page_count = 1073741823")
    with store.transaction() as tx:  # would fail with "cannot start a transaction within
        tx.execute("INSERT INTO blobs VALUES (?)", (b"y",))  # a transaction" before the fix
    with store.transaction() as tx:
        row = tx.one("SELECT count(*) AS n FROM blobs")
    assert row is not None
    assert row["n"] == 1  # the failed request stored nothing
