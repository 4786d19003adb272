"""The SIM session log (served by `sim/sessionlog`) and ending a data session.

Every attach, session change, refusal and heavy-traffic cut is one log row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.clock import iso_utc
from emulator.store import Tx

# session_status values written to the log
ATTACHED = "ATTACHED"
REJECTED = "REJECTED"
UP = "UP"
DOWN = "DOWN"
CUT = "SESSION_CUT"


@dataclass(frozen=True)
class LogEntry:
    """One row of a SIM's session log."""

    at: datetime
    sim_id: str
    gateway_id: str | None
    status: str
    reason: str | None
    imei: str | None
    imsi: str | None


def log(
    db: Tx,
    now: datetime,
    sim_id: str,
    status: str,
    *,
    gateway_id: str | None = None,
    reason: str | None = None,
    imei: str | None = None,
    imsi: str | None = None,
) -> None:
    """Append a row to the session log."""
    db.execute(
        "INSERT INTO session_log (sim_id, gateway_id, at, status, reason, imei, imsi) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sim_id, gateway_id, iso_utc(now), status, reason, imei, imsi),
    )


def end_session(db: Tx, now: datetime, sim_id: str, reason: str, *, detach: bool = False) -> None:
    """End the SIM's data session (if one is up), logging why; `detach` also drops the
    attachment so the device must attach again."""
    row = db.one(
        "SELECT session_up, gateway_id, connected_imei, imsi FROM sims WHERE id = ?", (sim_id,)
    )
    if row is None:
        return
    if row["session_up"]:
        log(
            db,
            now,
            sim_id,
            DOWN,
            gateway_id=row["gateway_id"],
            reason=reason,
            imei=row["connected_imei"],
            imsi=row["imsi"],
        )
    db.execute(
        "UPDATE sims SET session_up = 0, "
        "attached = CASE WHEN ? THEN 0 ELSE attached END WHERE id = ?",
        (int(detach), sim_id),
    )


def entries(db: Tx, *, sim_id: str | None = None, gateway_id: str | None = None) -> list[LogEntry]:
    """Log rows of one SIM or one gateway, newest first."""
    if sim_id is not None:
        rows = db.all("SELECT * FROM session_log WHERE sim_id = ? ORDER BY seq DESC", (sim_id,))
    else:
        rows = db.all(
            "SELECT * FROM session_log WHERE gateway_id = ? ORDER BY seq DESC", (gateway_id,)
        )
    return [
        LogEntry(
            at=datetime.fromisoformat(r["at"]),
            sim_id=r["sim_id"],
            gateway_id=r["gateway_id"],
            status=r["status"],
            reason=r["reason"],
            imei=r["imei"],
            imsi=r["imsi"],
        )
        for r in rows
    ]
