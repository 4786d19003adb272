"""The store on both engines: the SQL the models write works the same on SQLite and
PostgreSQL, failures leave nothing behind, migrations run once; and the translation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emulator.storage.dialect import (
    UnportableSql,
    autoincrement_keys,
    for_sqlite,
    split_script,
    to_postgres,
)
from emulator.storage.migrations import Migration
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


# --- both engines: what the models rely on -------------------------------------------


def test_store_speaks_the_same_sql_on_both_engines(db_target: Path | str) -> None:
    store = Store(db_target)
    try:
        with store.transaction() as tx:
            first = tx.execute("INSERT INTO events (line) VALUES (?)", ("a",))
            second = tx.execute("INSERT INTO events (line) VALUES (?)", ("b",))
            assert first.lastrowid is not None
            assert second.lastrowid == first.lastrowid + 1
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("k", "50%"))
            again = tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", ("k", "x"))
            assert again.rowcount == 0
            tx.execute(
                "INSERT INTO sim_traffic (sim_id, month, up, down) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sim_id, month) DO UPDATE SET up = up + excluded.up",
                ("1", "2026-03", 3_000_000_000, 0),
            )
            tx.execute(
                "INSERT INTO sim_traffic (sim_id, month, up, down) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sim_id, month) DO UPDATE SET up = up + excluded.up",
                ("1", "2026-03", 3_000_000_000, 0),
            )
            tx.execute(
                "INSERT INTO device_reports VALUES (:iccid, :seq, :sim, :payload, :at)",
                {"iccid": "8981", "seq": 1, "sim": "1", "payload": '{"up": 5}', "at": "t?"},
            )
            tx.execute("UPDATE sims SET activated = ? WHERE id = ?", (True, "none"))
        with store.transaction() as tx:
            row = tx.one("SELECT value FROM meta WHERE key = ? FOR UPDATE", ("k",))
            total = tx.one("SELECT sum(up) AS s, count(*) AS n FROM sim_traffic")
            payload = tx.one(
                "SELECT sum(json_extract(payload, '$.up')) AS up, received_at "
                "FROM device_reports GROUP BY received_at"
            )
            lines = [r["line"] for r in tx.all("SELECT line FROM events ORDER BY seq")]
            flag = tx.one("SELECT CASE WHEN ? THEN 'yes' ELSE 'no' END AS f", (1,))
        assert row is not None
        assert row["value"] == "50%"
        assert row[0] == "50%"
        assert total is not None
        assert dict(total) == {"s": 6_000_000_000, "n": 1}
        assert isinstance(total["s"], int)  # not a Decimal
        assert payload is not None
        assert (payload["up"], payload["received_at"]) == (5, "t?")
        assert lines == ["a", "b"]
        assert flag is not None
        assert flag["f"] == "yes"
    finally:
        store.close()


def test_rule4_a_refused_transaction_changes_nothing_on_both_engines(
    db_target: Path | str,
) -> None:
    store = Store(db_target)
    try:

        def refused() -> None:
            with store.transaction() as tx:
                tx.execute("INSERT INTO events (line) VALUES (?)", ("kept?",))
                with store.transaction() as inner:  # nested: joins the outer transaction
                    inner.execute("INSERT INTO events (line) VALUES (?)", ("inner",))
                raise RuntimeError("refused")

        def duplicate() -> None:
            with store.transaction() as tx:
                tx.execute("INSERT INTO meta (key, value) VALUES ('dup', '1')")
                tx.execute("INSERT INTO meta (key, value) VALUES ('dup', '2')")

        with pytest.raises(RuntimeError):
            refused()
        with pytest.raises(Exception, match=r"(?i)unique|constraint"):
            duplicate()
        with store.transaction() as tx:  # the connection is usable after the failures
            assert tx.all("SELECT line FROM events") == []
            assert tx.one("SELECT 1 FROM meta WHERE key = 'dup'") is None
    finally:
        store.close()


def test_migrations_run_once_in_order_on_both_engines(db_target: Path | str) -> None:
    extra = (
        Migration(2, "notes table", ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",)),
        Migration(3, "notes column", ("ALTER TABLE notes ADD COLUMN at TEXT",)),
    )
    first = Store(db_target, schema_migrations=extra[:1])
    assert first.migrated == [1, 2]
    first.close()
    second = Store(db_target, schema_migrations=extra)  # an upgrade: only 3 runs
    assert second.migrated == [3]
    with second.transaction() as tx:
        tx.execute("INSERT INTO notes (id, body, at) VALUES (1, 'x', 'y')")
        versions = [r["version"] for r in tx.all("SELECT version FROM schema_migrations")]
    second.close()
    assert sorted(versions) == [1, 2, 3]
    third = Store(db_target, schema_migrations=extra)
    assert third.migrated == []
    third.close()
    with pytest.raises(ValueError, match="rise"):
        Store(db_target, schema_migrations=(extra[1], extra[0]))


def test_postgres_store_reconnects_after_losing_its_connection(postgres_url: str) -> None:
    store = Store(postgres_url)
    other = Store(postgres_url)
    try:
        with store.transaction() as tx:
            row = tx.one("SELECT pg_backend_pid() AS pid")
        assert row is not None
        with other.transaction() as tx:  # the server (or a restart) drops the connection
            tx.one("SELECT pg_terminate_backend(?)", (row["pid"],))

        def lost() -> None:
            with store.transaction() as tx:
                tx.one("SELECT 1")

        with pytest.raises(Exception, match=r"(?i)terminat|closed|connection"):
            lost()
        with store.transaction() as tx:  # the next transaction gets a new connection
            assert tx.one("SELECT 1 AS one") is not None
    finally:
        store.close()
        other.close()


# --- the translation itself ----------------------------------------------------------


def pg(sql: str, *, named: bool = False) -> str:
    return to_postgres(sql, {"events": "seq"}, named=named).sql


def test_placeholders_and_percent_signs_outside_and_inside_literals() -> None:
    assert pg("SELECT ? FROM t WHERE a = '?' AND b LIKE '50%'") == (
        "SELECT %s FROM t WHERE a = '?' AND b LIKE '50%%'"
    )
    assert pg("SELECT :a, x::text, ':b' FROM t", named=True) == (
        "SELECT %(a)s, x::text, ':b' FROM t"
    )
    assert pg("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_inserts_ignore_and_return_their_key() -> None:
    assert pg("INSERT OR IGNORE INTO t (a) VALUES (?)") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    assert pg("INSERT INTO events (line) VALUES (?)") == (
        "INSERT INTO events (line) VALUES (%s) RETURNING seq"
    )
    assert pg("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET n = n + 1") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT (a) DO UPDATE SET n = t.n + 1"
    )


def test_ddl_types_are_mapped_by_position_not_by_name() -> None:
    sql = pg(
        "CREATE TABLE x (seq INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL DEFAULT "
        "'INTEGER', n INTEGER, r REAL, b BLOB) WITHOUT ROWID"
    )
    assert sql == (
        "CREATE TABLE x (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        "text TEXT COLLATE \"C\" NOT NULL DEFAULT 'INTEGER', n BIGINT, r DOUBLE PRECISION, "
        "b BYTEA)"
    )
    assert autoincrement_keys(
        "CREATE TABLE IF NOT EXISTS q (n INTEGER PRIMARY KEY AUTOINCREMENT)"
    ) == {"q": "n"}


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT OR REPLACE INTO t VALUES (1)",
        "REPLACE INTO t VALUES (1)",
        "PRAGMA foreign_keys=ON",
        "SELECT group_concat(a) FROM t",
        "SELECT rowid FROM t",
        "SELECT ifnull(a, 0) FROM t",
    ],
)
def test_unportable_sql_is_refused_by_name(sql: str) -> None:
    with pytest.raises(UnportableSql, match="not portable"):
        pg(sql)


def test_sqlite_gets_its_sql_unchanged_but_for_update() -> None:
    assert for_sqlite("SELECT 1 FROM t WHERE a = 'for update' FOR UPDATE") == (
        "SELECT 1 FROM t WHERE a = 'for update'"
    )
    same = "INSERT OR IGNORE INTO t VALUES (?)"
    assert for_sqlite(same) is same
    assert split_script("INSERT INTO t VALUES ('a;b'); SELECT 1;") == [
        "INSERT INTO t VALUES ('a;b')",
        "SELECT 1",
    ]


def test_migration_2_keeps_reports_and_their_key(db_target: Path | str) -> None:
    """An older store, device_reports clustered by its (iccid, seq) primary key, moves to
    the arrival-order table with every report and the key still refusing a repeat."""
    old = Store(db_target, schema_migrations=())
    with old.transaction() as tx:
        tx.execute("DROP TABLE device_reports")
        tx.execute(
            "CREATE TABLE device_reports (iccid TEXT NOT NULL, seq INTEGER NOT NULL, "
            "sim_id TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL, "
            "PRIMARY KEY (iccid, seq)) WITHOUT ROWID"
        )
        for seq in (2, 1):
            tx.execute(
                "INSERT INTO device_reports VALUES (?, ?, 'sim', ?, 'at')",
                ("8981100000000000000", seq, f'{{"seq":{seq}}}'),
            )
    old.close()
    new = Store(db_target)
    try:
        assert new.migrated == [2]
        with new.transaction() as tx:
            rows = tx.all("SELECT seq, payload FROM device_reports ORDER BY seq")
        assert [(r["seq"], r["payload"]) for r in rows] == [(1, '{"seq":1}'), (2, '{"seq":2}')]
        with pytest.raises(Exception, match=r"(?i)unique"), new.transaction() as tx:
            tx.execute(
                "INSERT INTO device_reports VALUES (?, ?, 'sim', 'x', 'at')",
                ("8981100000000000000", 1),
            )
    finally:
        new.close()
