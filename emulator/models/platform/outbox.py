"""The durable outbox of outgoing deliveries (webhooks, device downlinks, file notices).

A delivery is written in the same transaction as the fact it announces, so nothing is
lost while an outside system (or the broker) is down: the dispatcher drains the table,
retrying with exponential backoff (`retry_initial` doubling to `retry_max` seconds,
real time, not the virtual clock). Each delivery has a `delivery_id` (a UUID) that the
receiver sees on every attempt and can deduplicate on: at-least-once. Deliveries to one
target go out in order: a failing head holds back the ones behind it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from emulator.clock import VirtualClock, iso_utc
from emulator.store import Store, Tx

Kind = Literal["message", "file"]


@dataclass(frozen=True)
class Delivery:
    """One pending (or done) delivery."""

    seq: int
    delivery_id: str
    target: str
    kind: str
    payload: dict[str, Any]
    created_at: str
    attempts: int
    next_attempt: float
    last_error: str | None
    delivered_at: str | None

    def to_json(self) -> dict[str, Any]:
        """For the steering API."""
        return {
            "seq": self.seq,
            "delivery_id": self.delivery_id,
            "target": self.target,
            "kind": self.kind,
            "created_at": self.created_at,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
        }


def _delivery(row: Any) -> Delivery:
    return Delivery(
        seq=int(row["seq"]),
        delivery_id=row["delivery_id"],
        target=row["target"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
        attempts=int(row["attempts"]),
        next_attempt=float(row["next_attempt"]),
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


class Signal:
    """A counter bumped by writers (any thread); pollers compare it to what they saw."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.version = 0

    def bump(self) -> None:
        """Something changed."""
        with self._lock:
            self.version += 1


class Outbox:
    """Enqueue inside a transaction; the dispatcher takes due deliveries and settles them."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock
        self.signal = Signal()

    def enqueue(self, db: Tx, now: datetime, target: str, kind: Kind, body: dict[str, Any]) -> str:
        """Add a delivery inside the caller's transaction; returns its delivery id (which
        `body["id"]` is set to when the body has an `id` of None)."""
        delivery_id = str(uuid.uuid4())
        if "id" in body and body["id"] is None:
            body = {**body, "id": delivery_id}
        db.execute(
            "INSERT INTO outbox (delivery_id, target, kind, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (delivery_id, target, kind, json.dumps(body, separators=(",", ":")), iso_utc(now)),
        )
        self.signal.bump()
        return delivery_id

    def due(self, limit: int = 100) -> tuple[list[list[Delivery]], float | None]:
        """Per target whose oldest pending delivery is due: its pending deliveries in
        order (at most `limit` in all); and when the earliest held-back target is due."""
        wall = time.time()
        with self._store.transaction() as db:
            rows = db.all(
                "SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY seq LIMIT ?", (limit,)
            )
        queues: dict[str, list[Delivery]] = {}
        blocked: set[str] = set()
        wake: float | None = None
        for row in rows:
            item = _delivery(row)
            if item.target in blocked:
                continue
            if item.target not in queues and item.next_attempt > wall:
                blocked.add(item.target)
                wake = item.next_attempt if wake is None else min(wake, item.next_attempt)
                continue
            queues.setdefault(item.target, []).append(item)
        return list(queues.values()), wake

    def delivered(self, seq: int) -> None:
        """The receiver took it."""
        with self._store.transaction() as db:
            db.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE seq = ?",
                (iso_utc(self._clock.now()), seq),
            )

    def failed(self, seq: int, error: str) -> float:
        """An attempt failed: back off (doubling); returns the delay chosen (seconds)."""
        with self._store.transaction() as db:
            settings = db.one("SELECT retry_initial, retry_max FROM platform_account WHERE id = 1")
            row = db.one("SELECT attempts FROM outbox WHERE seq = ?", (seq,))
            if row is None or settings is None:
                return 0.0
            attempts = int(row["attempts"]) + 1
            initial: float = settings["retry_initial"]
            longest: float = settings["retry_max"]
            delay = min(float(initial) * 2.0 ** min(attempts - 1, 30), float(longest))
            db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE seq = ?",
                (attempts, time.time() + delay, error[:500], seq),
            )
        return delay

    def entries(self, *, pending_only: bool = False, limit: int = 1000) -> list[Delivery]:
        """Deliveries, oldest first (for `/_emulator/platform/outbox`)."""
        where = "WHERE delivered_at IS NULL " if pending_only else ""
        with self._store.transaction() as db:
            rows = db.all(f"SELECT * FROM outbox {where}ORDER BY seq LIMIT ?", (limit,))  # noqa: S608
        return [_delivery(r) for r in rows]

    def retry_now(self) -> int:
        """Make every pending delivery due at once (steering); returns how many."""
        with self._store.transaction() as db:
            cursor = db.execute("UPDATE outbox SET next_attempt = 0 WHERE delivered_at IS NULL")
        self.signal.bump()
        return int(cursor.rowcount)
