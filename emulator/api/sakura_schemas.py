"""Wire shapes of the Sakura Cloud API 1.1 subset, with the real API's field names.

Facts taken from sacloud/iaas-api-go (`naked/sim.go`, `naked/mobile_gateway.go`,
`naked/switch.go`, `zz_envelopes.go`): singular envelopes (`CommonServiceItem`,
`Appliance`, `Switch`) with `is_ok` and `Success`; list envelopes with `Total`, `From`,
`Count` and the plural key; snake_case inside `sim`, `sim_group`, `traffic_status`...

Request models accept every field the Go client's naked structs may send (it sends zero
values such as `"CreatedAt": "0001-01-01T00:00:00Z"`) and refuse any other top-level
field; nested objects the emulator does not interpret are ignored. Types are strict, as
the real API's are: `"Tags": [1]`, `"Plan": {"ID": "two"}` or `"Enabled": 1` are 400s
naming the field, never coerced.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """A request object that refuses unknown fields and coerces no type."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Loose(BaseModel):
    """A nested request object whose other fields are ignored (types still strict)."""

    model_config = ConfigDict(extra="ignore", strict=True)


Id = str | int | None
NumericId = int | Annotated[str, Field(pattern=r"^[0-9]{1,19}$")]
"""Sakura's `types.ID`: a number, or its decimal digits as a string."""
Flag = bool | str | None  # Sakura's StringFlag: "True"/"False" (also true, on, 1)


def flag(value: Flag) -> bool | None:
    """Read a StringFlag."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return value.strip().lower() in ("true", "on", "1")


# --- requests ----------------------------------------------------------------------------


class IconIn(Loose):
    """`Icon: {"ID": ...}`."""

    ID: Id = None


class SimStatusIn(Loose):
    """`Status` of a SIM create request: its ICCID."""

    ICCID: str | None = None


class SimRemarkIn(Loose):
    """`Remark` of a SIM create request: the card's PASSCODE."""

    PassCode: str | None = None


class ProviderIn(Loose):
    """`Provider` of a SIM create request."""

    Class: str | None = None


class SimIn(Strict):
    """The naked SIM of create and update requests."""

    ID: Id = None
    Name: str | None = None
    Description: str | None = None
    Tags: list[str] | None = None
    Icon: IconIn | None = None
    Status: SimStatusIn | None = None
    ServiceClass: str | None = None
    Availability: str | None = None
    CreatedAt: str | None = None
    ModifiedAt: str | None = None
    Provider: ProviderIn | None = None
    Remark: SimRemarkIn | None = None


class SimEnvelopeIn(Strict):
    """`{"CommonServiceItem": {...}}`."""

    CommonServiceItem: SimIn


class IpIn(Strict):
    """`{"ip": "..."}`."""

    ip: str


class SimIpEnvelopeIn(Strict):
    """`sim/ip` request: `{"sim": {"ip": "..."}}`."""

    sim: IpIn


class ImeiIn(Strict):
    """`{"imei": "..."}`."""

    imei: str


class SimImeiEnvelopeIn(Strict):
    """`sim/imeilock` request: `{"sim": {"imei": "..."}}`."""

    sim: ImeiIn


class OperatorConfig(Strict):
    """One carrier setting."""

    allow: bool
    country_code: str | None = None
    name: str = Field(min_length=1, max_length=64)


class OperatorEnvelope(Strict):
    """`{"network_operator_config": [...]}` (request and response)."""

    network_operator_config: list[OperatorConfig] = Field(max_length=16)
    is_ok: bool | None = None


class EnabledIn(Loose):
    """`{"Enabled": "True"}`."""

    Enabled: Flag = None


class StaticRouteIn(Loose):
    """A static route of a gateway."""

    Prefix: str
    NextHop: str


class MobileGatewaySettingIn(Loose):
    """`Settings.MobileGateway`."""

    Interfaces: list[Any] | None = None
    InternetConnection: EnabledIn | None = None
    StaticRoutes: list[StaticRouteIn] | None = None
    InterDeviceCommunication: EnabledIn | None = None


class SettingsIn(Loose):
    """`Settings`."""

    MobileGateway: MobileGatewaySettingIn | None = None


class PlanIn(Loose):
    """`Plan: {"ID": 1}` of an appliance."""

    ID: NumericId | None = None


