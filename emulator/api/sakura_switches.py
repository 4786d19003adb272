"""Sakura Cloud API 1.1: switches (`/switch`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from emulator.api import sakura_views as views
from emulator.api.common import BackendDep, Zone, find_conditions, paginate, require_auth
from emulator.api.sakura_schemas import (
    SwitchEnvelopeIn,
    SwitchEnvelopeOut,
    SwitchIn,
    SwitchListOut,
)
from emulator.api.sakura_sims import API, ERRORS
from emulator.api.sakura_status import ServersOut
from emulator.errors import BadRequest

router = APIRouter(
    prefix=API, tags=["Sakura: switch"], dependencies=[Depends(require_auth)], responses=ERRORS
)


def _fields(item: SwitchIn) -> dict[str, Any]:
    subnet = item.UserSubnet
    return {
        "description": item.Description,
        "tags": item.Tags,
        "icon_id": None
        if item.Icon is None or item.Icon.ID in (None, "", 0)
        else str(item.Icon.ID),
        "mask_len": subnet.NetworkMaskLen or None if subnet else None,
        "default_route": subnet.DefaultRoute if subnet else None,
    }


@router.get("/switch", response_model=SwitchListOut)
async def find_switches(zone: Zone, request: Request, backend: BackendDep) -> dict[str, Any]:
    """Find switches; JSON conditions in the query."""
    items = [views.switch(s) for s in backend.switches.list_all(zone)]
    total, start, page = paginate(items, find_conditions(request))
    return {"Total": total, "From": start, "Count": len(page), "Switches": page, "is_ok": True}


@router.post("/switch", status_code=201, response_model=SwitchEnvelopeOut)
async def create_switch(zone: Zone, body: SwitchEnvelopeIn, backend: BackendDep) -> dict[str, Any]:
    """Create a switch."""
    if not body.Switch.Name:
        raise BadRequest("Switch.Name is required", code="invalid_parameter")
    fields = _fields(body.Switch)
    fields["description"] = fields["description"] or ""
    sw = backend.switches.create(zone, name=body.Switch.Name, **fields)
    return {"Switch": views.switch(sw), **views.OK}


@router.get("/switch/{switch_id}", response_model=SwitchEnvelopeOut)
async def read_switch(zone: Zone, switch_id: str, backend: BackendDep) -> dict[str, Any]:
    """Read a switch."""
    return {"Switch": views.switch(backend.switches.get(zone, switch_id)), **views.OK}


@router.put("/switch/{switch_id}", response_model=SwitchEnvelopeOut)
async def update_switch(
    zone: Zone, switch_id: str, body: SwitchEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Update a switch."""
    sw = backend.switches.update(zone, switch_id, name=body.Switch.Name, **_fields(body.Switch))
    return {"Switch": views.switch(sw), **views.OK}


@router.delete("/switch/{switch_id}", response_model=SwitchEnvelopeOut)
async def delete_switch(zone: Zone, switch_id: str, backend: BackendDep) -> dict[str, Any]:
    """Delete a switch no gateway is connected to."""
    return {"Switch": views.switch(backend.switches.delete(zone, switch_id)), **views.OK}


@router.get("/switch/{switch_id}/server", response_model=ServersOut)
async def switch_servers(zone: Zone, switch_id: str, backend: BackendDep) -> dict[str, Any]:
    """The servers connected to the switch: the emulator has no servers."""
    backend.switches.get(zone, switch_id)
    return {"Total": 0, "From": 0, "Count": 0, "Servers": [], "is_ok": True}
