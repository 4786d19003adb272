"""The usage reports of one ingest batch, decided together (contracts §3, safety rule 3).

A batch of up to a thousand reports costs a fixed number of statements, not two per
report: every report is validated first, before the transaction; then one query finds
the batch's SIMs and one the `(iccid, seq)` keys already stored; the new reports and
their `device_usage` billing events are written with one `executemany` each. The
database decides duplicates: the keys it holds (and those earlier in the batch) make a
repeat a duplicate, and the unique key refuses a row that slipped past the check,
failing the whole batch (nothing is acknowledged, the broker sends it again), so a
report is never billed twice.

Verdicts and event order are those of deciding the messages one by one: the caller
writes what is staged (`flush`) before it handles any message that is not a usage report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from emulator.clock import iso_utc
from emulator.models import events
from emulator.models.device_messages import Incoming, Outcome, Verdict, peek_seq, reject
from emulator.models.sims import names_by_iccid
from emulator.store import Tx
from simgate_common import wire
from simgate_common.wire import ErrorReport, Leaf, UsageReport, WireError

_T = TypeVar("_T")
_CHUNK = 400
"""Keys per lookup query (two parameters each; far below either engine's limit)."""

_INSERT = (
    "INSERT INTO device_reports (iccid, seq, sim_id, payload, received_at) VALUES (?, ?, ?, ?, ?)"
)


class UsageBatch:
    """What the store knows of a batch's usage reports, and what it will write."""

    def __init__(self, messages: Sequence[Incoming]) -> None:
        """Validate the batch's usage reports (no database: before the transaction)."""
        self._decided: dict[int, Outcome | tuple[str, UsageReport]] = {}
        for index, message in enumerate(messages):
            try:
                iccid, leaf = wire.parse_topic(message.topic)
            except WireError:
                continue
            if leaf is Leaf.USAGE:
                self._decided[index] = _validated(iccid, message)
        self._db: Tx | None = None
        self._received = ""
        self._sims: dict[str, tuple[str, str]] = {}
        self._stored: dict[tuple[str, int], str] = {}
        self._rows: list[tuple[str, int, str, str, str]] = []
        self._events: list[str] = []

    def look_up(self, db: Tx, now: datetime) -> None:
        """In the batch's transaction: the SIMs and the keys already stored."""
        reports = [entry for entry in self._decided.values() if isinstance(entry, tuple)]
        self._db = db
        self._received = iso_utc(now)
        self._sims = names_by_iccid(db, sorted({iccid for iccid, _ in reports}))
        self._stored = _stored(db, sorted({(iccid, r.seq) for iccid, r in reports}))

    def decide(self, index: int, message: Incoming) -> Outcome | None:
        """The verdict on message `index` if it is a usage report (staged when new)."""
        entry = self._decided.get(index)
        if entry is None or isinstance(entry, Outcome):
            return entry
        iccid, report = entry
        sim = self._sims.get(iccid)
        if sim is None:
            why = f"no registered SIM has ICCID {iccid}: report not stored"
            return reject(message.topic, iccid, report.seq, why)
        text = report.to_json().decode()
        key = (iccid, report.seq)
        stored = self._stored.get(key)
        if stored is not None:
            if stored != text:
                why = f"seq {report.seq} is already stored with other content; this copy is ignored"
                error = ErrorReport(message.topic, report.seq, why)
                return Outcome(Verdict.DUPLICATE, iccid, error)
            return Outcome(Verdict.DUPLICATE, iccid)
        self._stored[key] = text
        self._rows.append((iccid, report.seq, sim[0], text, self._received))
        self._events.append(
            events.line_of(
                _event_time(report.end),
                "device_usage",
                iccid=iccid,
                up=report.up,
                down=report.down,
                seq=report.seq,
                start=report.start,
                end=report.end,
            )
        )
        return Outcome(Verdict.STORED, iccid)

    def flush(self) -> None:
        """Write the staged reports and their events (in the order they were decided)."""
        if self._rows:
            assert self._db is not None  # rows are staged only after `look_up`
            self._db.execute_many(_INSERT, self._rows)
            events.append_lines(self._db, self._events)
            self._rows, self._events = [], []


def _event_time(end: str) -> str:
    """`iso_utc` of a report's normalised `end` (`...Z`), without parsing it again when it
    has no fraction of a second (`...:00Z` is `...:00+00:00`)."""
    if "." not in end and end.endswith("Z"):
        return end[:-1] + "+00:00"
    return iso_utc(wire.parse_time(end))


def _validated(iccid: str, message: Incoming) -> Outcome | tuple[str, UsageReport]:
    try:
        report = UsageReport.from_json(message.payload)
    except WireError as exc:
        return reject(message.topic, iccid, peek_seq(message.payload), str(exc))
    if report.iccid != iccid:
        why = f"iccid: {report.iccid} is not the topic's ICCID {iccid} (a foreign report)"
        return reject(message.topic, iccid, report.seq, why)
    return iccid, report


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _stored(db: Tx, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The stored payload of each `(iccid, seq)` among `keys` that is stored."""
    found: dict[tuple[str, int], str] = {}
    for chunk in _chunks(keys):
        rows = ", ".join("(?, ?)" for _ in chunk)
        sql = (  # a join, so that each key is one primary-key lookup (not a table scan)
            f"WITH wanted (iccid, seq) AS (VALUES {rows}) "  # noqa: S608 - placeholders
            "SELECT d.iccid, d.seq, d.payload FROM wanted "
            "JOIN device_reports AS d ON d.iccid = wanted.iccid AND d.seq = wanted.seq"
        )
        params = [value for key in chunk for value in key]
        for row in db.all(sql, params):
            found[(row["iccid"], int(row["seq"]))] = row["payload"]
    return found