class ApplianceIn(Strict):
    """The naked MobileGateway of create and update requests."""

    ID: Id = None
    Class: str | None = None
    Name: str | None = None
    Tags: list[str] | None = None
    Description: str | None = None
    Plan: PlanIn | None = None
    Settings: SettingsIn | None = None
    SettingsHash: str | None = None
    Remark: dict[str, Any] | None = None
    Availability: str | None = None
    Instance: dict[str, Any] | None = None
    ServiceClass: str | None = None
    CreatedAt: str | None = None
    Icon: IconIn | None = None
    Switch: dict[str, Any] | None = None
    Interfaces: list[Any] | None = None


class ApplianceEnvelopeIn(Strict):
    """`{"Appliance": {...}}`; saklient's `save()` adds `OriginalSettingsHash` (the
    `SettingsHash` it last read: an update is refused 409 when the settings changed since)."""

    Appliance: ApplianceIn
    OriginalSettingsHash: str | None = None


class ShutdownIn(Strict):
    """`DELETE .../power` body."""

    Force: bool | None = None


class AddSimIn(Loose):
    """`mobilegateway/sims` POST: a SIMInfo of which only `resource_id` counts."""

    resource_id: str


class AddSimEnvelopeIn(Strict):
    """`{"sim": {"resource_id": "..."}}`."""

    sim: AddSimIn


class SimGroup(Loose):
    """`sim_group`: the gateway's DNS servers."""

    dns_1: str = ""
    dns_2: str = ""


class DnsEnvelopeIn(Strict):
    """`{"sim_group": {"dns_1", "dns_2"}}`."""

    sim_group: SimGroup


class SimRouteIn(Loose):
    """One SIM route."""

    resource_id: str
    prefix: str


class SimRoutesEnvelopeIn(Strict):
    """`{"sim_routes": [...]}`."""

    sim_routes: list[SimRouteIn] = Field(max_length=256)


class EmailConfig(BaseModel):
    """`email_config`."""

    model_config = ConfigDict(strict=True)

    enabled: bool = False


class SlackConfig(BaseModel):
    """`slack_config`."""

    model_config = ConfigDict(strict=True)

    enabled: bool = False
    slack_url: str | None = None


class TrafficMonitoringConfig(BaseModel):
    """`traffic_monitoring_config` (request and response)."""

    model_config = ConfigDict(strict=True)

    traffic_quota_in_mb: int = Field(ge=1, le=10**9)
    bandwidth_limit_in_kbps: int = Field(ge=0, le=10**9)
    email_config: EmailConfig = EmailConfig()
    slack_config: SlackConfig = SlackConfig()
    auto_traffic_shaping: bool = False


class TrafficMonitoringEnvelopeIn(Strict):
    """`{"traffic_monitoring_config": {...}}`."""

    traffic_monitoring_config: TrafficMonitoringConfig


class UserSubnetIn(Loose):
    """`UserSubnet` of a switch."""

    NetworkMaskLen: int | None = None
    DefaultRoute: str | None = None


class SwitchIn(Strict):
    """The naked Switch of create and update requests."""

    ID: Id = None
    Name: str | None = None
    Description: str | None = None
    Tags: list[str] | None = None
    Icon: IconIn | None = None
    CreatedAt: str | None = None
    ModifiedAt: str | None = None
    Scope: str | None = None
    Subnet: Any = None
    UserSubnet: UserSubnetIn | None = None
    Zone: Any = None
    Internet: Any = None
    Subnets: Any = None
    IPv6Nets: Any = None
    Bridge: Any = None
    ServerCount: int | None = None
    HybridConnection: Any = None


class SwitchEnvelopeIn(Strict):
    """`{"Switch": {...}}`."""

    Switch: SwitchIn


# --- responses ---------------------------------------------------------------------------


class SakuraError(BaseModel):
    """The error body of every 4xx/5xx answer."""

    is_fatal: bool
    serial: str
    status: str
    error_code: str
    error_msg: str


class Ok(BaseModel):
    """`{"is_ok": true, "Success": true}` (`"Accepted"` for power operations)."""

    is_ok: bool
    Success: bool | str


class IconOut(BaseModel):
    """An icon reference."""

    ID: str


class TrafficBytes(BaseModel):
    """Bytes of the current month, as decimal strings (Sakura's StringNumber)."""

    uplink_bytes: str
    downlink_bytes: str


class SimInfo(BaseModel):
    """`sim` of `sim/status` and `mobilegateway/sims`."""

    iccid: str
    imsi: list[str]
    imei: str | None = None
    ip: str | None = None
    session_status: str
    imei_lock: bool
    registered: bool
    activated: bool
    resource_id: str
    registered_date: str
    activated_date: str | None = None
    deactivated_date: str | None = None
    traffic_bytes_of_current_month: TrafficBytes
    connected_imei: str | None = None
    simgroup_id: str | None = None


