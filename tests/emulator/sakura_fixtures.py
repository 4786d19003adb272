"""Wire facts of the Sakura Cloud API 1.1, written from sacloud/iaas-api-go's definitions
(`naked/sim.go`, `naked/mobile_gateway.go`, `naked/switch.go`, `naked/appliance.go`,
`zz_envelopes.go`, `error.go`, `customize_envelope.go`): the JSON the Go client sends and
the keys it reads back."""

from __future__ import annotations

from typing import Any

GO_ZERO_TIME = "0001-01-01T00:00:00Z"

# naked.SIMInfo json tags
SIM_INFO_KEYS = {
    "iccid",
    "imsi",
    "imei",
    "ip",
    "session_status",
    "imei_lock",
    "registered",
    "activated",
    "resource_id",
    "registered_date",
    "activated_date",
    "deactivated_date",
    "simgroup_id",
    "traffic_bytes_of_current_month",
    "connected_imei",
}
# naked.SIM fields
SIM_KEYS = {
    "ID",
    "Name",
    "Description",
    "Tags",
    "Status",
    "ServiceClass",
    "Availability",
    "CreatedAt",
    "ModifiedAt",
    "Provider",
    "Icon",
    "Remark",
}
SIM_LOG_KEYS = {"date", "session_status", "resource_id", "imei", "imsi"}
# naked.MobileGateway fields
GATEWAY_KEYS = {
    "ID",
    "Class",
    "Name",
    "Tags",
    "Description",
    "Plan",
    "Settings",
    "SettingsHash",
    "Remark",
    "Availability",
    "Instance",
    "ServiceClass",
    "CreatedAt",
    "Icon",
    "Switch",
    "Interfaces",
}
# naked.Switch fields
SWITCH_KEYS = {
    "ID",
    "Name",
    "Description",
    "Tags",
    "Icon",
    "CreatedAt",
    "ModifiedAt",
    "Scope",
    "Subnet",
    "UserSubnet",
    "Zone",
    "Internet",
    "Subnets",
    "IPv6Nets",
    "Bridge",
    "ServerCount",
    "HybridConnection",
}
ERROR_KEYS = {"is_fatal", "serial", "status", "error_code", "error_msg"}  # APIErrorResponse
LIST_KEYS = {"Total", "From", "Count"}


def sim_create_request(iccid: str, passcode: str, name: str = "sim1") -> dict[str, Any]:
    """SIMOp.Create's body: SIMCreateRequest mapped onto naked.SIM (Class fixed to "sim",
    ICCID into Status.ICCID, PassCode into Remark.PassCode; zero values included)."""
    return {
        "CommonServiceItem": {
            "Name": name,
            "Description": "",
            "Tags": ["emulator"],
            "Status": {"ICCID": iccid},
            "CreatedAt": GO_ZERO_TIME,
            "ModifiedAt": GO_ZERO_TIME,
            "Provider": {"Class": "sim"},
            "Icon": {},
            "Remark": {"PassCode": passcode},
        }
    }


def gateway_create_request(name: str = "mgw1", internet: bool = True) -> dict[str, Any]:
    """MobileGatewayOp.Create's body: Class "mobilegateway", Plan.ID 2 in Remark and Plan,
    Remark.Switch.Scope "shared", StringFlag settings ("True"/"False")."""
    return {
        "Appliance": {
            "Class": "mobilegateway",
            "Name": name,
            "Description": "",
            "Tags": [],
            "Plan": {"ID": 2},
            "Remark": {"Switch": {"Scope": "shared"}, "Plan": {"ID": 2}, "Servers": [{}]},
            "Settings": {
                "MobileGateway": {
                    "InternetConnection": {"Enabled": "True" if internet else "False"},
                    "InterDeviceCommunication": {"Enabled": "False"},
                }
            },
            "Icon": {},
        }
    }


def switch_create_request(name: str = "sw1") -> dict[str, Any]:
    """SwitchOp.Create's body."""
    return {
        "Switch": {
            "Name": name,
            "Description": "",
            "Tags": [],
            "UserSubnet": {"NetworkMaskLen": 24, "DefaultRoute": "192.168.0.1"},
            "Icon": {},
        }
    }


def find_query(**filters: Any) -> str:
    """The Go client's GET query: the find conditions as raw JSON after `?`."""
    import json

    conditions = {"Count": 0, "From": 0, "Filter": filters}
    return "?" + json.dumps(conditions, separators=(",", ":"))
