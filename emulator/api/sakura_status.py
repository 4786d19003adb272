"""Wire shapes of the Sakura API's monitoring and status answers (`sim/metrics/monitor`,
`interface/{n}/monitor`, `switch/{id}/server`, `traffic_status`); see `sakura_schemas`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class MonitorOut(BaseModel):
    """Activity monitor (`sim/metrics/monitor`, `interface/{n}/monitor`): samples by time
    (RFC 3339 keys). The emulator keeps no samples: `Data` is empty."""

    Data: dict[str, dict[str, float | None]]
    is_ok: bool


class ServersOut(BaseModel):
    """`GET /switch/{id}/server`: the servers on a switch (the emulator has none)."""

    Total: int
    From: int
    Count: int
    Servers: list[dict[str, Any]]
    is_ok: bool


class TrafficStatus(BaseModel):
    """`traffic_status`."""

    uplink_bytes: str
    downlink_bytes: str
    traffic_shaping: bool


class TrafficStatusOut(BaseModel):
    """`mobilegateway/traffic_status`."""

    traffic_status: TrafficStatus
    is_ok: bool
