"""OpenAPI links from each create to what reads, changes and deletes what it made, so a
client generator or a stateful fuzzer (schemathesis) can follow a resource's life: the
switch, gateway and SIM of the Sakura API, a card of the factory, a platform project.
Added to the document `create_app` serves; operations are found by path and method."""

from __future__ import annotations

from typing import Any

API = "/cloud/zone/{zone}/api/cloud/1.1"
ZONE = "$request.path.zone"

_SWITCH = f"{API}/switch/{{switch_id}}"
_GATEWAY = f"{API}/appliance/{{gateway_id}}"
_SIM = f"{API}/commonserviceitem/{{sim_id}}"
_PROJECT = "/platform/v1/projects/{project_id}"

# (source path, source method, status) -> [(target path, method, parameters, body)]
Target = tuple[str, str, dict[str, Any], Any]
LINKS: dict[tuple[str, str, str], list[Target]] = {
    (f"{API}/switch", "post", "201"): [
        (path, method, {"zone": ZONE, "switch_id": "$response.body#/Switch/ID"}, None)
        for path, method in (
            (_SWITCH, "get"),
            (_SWITCH, "put"),
            (_SWITCH, "delete"),
            (_SWITCH + "/server", "get"),
        )
    ],
    (f"{API}/appliance", "post", "201"): [
        (path, method, {"zone": ZONE, "gateway_id": "$response.body#/Appliance/ID"}, None)
        for path, method in (
            (_GATEWAY, "get"),
            (_GATEWAY, "put"),
            (_GATEWAY, "delete"),
            (_GATEWAY + "/power", "put"),
            (_GATEWAY + "/power", "delete"),
            (_GATEWAY + "/reset", "put"),
            (_GATEWAY + "/config", "put"),
            (_GATEWAY + "/mobilegateway/sims", "get"),
            (_GATEWAY + "/mobilegateway/dnsresolver", "get"),
            (_GATEWAY + "/mobilegateway/dnsresolver", "put"),
            (_GATEWAY + "/mobilegateway/traffic_monitoring", "put"),
            (_GATEWAY + "/mobilegateway/traffic_status", "get"),
            (_GATEWAY + "/mobilegateway/sessionlog", "get"),
        )
    ],
    ("/_emulator/sims", "post", "201"): [
        (
            f"{API}/commonserviceitem",
            "post",
            {"zone": "is1a"},
            {
                "CommonServiceItem": {
                    "Name": "fuzzed",
                    "Provider": {"Class": "sim"},
                    "Status": {"ICCID": "$response.body#/iccid"},
                    "Remark": {"PassCode": "$response.body#/passcode"},
                }
            },
        ),
        ("/_emulator/sims/{iccid}", "get", {"iccid": "$response.body#/iccid"}, None),
        ("/_emulator/sims/{iccid}/token", "get", {"iccid": "$response.body#/iccid"}, None),
        (
            "/_emulator/network/attach",
            "post",
            {},
            {"iccid": "$response.body#/iccid", "imsi": "$response.body#/imsi"},
        ),
    ],
    (f"{API}/commonserviceitem", "post", "201"): [
        (path, method, {"zone": ZONE, "sim_id": "$response.body#/CommonServiceItem/ID"}, None)
        for path, method in (
            (_SIM, "get"),
            (_SIM, "put"),
            (_SIM, "delete"),
            (_SIM + "/sim/activate", "put"),
            (_SIM + "/sim/deactivate", "put"),
            (_SIM + "/sim/status", "get"),
            (_SIM + "/sim/sessionlog", "get"),
            (_SIM + "/sim/metrics/monitor", "get"),
            (_SIM + "/sim/network_operator_config", "get"),
            (_SIM + "/sim/ip", "put"),
            (_SIM + "/sim/imeilock", "put"),
        )
    ],
    ("/platform/v1/projects", "post", "201"): [
        (path, method, {"project_id": "$response.body#/id"}, None)
        for path, method in (
            (_PROJECT, "get"),
            (_PROJECT, "patch"),
            (_PROJECT, "delete"),
            (_PROJECT + "/devices", "get"),
            (_PROJECT + "/devices", "post"),
            (_PROJECT + "/adapters", "post"),
            (_PROJECT + "/messages", "get"),
        )
    ],
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the links above in its create operations' responses (in place)."""
    paths: dict[str, Any] = schema.get("paths", {})
    for (source, method, status), targets in LINKS.items():
        response = paths.get(source, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for path, target_method, parameters, body in targets:
            operation = paths.get(path, {}).get(target_method)
            if operation is None or "operationId" not in operation:
                continue
            link: dict[str, Any] = {"operationId": operation["operationId"]}
            if parameters:
                link["parameters"] = dict(parameters)
            if body is not None:
                link["requestBody"] = body
            links[operation["operationId"]] = link
    return schema
