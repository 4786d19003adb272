"""Versioned schema migrations, the same for SQLite and PostgreSQL.

Version 1 is the baseline schema (`emulator.store`'s `CREATE ... IF NOT EXISTS` script),
run at every start so a table added to it appears in an older database. Every later
change is a `Migration` appended to `MIGRATIONS` with the next version number, written in
the store's portable SQL (docs/scaling.md); each runs once, in order, in the start-up
transaction, and `schema_migrations` records it (version, name, when).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final


@dataclass(frozen=True)
class Migration:
    """One schema change: `version` (2, 3, ...), a short `name`, portable SQL statements."""

    version: int
    name: str
    statements: tuple[str, ...]


BASELINE: Final = 1
MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        2,
        "device_reports in arrival order, (iccid, seq) a unique key",
        (
            # Clustered by (iccid, seq), every batch of reports from many devices dirtied
            # a page per device and each commit wrote them all to the WAL; in arrival
            # order the rows of a batch share pages and only the key's index is scattered.
            "CREATE TABLE device_reports_by_arrival (iccid TEXT NOT NULL, "
            "seq INTEGER NOT NULL, sim_id TEXT NOT NULL, payload TEXT NOT NULL, "
            "received_at TEXT NOT NULL, UNIQUE (iccid, seq))",
            "INSERT INTO device_reports_by_arrival (iccid, seq, sim_id, payload, received_at) "
            "SELECT iccid, seq, sim_id, payload, received_at FROM device_reports "
            "ORDER BY received_at, iccid, seq",
            "DROP TABLE device_reports",
            "ALTER TABLE device_reports_by_arrival RENAME TO device_reports",
        ),
    ),
)
"""Schema changes after the baseline, in version order."""

TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)

Execute = Callable[[str, tuple[object, ...]], object]
Query = Callable[[str], list[int]]


def apply(
    execute: Execute,
    applied_versions: Query,
    baseline: Sequence[str],
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Run the baseline, then every migration not yet recorded; the versions applied now."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] <= BASELINE):
        raise ValueError(f"migration versions must rise from {BASELINE + 1}: {versions}")
    execute(TABLE, ())
    for statement in baseline:
        execute(statement, ())
    done = set(applied_versions("SELECT version FROM schema_migrations"))
    now = datetime.now(UTC).isoformat()
    ran: list[int] = []
    if BASELINE not in done:
        execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (BASELINE, "baseline", now),
        )
        ran.append(BASELINE)
    for migration in migrations:
        if migration.version in done:
            continue
        for statement in migration.statements:
            execute(statement, ())
        execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, now),
        )
        ran.append(migration.version)
    return ran
