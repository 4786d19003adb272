"""Messages the devices say they received (MQTT topic `sms`, contracts §3).

Each `(iccid, seq)` is stored once: a repeat (QoS 1 redelivery, a device resending
after a lost PUBACK) is acknowledged and ignored, so every message counts exactly once,
as usage reports do. A repeat with other content is kept out and reported.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from emulator.clock import iso_utc
from emulator.store import Tx
from simgate_common.wire import SmsReport, WireError

Verdict = Literal["stored", "duplicate", "rejected"]


def _peek_seq(payload: bytes) -> int | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    seq = doc.get("seq") if isinstance(doc, dict) else None
    return seq if type(seq) is int and seq > 0 else None


def store_sms(
    db: Tx, now: datetime, sim_id: str | None, iccid: str, payload: bytes
) -> tuple[Verdict, int | None, str | None]:
    """(verdict, seq, why) for one `sms` payload of device `iccid`."""
    try:
        report = SmsReport.from_json(payload)
    except WireError as exc:
        return "rejected", _peek_seq(payload), str(exc)
    if sim_id is None:
        return "rejected", report.seq, f"no registered SIM has ICCID {iccid}: not stored"
    text = report.to_json().decode()
    cursor = db.execute(
        "INSERT INTO device_sms (iccid, seq, sim_id, payload, received_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (iccid, seq) DO NOTHING",
        (iccid, report.seq, sim_id, text, iso_utc(now)),
    )
    if cursor.rowcount:
        return "stored", report.seq, None
    row = db.one("SELECT payload FROM device_sms WHERE iccid = ? AND seq = ?", (iccid, report.seq))
    if row is not None and row["payload"] != text:
        return "duplicate", report.seq, f"seq {report.seq} is already stored with other content"
    return "duplicate", report.seq, None


def received_sms(db: Tx, iccid: str) -> list[dict[str, Any]]:
    """The stored `sms` payloads of a device, each once, in `seq` order."""
    rows = db.all("SELECT payload FROM device_sms WHERE iccid = ? ORDER BY seq", (iccid,))
    return [json.loads(row["payload"]) for row in rows]