class SimStatusOut(BaseModel):
    """`Status` of a SIM."""

    ICCID: str
    sim: SimInfo


class ProviderOut(BaseModel):
    """`Provider` of a SIM."""

    ID: int
    Class: str
    Name: str
    ServiceClass: str


class SimOut(BaseModel):
    """A SIM as the API returns it (`CommonServiceItem`)."""

    ID: str
    Name: str
    Description: str
    Tags: list[str]
    Availability: str
    ServiceClass: str
    CreatedAt: str
    ModifiedAt: str
    Provider: ProviderOut
    Icon: IconOut | None
    Status: SimStatusOut


class SimEnvelopeOut(Ok):
    """`{"CommonServiceItem": {...}, "is_ok", "Success"}`."""

    CommonServiceItem: SimOut


class SimListOut(BaseModel):
    """`GET /commonserviceitem`."""

    Total: int
    From: int
    Count: int
    CommonServiceItems: list[SimOut]
    is_ok: bool


class SimStatusEnvelopeOut(BaseModel):
    """`sim/status`."""

    sim: SimInfo
    is_ok: bool


class SimLog(BaseModel):
    """A session log row; `reason` is the emulator's addition."""

    date: str
    session_status: str
    resource_id: str
    imei: str | None = None
    imsi: str | None = None
    reason: str | None = None


class SimLogsOut(BaseModel):
    """`sim/sessionlog` and `mobilegateway/sessionlog`."""

    Total: int
    From: int
    Count: int
    logs: list[SimLog]
    is_ok: bool


class ZoneOut(BaseModel):
    """`Zone` of a switch."""

    ID: int
    Name: str


class UserSubnetOut(BaseModel):
    """`UserSubnet` of a switch."""

    NetworkMaskLen: int | None = None
    DefaultRoute: str | None = None


class SwitchOut(BaseModel):
    """A switch."""

    ID: str
    Name: str
    Description: str
    Tags: list[str]
    Icon: IconOut | None
    CreatedAt: str
    ModifiedAt: str
    Scope: str
    ServerCount: int
    Subnets: list[Any]
    UserSubnet: UserSubnetOut | None
    Zone: ZoneOut
    Bridge: Any = None
    HybridConnection: Any = None


class SwitchEnvelopeOut(Ok):
    """`{"Switch": {...}, "is_ok", "Success"}`."""

    Switch: SwitchOut


class SwitchListOut(BaseModel):
    """`GET /switch`."""

    Total: int
    From: int
    Count: int
    Switches: list[SwitchOut]
    is_ok: bool


class InstanceOut(BaseModel):
    """`Instance`: power state."""

    Status: str
    StatusChangedAt: str


class InterfaceOut(BaseModel):
    """A network interface of a gateway."""

    ID: str
    MACAddress: str
    IPAddress: str | None = None
    UserIPAddress: str | None = None
    HostName: str | None = None
    Switch: dict[str, Any] | None = None
    Index: int


class ApplianceOut(BaseModel):
    """A mobile gateway (`Appliance`)."""

    ID: str
    Class: str
    Name: str
    Description: str
    Tags: list[str]
    Icon: IconOut | None
    Plan: dict[str, Any]
    Availability: str
    ServiceClass: str
    CreatedAt: str
    Instance: InstanceOut
    Interfaces: list[InterfaceOut]
    Remark: dict[str, Any]
    Settings: dict[str, Any]
    SettingsHash: str
    Switch: Any = None


class ApplianceEnvelopeOut(Ok):
    """`{"Appliance": {...}, "is_ok", "Success"}`."""

    Appliance: ApplianceOut


class ApplianceListOut(BaseModel):
    """`GET /appliance`."""

    Total: int
    From: int
    Count: int
    Appliances: list[ApplianceOut]
    is_ok: bool


class GatewaySimsOut(BaseModel):
    """`mobilegateway/sims`."""

    sim: list[SimInfo]
    is_ok: bool


class DnsOut(BaseModel):
    """`mobilegateway/dnsresolver`."""

    sim_group: SimGroup
    is_ok: bool


class SimRouteOut(BaseModel):
    """One SIM route."""

    resource_id: str
    prefix: str
    iccid: str


class SimRoutesOut(BaseModel):
    """`mobilegateway/simroutes`."""

    sim_routes: list[SimRouteOut]
    is_ok: bool


class TrafficMonitoringOut(BaseModel):
    """`mobilegateway/traffic_monitoring` (null config when unset)."""

    traffic_monitoring_config: TrafficMonitoringConfig | None
    is_ok: bool
