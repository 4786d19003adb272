"""Traffic counters per SIM and per gateway and JST month, and traffic monitoring.

Traffic monitoring (the gateway's `traffic_monitoring` setting): a monthly quota in MB
(1 MB = 1,000,000 bytes, up + down of all the gateway's SIMs). On crossing it a
notification is recorded once per month; with `auto_traffic_shaping` the gateway is then
shaped to `bandwidth_limit_in_kbps`, and a limit of 0 kbps stops traffic altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from emulator.clock import iso_utc, jst_month
from emulator.store import Tx

MB = 1_000_000
QuotaState = Literal["ok", "over", "shaped", "stopped"]


@dataclass(frozen=True)
class TrafficConfig:
    """A gateway's traffic monitoring setting (Sakura `traffic_monitoring_config`)."""

    traffic_quota_in_mb: int
    bandwidth_limit_in_kbps: int
    email_enabled: bool
    slack_enabled: bool
    slack_url: str
    auto_traffic_shaping: bool

    def to_dict(self) -> dict[str, object]:
        """Column form."""
        return {
            "traffic_quota_in_mb": self.traffic_quota_in_mb,
            "bandwidth_limit_in_kbps": self.bandwidth_limit_in_kbps,
            "email_enabled": self.email_enabled,
            "slack_enabled": self.slack_enabled,
            "slack_url": self.slack_url,
            "auto_traffic_shaping": self.auto_traffic_shaping,
        }

    @classmethod
    def from_dict(cls, value: dict[str, object]) -> TrafficConfig:
        """From the column form."""
        return cls(
            traffic_quota_in_mb=int(str(value["traffic_quota_in_mb"])),
            bandwidth_limit_in_kbps=int(str(value["bandwidth_limit_in_kbps"])),
            email_enabled=bool(value["email_enabled"]),
            slack_enabled=bool(value["slack_enabled"]),
            slack_url=str(value["slack_url"]),
            auto_traffic_shaping=bool(value["auto_traffic_shaping"]),
        )


@dataclass(frozen=True)
class Counter:
    """Bytes up and down in one month."""

    up: int = 0
    down: int = 0

    @property
    def total(self) -> int:
        """Up + down (the data volume, service-rules §1.3.3)."""
        return self.up + self.down


def add(db: Tx, now: datetime, sim_id: str, gateway_id: str, up: int, down: int) -> None:
    """Count traffic for the SIM and its gateway in the JST month of `now`."""
    month = jst_month(now)
    db.execute(
        "INSERT INTO sim_traffic (sim_id, month, up, down) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (sim_id, month) DO UPDATE SET "
        "up = up + excluded.up, down = down + excluded.down",
        (sim_id, month, up, down),
    )
    db.execute(
        "INSERT INTO gateway_traffic (gateway_id, month, up, down) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (gateway_id, month) DO UPDATE SET "
        "up = up + excluded.up, down = down + excluded.down",
        (gateway_id, month, up, down),
    )


def sim_month(db: Tx, sim_id: str, month: str) -> Counter:
    """A SIM's traffic in a JST month."""
    row = db.one("SELECT up, down FROM sim_traffic WHERE sim_id = ? AND month = ?", (sim_id, month))
    return Counter() if row is None else Counter(int(row["up"]), int(row["down"]))


def gateway_month(db: Tx, gateway_id: str, month: str) -> Counter:
    """A gateway's traffic in a JST month."""
    row = db.one(
        "SELECT up, down FROM gateway_traffic WHERE gateway_id = ? AND month = ?",
        (gateway_id, month),
    )
    return Counter() if row is None else Counter(int(row["up"]), int(row["down"]))


def quota_state(db: Tx, gateway_id: str, config: TrafficConfig | None, now: datetime) -> QuotaState:
    """Whether the gateway is within its monthly quota, over it, shaped or stopped."""
    if config is None:
        return "ok"
    used = gateway_month(db, gateway_id, jst_month(now)).total
    if used <= config.traffic_quota_in_mb * MB:
        return "ok"
    if not config.auto_traffic_shaping:
        return "over"
    return "shaped" if config.bandwidth_limit_in_kbps > 0 else "stopped"


def notify_if_over(db: Tx, gateway_id: str, config: TrafficConfig | None, now: datetime) -> None:
    """Record the over-quota notification, once per gateway and month."""
    state = quota_state(db, gateway_id, config, now)
    if state == "ok" or config is None:
        return
    month = jst_month(now)
    row = db.one(
        "SELECT over_quota FROM gateway_traffic WHERE gateway_id = ? AND month = ?",
        (gateway_id, month),
    )
    if row is not None and row["over_quota"]:
        return
    db.execute(
        "UPDATE gateway_traffic SET over_quota = 1 WHERE gateway_id = ? AND month = ?",
        (gateway_id, month),
    )
    channels = [
        name
        for name, on in (("email", config.email_enabled), ("slack", config.slack_enabled))
        if on
    ]
    message = (
        f"gateway {gateway_id} passed its monthly quota of {config.traffic_quota_in_mb} MB "
        f"in {month}; "
        f"action: {state}; notified by: {', '.join(channels) or 'none'}"
    )
    db.execute(
        "INSERT INTO notifications (at, gateway_id, kind, message) VALUES (?, ?, ?, ?)",
        (iso_utc(now), gateway_id, "traffic_quota_exceeded", message),
    )
