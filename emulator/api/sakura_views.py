"""Model objects in the Sakura Cloud API's JSON shapes (times in JST, like the real API)."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from emulator.clock import iso_jst
from emulator.models.common import ZONE_IDS
from emulator.models.gateways import DEFAULT_DNS, Gateway
from emulator.models.sessions import LogEntry
from emulator.models.sims import Sim
from emulator.models.switches import Switch
from emulator.models.traffic import Counter, TrafficConfig

SIM_PROVIDER = {"ID": 8000, "Class": "sim", "Name": "sakura-sim", "ServiceClass": "cloud/sim/1"}
OK: dict[str, Any] = {"is_ok": True, "Success": True}
ACCEPTED: dict[str, Any] = {"is_ok": True, "Success": "Accepted"}


def _icon(icon_id: str | None) -> dict[str, str] | None:
    return None if icon_id is None else {"ID": str(icon_id)}


def sim_info(sim: Sim, month_traffic: Counter | None = None) -> dict[str, Any]:
    """A SIM's `sim` object (SIMInfo)."""
    counter = month_traffic or Counter()
    return {
        "iccid": sim.iccid,
        "imsi": [sim.imsi],
        "imei": sim.imei_lock,
        "ip": sim.ip,
        "session_status": "UP" if sim.session_up else "DOWN",
        "imei_lock": sim.imei_lock is not None,
        "registered": True,
        "activated": sim.activated,
        "resource_id": sim.id,
        "registered_date": iso_jst(sim.registered_at),
        "activated_date": None if sim.activated_at is None else iso_jst(sim.activated_at),
        "deactivated_date": None if sim.deactivated_at is None else iso_jst(sim.deactivated_at),
        "traffic_bytes_of_current_month": {
            "uplink_bytes": str(counter.up),
            "downlink_bytes": str(counter.down),
        },
        "connected_imei": sim.connected_imei,
        "simgroup_id": sim.gateway_id,  # the gateway it is on (Terraform's mobile_gateway_id)
    }


def sim(sim: Sim, month_traffic: Counter | None = None) -> dict[str, Any]:
    """A SIM as a `CommonServiceItem`."""
    return {
        "ID": sim.id,
        "Name": sim.name,
        "Description": sim.description,
        "Tags": sim.tags,
        "Availability": "available",
        "ServiceClass": "cloud/sim/1",
        "CreatedAt": iso_jst(sim.registered_at),
        "ModifiedAt": iso_jst(sim.modified_at),
        "Provider": SIM_PROVIDER,
        "Icon": _icon(sim.icon_id),
        "Status": {"ICCID": sim.iccid, "sim": sim_info(sim, month_traffic)},
    }


def log_entry(entry: LogEntry) -> dict[str, Any]:
    """A session log row."""
    return {
        "date": iso_jst(entry.at),
        "session_status": entry.status,
        "resource_id": entry.sim_id,
        "imei": entry.imei,
        "imsi": entry.imsi,
        "reason": entry.reason,
    }


def logs(entries: list[LogEntry]) -> dict[str, Any]:
    """A session log response."""
    rows = [log_entry(e) for e in entries]
    return {"Total": len(rows), "From": 0, "Count": len(rows), "logs": rows, "is_ok": True}


def switch(sw: Switch) -> dict[str, Any]:
    """A switch."""
    subnet = None
    if sw.mask_len is not None or sw.default_route is not None:
        subnet = {"NetworkMaskLen": sw.mask_len, "DefaultRoute": sw.default_route}
    return {
        "ID": sw.id,
        "Name": sw.name,
        "Description": sw.description,
        "Tags": sw.tags,
        "Icon": _icon(sw.icon_id),
        "CreatedAt": iso_jst(sw.created_at),
        "ModifiedAt": iso_jst(sw.modified_at),
        "Scope": "user",
        "ServerCount": 0,
        "Subnets": [],
        "UserSubnet": subnet,
        "Zone": {"ID": ZONE_IDS[sw.zone], "Name": sw.zone},
        "Bridge": None,
        "HybridConnection": None,
    }


