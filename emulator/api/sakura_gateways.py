"""Sakura Cloud API 1.1: mobile gateways (`/appliance` with `Class: "mobilegateway"`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from emulator.api import sakura_views as views
from emulator.api.common import BackendDep, Zone, find_conditions, paginate, require_auth
from emulator.api.sakura_schemas import (
    AddSimEnvelopeIn,
    ApplianceEnvelopeIn,
    ApplianceEnvelopeOut,
    ApplianceIn,
    ApplianceListOut,
    DnsEnvelopeIn,
    DnsOut,
    GatewaySimsOut,
    Ok,
    ShutdownIn,
    SimLogsOut,
    SimRoutesEnvelopeIn,
    SimRoutesOut,
    TrafficMonitoringEnvelopeIn,
    TrafficMonitoringOut,
    flag,
)
from emulator.api.sakura_sims import API, ERRORS
from emulator.api.sakura_status import MonitorOut, TrafficStatusOut
from emulator.errors import BadRequest, Conflict, NotFound
from emulator.models.traffic import TrafficConfig

router = APIRouter(
    prefix=API,
    tags=["Sakura: mobile gateway"],
    dependencies=[Depends(require_auth)],
    responses=ERRORS,
)
GW = "/appliance/{gateway_id}"


def _settings(item: ApplianceIn) -> dict[str, Any]:
    setting = item.Settings.MobileGateway if item.Settings else None
    if setting is None:
        return {}
    return {
        "internet_enabled": flag(setting.InternetConnection.Enabled)
        if setting.InternetConnection
        else None,
        "inter_device_enabled": flag(setting.InterDeviceCommunication.Enabled)
        if setting.InterDeviceCommunication
        else None,
        "static_routes": None
        if setting.StaticRoutes is None
        else [r.model_dump() for r in setting.StaticRoutes],
        "interface_settings": setting.Interfaces,
    }


@router.get("/appliance", response_model=ApplianceListOut)
async def find_gateways(zone: Zone, request: Request, backend: BackendDep) -> dict[str, Any]:
    """Find appliances (only mobile gateways exist here); JSON conditions in the query."""
    items = [views.gateway(g) for g in backend.gateways.list_all(zone)]
    total, start, page = paginate(items, find_conditions(request))
    return {"Total": total, "From": start, "Count": len(page), "Appliances": page, "is_ok": True}


@router.post("/appliance", status_code=201, response_model=ApplianceEnvelopeOut)
async def create_gateway(
    zone: Zone, body: ApplianceEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Create a mobile gateway (powered off, as the real one is until booted)."""
    item = body.Appliance
    if item.Class != "mobilegateway":
        raise BadRequest(
            'only Appliance.Class "mobilegateway" is emulated', code="invalid_parameter"
        )
    if not item.Name:
        raise BadRequest("Appliance.Name is required", code="invalid_parameter")
    settings = _settings(item)
    gw = backend.gateways.create(
        zone,
        name=item.Name,
        description=item.Description or "",
        tags=item.Tags,
        icon_id=None if item.Icon is None or item.Icon.ID in (None, "", 0) else str(item.Icon.ID),
        internet_enabled=bool(settings.get("internet_enabled")),
        inter_device_enabled=bool(settings.get("inter_device_enabled")),
        static_routes=settings.get("static_routes"),
    )
    return {"Appliance": views.gateway(gw), **views.ACCEPTED}


