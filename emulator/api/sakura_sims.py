"""Sakura Cloud API 1.1: SIMs (`/commonserviceitem` with `Provider.Class: "sim"`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from emulator.api import sakura_views as views
from emulator.api.common import BackendDep, Zone, find_conditions, paginate, require_auth
from emulator.api.sakura_schemas import (
    Ok,
    OperatorEnvelope,
    SakuraError,
    SimEnvelopeIn,
    SimEnvelopeOut,
    SimImeiEnvelopeIn,
    SimIpEnvelopeIn,
    SimListOut,
    SimLogsOut,
    SimStatusEnvelopeOut,
)
from emulator.api.sakura_status import MonitorOut
from emulator.errors import BadRequest

API = "/cloud/zone/{zone}/api/cloud/1.1"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": SakuraError} for code in (400, 401, 403, 404, 409, 503)
}

router = APIRouter(
    prefix=API, tags=["Sakura: SIM"], dependencies=[Depends(require_auth)], responses=ERRORS
)


@router.get("/commonserviceitem", response_model=SimListOut)
async def find_sims(zone: Zone, request: Request, backend: BackendDep) -> dict[str, Any]:
    """Find SIMs. Conditions come as JSON in the query string, as the Go client sends them:
    `?{"From":0,"Count":10,"Filter":{"Provider.Class":"sim","Name":"x"}}`."""
    items = [views.sim(s) for s in backend.sims.list_all()]
    total, start, page = paginate(items, find_conditions(request))
    return {
        "Total": total,
        "From": start,
        "Count": len(page),
        "CommonServiceItems": page,
        "is_ok": True,
    }


@router.post("/commonserviceitem", status_code=201, response_model=SimEnvelopeOut)
async def create_sim(zone: Zone, body: SimEnvelopeIn, backend: BackendDep) -> dict[str, Any]:
    """Register a SIM: `Status.ICCID` and `Remark.PassCode` of a shipped card."""
    item = body.CommonServiceItem
    if item.Provider is None or item.Provider.Class != "sim":
        raise BadRequest('CommonServiceItem.Provider.Class must be "sim"', code="invalid_parameter")
    iccid = item.Status.ICCID if item.Status else None
    passcode = item.Remark.PassCode if item.Remark else None
    if not iccid:
        raise BadRequest("CommonServiceItem.Status.ICCID is required", code="invalid_parameter")
    if not passcode:
        raise BadRequest("CommonServiceItem.Remark.PassCode is required", code="invalid_parameter")
    sim = backend.sims.register(
        iccid=iccid,
        passcode=passcode,
        name=item.Name or "",
        description=item.Description or "",
        tags=item.Tags,
        icon_id=_icon_id(item.Icon.ID if item.Icon else None),
    )
    return {"CommonServiceItem": views.sim(sim), **views.OK}


def _icon_id(value: str | int | None) -> str | None:
    return None if value in (None, "", 0, "0") else str(value)


@router.get("/commonserviceitem/{sim_id}", response_model=SimEnvelopeOut)
async def read_sim(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Read a SIM."""
    status = backend.sims.status(sim_id)
    return {"CommonServiceItem": views.sim(status.sim, status.traffic), **views.OK}


@router.put("/commonserviceitem/{sim_id}", response_model=SimEnvelopeOut)
async def update_sim(
    zone: Zone, sim_id: str, body: SimEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Change a SIM's name, description, tags or icon."""
    item = body.CommonServiceItem
    sim = backend.sims.update(
        sim_id,
        name=item.Name,
        description=item.Description,
        tags=item.Tags,
        icon_id=_icon_id(item.Icon.ID) if item.Icon else None,
    )
    return {"CommonServiceItem": views.sim(sim), **views.OK}


@router.delete("/commonserviceitem/{sim_id}", response_model=SimEnvelopeOut)
async def delete_sim(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Delete a SIM (it must not be registered to a gateway)."""
    return {"CommonServiceItem": views.sim(backend.sims.delete(sim_id)), **views.OK}


@router.put("/commonserviceitem/{sim_id}/sim/activate", response_model=Ok)
async def activate(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Activate a SIM."""
    backend.sims.set_activated(sim_id, True)
    return views.OK


@router.put("/commonserviceitem/{sim_id}/sim/deactivate", response_model=Ok)
async def deactivate(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Deactivate a SIM: the network refuses it and its session ends."""
    backend.sims.set_activated(sim_id, False)
    return views.OK


@router.put("/commonserviceitem/{sim_id}/sim/imeilock", response_model=Ok)
async def imei_lock(
    zone: Zone, sim_id: str, body: SimImeiEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Lock the SIM to one IMEI (device lock, 001 §31.3)."""
    backend.sims.set_imei_lock(sim_id, body.sim.imei)
    return views.OK


@router.delete("/commonserviceitem/{sim_id}/sim/imeilock", response_model=Ok)
async def imei_unlock(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Remove the IMEI lock."""
    backend.sims.set_imei_lock(sim_id, None)
    return views.OK


@router.put("/commonserviceitem/{sim_id}/sim/ip", response_model=Ok)
async def assign_ip(
    zone: Zone, sim_id: str, body: SimIpEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Assign a fixed IP address (sub-option)."""
    backend.sims.set_ip(sim_id, body.sim.ip)
    return views.OK


@router.delete("/commonserviceitem/{sim_id}/sim/ip", response_model=Ok)
async def clear_ip(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Clear the fixed IP address."""
    backend.sims.set_ip(sim_id, None)
    return views.OK


@router.get("/commonserviceitem/{sim_id}/sim/status", response_model=SimStatusEnvelopeOut)
async def sim_status(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """The SIM's state and its traffic this month (JST)."""
    status = backend.sims.status(sim_id)
    return {"sim": views.sim_info(status.sim, status.traffic), "is_ok": True}


@router.get("/commonserviceitem/{sim_id}/sim/metrics/monitor", response_model=MonitorOut)
async def sim_monitor(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """Traffic samples (`UplinkBps`/`DownlinkBps`); none are kept (see `sim/status`)."""
    backend.sims.get(sim_id)
    return {"Data": {}, "is_ok": True}


@router.get("/commonserviceitem/{sim_id}/sim/sessionlog", response_model=SimLogsOut)
async def session_log(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """The SIM's session log, newest first: attaches, sessions, refusals with reasons."""
    return views.logs(backend.sims.session_log(sim_id))


@router.get(
    "/commonserviceitem/{sim_id}/sim/network_operator_config", response_model=OperatorEnvelope
)
async def get_operators(zone: Zone, sim_id: str, backend: BackendDep) -> dict[str, Any]:
    """The carriers the SIM may use."""
    return {"network_operator_config": backend.sims.get(sim_id).operators, "is_ok": True}


@router.put("/commonserviceitem/{sim_id}/sim/network_operator_config", response_model=Ok)
async def set_operators(
    zone: Zone, sim_id: str, body: OperatorEnvelope, backend: BackendDep
) -> dict[str, Any]:
    """Replace the carrier settings."""
    configs = [c.model_dump() for c in body.network_operator_config]
    backend.sims.set_operators(sim_id, configs)
    return views.OK