def _mac(gateway_id: str, index: int) -> str:
    digest = hashlib.sha256(f"{gateway_id}/{index}".encode()).hexdigest()
    return "9c:a3:ba:" + ":".join(digest[i : i + 2] for i in range(0, 6, 2))


def gateway(gw: Gateway) -> dict[str, Any]:
    """A mobile gateway as an `Appliance`."""
    interfaces: list[dict[str, Any]] = [
        {
            "ID": f"{int(gw.id) + 1:012d}"[-12:],
            "MACAddress": _mac(gw.id, 0),
            "IPAddress": gw.global_address,
            "Switch": {
                "ID": "100000000000",
                "Scope": "shared",
                "Name": "shared",
                "Subnet": _shared_subnet(gw.global_address),
            },
            "Index": 0,
        }
    ]
    if gw.switch_id is not None:
        user_ip = None
        if len(gw.interface_settings) > 1 and isinstance(gw.interface_settings[1], dict):
            addresses = gw.interface_settings[1].get("IPAddress") or [None]
            user_ip = addresses[0] if isinstance(addresses, list) and addresses else None
        interfaces.append(
            {
                "ID": f"{int(gw.id) + 2:012d}"[-12:],
                "MACAddress": _mac(gw.id, 1),
                "UserIPAddress": user_ip,
                "Switch": {"ID": gw.switch_id, "Scope": "user"},
                "Index": 1,
            }
        )
    setting = {
        "Interfaces": gw.interface_settings,
        "InternetConnection": {"Enabled": "True" if gw.internet_enabled else "False"},
        "InterDeviceCommunication": {"Enabled": "True" if gw.inter_device_enabled else "False"},
        "StaticRoutes": gw.static_routes,
    }
    settings_hash = hashlib.md5(repr(setting).encode(), usedforsecurity=False).hexdigest()
    return {
        "ID": gw.id,
        "Class": "mobilegateway",
        "Name": gw.name,
        "Description": gw.description,
        "Tags": gw.tags,
        "Icon": _icon(gw.icon_id),
        "Plan": {"ID": 2},
        "Availability": "available",
        "ServiceClass": "cloud/appliance/mobilegateway/1",
        "CreatedAt": iso_jst(gw.created_at),
        "Instance": {"Status": gw.power, "StatusChangedAt": iso_jst(gw.status_changed_at)},
        "Interfaces": interfaces,
        "Remark": {
            "Zone": {"ID": ZONE_IDS[gw.zone]},
            "Switch": {"Scope": "shared"},
            "MobileGateway": {"GlobalAddress": gw.global_address},
            "Servers": [{"IPAddress": gw.global_address}],
            "Plan": {"ID": 2},
        },
        "Settings": {"MobileGateway": setting},
        "SettingsHash": settings_hash,
        "Switch": None,
    }


def _shared_subnet(address: str) -> dict[str, Any]:
    """The shared segment's subnet around the gateway's global address (a /28, as
    Sakura's shared segments are), read by Terraform as `public_netmask`."""
    network = ipaddress.IPv4Network(f"{address}/28", strict=False)
    hosts = [str(h) for h in network.hosts() if str(h) != address]
    return {
        "NetworkAddress": str(network.network_address),
        "NetworkMaskLen": network.prefixlen,
        "DefaultRoute": hosts[0],
        "Internet": {"BandWidthMbps": 100},
    }


def dns(gw: Gateway) -> dict[str, str]:
    """`sim_group`: custom DNS or the defaults."""
    dns1, dns2 = gw.dns or DEFAULT_DNS
    return {"dns_1": dns1, "dns_2": dns2}


def traffic_config(config: TrafficConfig | None) -> dict[str, Any] | None:
    """`traffic_monitoring_config`."""
    if config is None:
        return None
    return {
        "traffic_quota_in_mb": config.traffic_quota_in_mb,
        "bandwidth_limit_in_kbps": config.bandwidth_limit_in_kbps,
        "email_config": {"enabled": config.email_enabled},
        "slack_config": {"enabled": config.slack_enabled, "slack_url": config.slack_url or None},
        "auto_traffic_shaping": config.auto_traffic_shaping,
    }
