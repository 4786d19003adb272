"""The radio network's endpoints (`/_emulator/network/*`): the carrier side the firmware
stub (or a test) asks when a device attaches, opens a session or moves traffic."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from emulator.api.common import BackendDep
from emulator.api.sakura_schemas import SakuraError
from emulator.models.network import Decision

router = APIRouter(
    prefix="/_emulator/network",
    tags=["emulator: radio network"],
    responses={400: {"model": SakuraError}},
)


class AttachIn(BaseModel):
    """A device attaches: its card's ICCID and IMSI and its IMEI."""

    model_config = ConfigDict(extra="forbid", strict=True)
    iccid: str = Field(min_length=1, max_length=32)
    imsi: str | None = Field(default=None, max_length=32)
    imei: str | None = Field(default=None, max_length=32)


class SessionIn(BaseModel):
    """A data session goes up or down."""

    model_config = ConfigDict(extra="forbid", strict=True)
    iccid: str = Field(min_length=1, max_length=32)
    state: Literal["up", "down"]


class TrafficIn(BaseModel):
    """Bytes the network measured in the SIM's session since the last report."""

    model_config = ConfigDict(extra="forbid", strict=True)
    iccid: str = Field(min_length=1, max_length=32)
    up: int = Field(ge=0, le=10**15)
    down: int = Field(ge=0, le=10**15)


class DataPlaneOut(BaseModel):
    """Where the modem's network end goes and how the device configures its end
    (DATAPLANE.md §1): present when the emulator runs with `--data-plane`."""

    namespace: str
    peer_ifname: str
    address: str
    prefix_len: int
    gateway: str
    dns: list[str]
    mtu: int


class AttachOut(BaseModel):
    """The network's answer to an attach; `reason` says why it refused."""

    accepted: bool
    reason: str | None
    closed_network: bool
    internet: bool
    ip: str | None
    shaped: bool
    dataplane: DataPlaneOut | None = None


class SessionOut(BaseModel):
    """The answer to a session change."""

    accepted: bool
    reason: str | None


class TrafficOut(BaseModel):
    """The answer to a traffic report; `session_cut` when this report crossed the
    heavy-traffic threshold (the bytes count, the session is over)."""

    accepted: bool
    reason: str | None
    session_cut: bool
    shaped: bool


def _attach(d: Decision) -> AttachOut:
    return AttachOut(
        accepted=d.accepted,
        reason=d.reason,
        closed_network=d.closed_network,
        internet=d.internet,
        ip=d.ip,
        shaped=d.shaped,
    )


@router.post("/attach", response_model=AttachOut)
async def attach(body: AttachIn, backend: BackendDep, request: Request) -> AttachOut:
    """Apply the lock and usability rules to an attach; with the data plane, an accepted
    attach also says where the modem's link goes."""
    d = backend.network.attach(body.iccid, body.imsi, body.imei)
    out = _attach(d)
    plane = request.app.state.dataplane
    if plane is not None and d.accepted:
        info = await asyncio.to_thread(plane.attach_info, body.iccid, d)
        out.dataplane = None if info is None else DataPlaneOut.model_validate(info)
    return out


@router.post("/session", response_model=SessionOut)
async def session(body: SessionIn, backend: BackendDep, request: Request) -> SessionOut:
    """Open or close the SIM's data session (with the data plane: bind its link)."""
    plane = request.app.state.dataplane
    if plane is not None:
        d = await asyncio.to_thread(plane.session, body.iccid, body.state == "up")
    else:
        d = backend.network.session(body.iccid, body.state == "up")
    return SessionOut(accepted=d.accepted, reason=d.reason)


@router.post("/traffic", response_model=TrafficOut)
async def traffic(body: TrafficIn, backend: BackendDep, request: Request) -> TrafficOut:
    """Count measured traffic; refused when no session is up or it was cut, and with the
    data plane always (`measured_by_gateway`: the gateway's counters are billed)."""
    if request.app.state.dataplane is not None:
        return TrafficOut(
            accepted=False, reason="measured_by_gateway", session_cut=False, shaped=False
        )
    d = backend.network.traffic(body.iccid, body.up, body.down)
    return TrafficOut(
        accepted=d.accepted, reason=d.reason, session_cut=d.session_cut, shaped=d.shaped
    )
