"""The durable outbox of received SMS: each message published once, deleted after the ack.

A message read from the card is committed here (SQLite, WAL, `synchronous=FULL`) with a
new sequence number, bumped in the same transaction, before it is published; its `key`
(record indexes, sender, time stamp and a digest of the text) is unique per card, so a
message still on the card is never given a second number. The broker's PUBACK marks the
row acknowledged; only then is the message deleted from the card, and the row dropped
once the card no longer holds it. A crash anywhere in between repeats a step at most:
a resend the cloud's `(iccid, seq)` ingest ignores, or a card deletion that the key
check makes safe (a record index reused by a newer message does not match the key).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from simgate_common.wire import MAX_SMS_TEXT, SmsReport, WireError, check_iccid

FILE_NAME = "sms_outbox.sqlite3"
TRUNCATED = " […]"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sms_counters (iccid TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sms (
    iccid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    sender TEXT NOT NULL,
    at TEXT NOT NULL,
    text TEXT NOT NULL,
    parts INTEGER NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (iccid, seq),
    UNIQUE (iccid, key)
);
"""


class SmsOutboxError(Exception):
    """The outbox could not store or read messages."""


def message_key(indexes: tuple[int, ...], sender: str, at: str | None, text: str) -> str:
    """What identifies a stored message on the card: where it is and what it says."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return json.dumps([list(indexes), sender, at, digest])


@dataclass(frozen=True)
class Acked:
    """A published message the broker acknowledged, still to be deleted from the card."""

    seq: int
    key: str


class SmsOutbox:
    """Received messages of one card (`iccid`) on their way to the cloud."""

    def __init__(self, path: Path, iccid: str) -> None:
        self.path = path
        self.iccid = check_iccid(iccid)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SmsOutboxError(f"SMS outbox {path}: {exc}") from exc

    @classmethod
    def in_state_dir(cls, directory: Path, iccid: str) -> SmsOutbox:
        """The outbox file under the agent's state dir."""
        return cls(directory / FILE_NAME, iccid)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def knows(self, key: str) -> bool:
        """True when the message with `key` already has a sequence number."""
        row = self._db.execute(
            "SELECT 1 FROM sms WHERE iccid = ? AND key = ?", (self.iccid, key)
        ).fetchone()
        return row is not None

    def add(self, key: str, sender: str, at: str, text: str, parts: int) -> SmsReport | None:
        """Store a received message with the next `seq`; None when `key` is known.

        A text past the wire's limit is cut, and says so. `WireError` for a message the
        schema refuses (nothing stored).
        """
        if len(text) > MAX_SMS_TEXT:
            text = text[: MAX_SMS_TEXT - len(TRUNCATED)] + TRUNCATED
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self.knows(key):
                    self._db.execute("ROLLBACK")
                    return None
                row = self._db.execute(
                    "SELECT last FROM sms_counters WHERE iccid = ?", (self.iccid,)
                ).fetchone()
                seq = (row[0] if row else 0) + 1
                report = SmsReport(seq, sender, at, text, parts)
                report.to_json()  # the size check, before anything is stored
                self._db.execute(
                    "INSERT INTO sms_counters (iccid, last) VALUES (?, ?) "
                    "ON CONFLICT (iccid) DO UPDATE SET last = excluded.last",
                    (self.iccid, seq),
                )
                self._db.execute(
                    "INSERT INTO sms (iccid, seq, key, sender, at, text, parts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.iccid, seq, key, sender, report.at, text, parts),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise SmsOutboxError(f"SMS outbox {self.path}: {exc}") from exc
        return report

    def pending(self, limit: int = 16) -> list[SmsReport]:
        """Messages not yet acknowledged by the broker, oldest first."""
        rows = self._db.execute(
            "SELECT seq, sender, at, text, parts FROM sms WHERE iccid = ? AND acked = 0 "
            "ORDER BY seq LIMIT ?",
            (self.iccid, limit),
        ).fetchall()
        reports = []
        for seq, sender, at, text, parts in rows:
            try:
                reports.append(SmsReport(seq, sender, at, text, parts))
            except WireError:  # pragma: no cover - rows are checked before they are stored
                continue
        return reports

    def acknowledge(self, seq: int) -> None:
        """The broker acknowledged message `seq`: it may now leave the card."""
        self._db.execute("UPDATE sms SET acked = 1 WHERE iccid = ? AND seq = ?", (self.iccid, seq))

    def acked(self) -> list[Acked]:
        """Acknowledged messages whose deletion from the card is still to be done."""
        rows = self._db.execute(
            "SELECT seq, key FROM sms WHERE iccid = ? AND acked = 1 ORDER BY seq", (self.iccid,)
        ).fetchall()
        return [Acked(seq, key) for seq, key in rows]

    def forget(self, seq: int) -> None:
        """The card no longer holds message `seq`: drop its row (its number stays used)."""
        self._db.execute("DELETE FROM sms WHERE iccid = ? AND seq = ?", (self.iccid, seq))

    def count(self) -> int:
        """Rows held (pending or awaiting deletion from the card)."""
        row = self._db.execute("SELECT count(*) FROM sms WHERE iccid = ?", (self.iccid,))
        return int(row.fetchone()[0])
