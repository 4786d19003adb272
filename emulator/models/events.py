"""The account's billing event log (contracts §2): JSON Lines, one fact per line.

Each line has `at` (RFC 3339 with offset, from the virtual clock) and `type`, plus the
fields of its type. The log is append-only and written in the same transaction as the
change it records, so the books and the state never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Literal

from emulator.clock import iso_utc
from emulator.store import Store, Tx

EventType = Literal[
    "sim_registered",
    "sim_deleted",
    "traffic",
    "gateway_created",
    "gateway_deleted",
    "option_set",
    "option_cleared",
    "payment",
    "device_usage",
    "project_created",
    "project_deleted",
    "device_registered",
    "device_unregistered",
    "platform_traffic",
    "sms_sent",
    "sms_cancelled",
]
Option = Literal["ip", "device_lock", "dns"]


def line_of(at: datetime | str, type_: EventType, **fields: object) -> str:
    """One event line (`at` a time, or already written by `iso_utc`)."""
    when = at if isinstance(at, str) else iso_utc(at)
    return json.dumps({"at": when, "type": type_, **fields}, separators=(",", ":"))


def append(db: Tx, at: datetime, type_: EventType, **fields: object) -> None:
    """Append one event line inside the caller's transaction."""
    db.execute("INSERT INTO events (line) VALUES (?)", (line_of(at, type_, **fields),))


def append_lines(db: Tx, lines: Sequence[str]) -> None:
    """Append event lines made by `line_of`, in order, inside the caller's transaction."""
    db.execute_many("INSERT INTO events (line) VALUES (?)", [(line,) for line in lines])


def option_event(db: Tx, at: datetime, *, set_: bool, option: Option, subject: str) -> None:
    """`option_set` / `option_cleared` for a sub-option (001 §40)."""
    append(db, at, "option_set" if set_ else "option_cleared", option=option, subject=subject)


class EventLog:
    """Read side of the event log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def lines(self, after: int = 0) -> list[str]:
        """Every line with a sequence number above `after`, oldest first."""
        with self._store.transaction() as db:
            rows = db.all("SELECT line FROM events WHERE seq > ? ORDER BY seq", (after,))
        return [str(row["line"]) for row in rows]

    def iter_dicts(self) -> Iterator[dict[str, object]]:
        """The log as parsed dictionaries (for tests and the invoice route)."""
        for line in self.lines():
            value: dict[str, object] = json.loads(line)
            yield value