@router.get(GW, response_model=ApplianceEnvelopeOut)
async def read_gateway(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Read a mobile gateway."""
    return {"Appliance": views.gateway(backend.gateways.get(zone, gateway_id)), **views.OK}


@router.put(GW, response_model=ApplianceEnvelopeOut)
async def update_gateway(
    zone: Zone, gateway_id: str, body: ApplianceEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Update fields and settings (`Settings.MobileGateway.InternetConnection.Enabled`...);
    with `OriginalSettingsHash` (saklient), only if the settings are still those it read."""
    item = body.Appliance
    if body.OriginalSettingsHash:
        current = views.gateway(backend.gateways.get(zone, gateway_id))["SettingsHash"]
        if body.OriginalSettingsHash != current:
            raise Conflict(
                "OriginalSettingsHash: the settings changed since they were read "
                f"(now {current}); read the gateway again",
                code="settings_hash_mismatch",
            )
    gw = backend.gateways.update(
        zone,
        gateway_id,
        name=item.Name,
        description=item.Description,
        tags=item.Tags,
        icon_id=None if item.Icon is None or item.Icon.ID in (None, "", 0) else str(item.Icon.ID),
        **_settings(item),
    )
    return {"Appliance": views.gateway(gw), **views.OK}


@router.delete(GW, response_model=ApplianceEnvelopeOut)
async def delete_gateway(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Delete a powered-off gateway without SIMs."""
    return {"Appliance": views.gateway(backend.gateways.delete(zone, gateway_id)), **views.ACCEPTED}


@router.put(GW + "/config", response_model=Ok)
async def apply_config(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Apply settings (settings already apply at once here)."""
    backend.gateways.get(zone, gateway_id)
    return views.OK


@router.put(GW + "/power", status_code=202, response_model=Ok)
async def boot(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Power on."""
    backend.gateways.set_power(zone, gateway_id, True)
    return views.ACCEPTED


@router.delete(GW + "/power", status_code=202, response_model=Ok)
async def shutdown(
    zone: Zone,
    gateway_id: str,
    backend: BackendDep,
    body: Annotated[ShutdownIn | None, Body()] = None,
) -> dict[str, Any]:
    """Power off (`{"Force": true}` accepted); the SIMs' sessions end."""
    backend.gateways.set_power(zone, gateway_id, False)
    return views.ACCEPTED


@router.put(GW + "/reset", response_model=Ok)
async def reset_gateway(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Reset a running gateway (a forced reboot): its SIMs' sessions end, it comes back up."""
    if not backend.gateways.get(zone, gateway_id).powered_on:
        raise Conflict(f"Appliance [ID:{gateway_id}] is not running", code="not_running")
    backend.gateways.set_power(zone, gateway_id, False)
    backend.gateways.set_power(zone, gateway_id, True)
    return views.OK


@router.get(GW + "/interface/{index}/monitor", response_model=MonitorOut)
async def interface_monitor(
    zone: Zone, gateway_id: str, index: int, backend: BackendDep
) -> dict[str, Any]:
    """Interface activity (`Receive`/`Send` samples); none are kept here."""
    gw = backend.gateways.get(zone, gateway_id)
    if index not in ((0, 1) if gw.switch_id is not None else (0,)):
        raise NotFound(f"Appliance [ID:{gateway_id}] has no interface {index}")
    return {"Data": {}, "is_ok": True}


@router.put(GW + "/interface/1/to/switch/{switch_id}", response_model=Ok)
async def connect_switch(
    zone: Zone, gateway_id: str, switch_id: str, backend: BackendDep
) -> dict[str, Any]:
    """Connect interface 1 to a switch of the same zone."""
    backend.gateways.connect_switch(zone, gateway_id, switch_id)
    return views.OK


@router.delete(GW + "/interface/1/to/switch", response_model=Ok)
async def disconnect_switch(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Disconnect interface 1."""
    backend.gateways.connect_switch(zone, gateway_id, None)
    return views.OK


@router.get(GW + "/mobilegateway/sims", response_model=GatewaySimsOut)
async def list_sims(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """The SIMs registered to the gateway."""
    return {
        "sim": [views.sim_info(s) for s in backend.gateways.list_sims(zone, gateway_id)],
        "is_ok": True,
    }


@router.post(GW + "/mobilegateway/sims", response_model=Ok)
async def add_sim(
    zone: Zone, gateway_id: str, body: AddSimEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Register a SIM to the gateway: `{"sim": {"resource_id": "<SIM id>"}}`."""
    backend.gateways.add_sim(zone, gateway_id, body.sim.resource_id)
    return views.OK


@router.delete(GW + "/mobilegateway/sims/{sim_id}", response_model=Ok)
async def delete_sim(
    zone: Zone, gateway_id: str, sim_id: str, backend: BackendDep
) -> dict[str, Any]:
    """Remove a SIM from the gateway."""
    backend.gateways.delete_sim(zone, gateway_id, sim_id)
    return views.OK


@router.get(GW + "/mobilegateway/dnsresolver", response_model=DnsOut)
async def get_dns(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """The DNS servers handed to the SIMs."""
    return {"sim_group": views.dns(backend.gateways.get(zone, gateway_id)), "is_ok": True}


@router.put(GW + "/mobilegateway/dnsresolver", response_model=Ok)
async def set_dns(
    zone: Zone, gateway_id: str, body: DnsEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Set custom DNS servers (sub-option); both empty restores the defaults."""
    backend.gateways.set_dns(zone, gateway_id, body.sim_group.dns_1, body.sim_group.dns_2)
    return views.OK


@router.get(GW + "/mobilegateway/simroutes", response_model=SimRoutesOut)
async def get_sim_routes(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """SIM routes."""
    return {"sim_routes": backend.gateways.get(zone, gateway_id).sim_routes, "is_ok": True}


@router.put(GW + "/mobilegateway/simroutes", response_model=Ok)
async def set_sim_routes(
    zone: Zone, gateway_id: str, body: SimRoutesEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Replace the SIM routes."""
    routes = [(r.resource_id, r.prefix) for r in body.sim_routes]
    backend.gateways.set_sim_routes(zone, gateway_id, routes)
    return views.OK


@router.get(GW + "/mobilegateway/sessionlog", response_model=SimLogsOut)
async def gateway_session_log(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """Session log of the gateway's SIMs."""
    return views.logs(backend.gateways.session_log(zone, gateway_id))


@router.get(GW + "/mobilegateway/traffic_monitoring", response_model=TrafficMonitoringOut)
async def get_traffic_monitoring(
    zone: Zone, gateway_id: str, backend: BackendDep
) -> dict[str, Any]:
    """Traffic monitoring (null when unset)."""
    config = backend.gateways.get(zone, gateway_id).traffic_config
    return {"traffic_monitoring_config": views.traffic_config(config), "is_ok": True}


@router.put(GW + "/mobilegateway/traffic_monitoring", response_model=Ok)
async def set_traffic_monitoring(
    zone: Zone, gateway_id: str, body: TrafficMonitoringEnvelopeIn, backend: BackendDep
) -> dict[str, Any]:
    """Set the monthly quota (MB), the shaped bandwidth and notifications."""
    c = body.traffic_monitoring_config
    config = TrafficConfig(
        traffic_quota_in_mb=c.traffic_quota_in_mb,
        bandwidth_limit_in_kbps=c.bandwidth_limit_in_kbps,
        email_enabled=c.email_config.enabled,
        slack_enabled=c.slack_config.enabled,
        slack_url=c.slack_config.slack_url or "",
        auto_traffic_shaping=c.auto_traffic_shaping,
    )
    backend.gateways.set_traffic_config(zone, gateway_id, config)
    return views.OK


@router.delete(GW + "/mobilegateway/traffic_monitoring", response_model=Ok)
async def delete_traffic_monitoring(
    zone: Zone, gateway_id: str, backend: BackendDep
) -> dict[str, Any]:
    """Remove traffic monitoring."""
    backend.gateways.set_traffic_config(zone, gateway_id, None)
    return views.OK


@router.get(GW + "/mobilegateway/traffic_status", response_model=TrafficStatusOut)
async def traffic_status(zone: Zone, gateway_id: str, backend: BackendDep) -> dict[str, Any]:
    """This month's (JST) traffic through the gateway and whether it is shaped."""
    counter, shaped = backend.gateways.traffic_status(zone, gateway_id)
    status = {
        "uplink_bytes": str(counter.up),
        "downlink_bytes": str(counter.down),
        "traffic_shaping": shaped,
    }
    return {"traffic_status": status, "is_ok": True}
