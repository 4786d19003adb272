"""Contract tests of the Sakura API wire shapes, over real HTTP: `simgate emulator serve`
as a subprocess on 127.0.0.1 (a free port), driven with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from . import live
from .sakura_fixtures import (
    ERROR_KEYS,
    GATEWAY_KEYS,
    LIST_KEYS,
    SIM_INFO_KEYS,
    SIM_KEYS,
    SIM_LOG_KEYS,
    SWITCH_KEYS,
    find_query,
    gateway_create_request,
    sim_create_request,
    switch_create_request,
)

IMEI = "353456789012345"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("contract") / "emulator.db"
    with live.serving(db) as info:
        yield info


@pytest.fixture
def api(server: dict[str, Any]) -> Iterator[httpx.Client]:
    """A client on the API root's is1a zone, authenticated."""
    base = server["api_root"] + "/is1a/api/cloud/1.1"
    with httpx.Client(base_url=base, auth=(live.TOKEN, live.SECRET), timeout=10) as client:
        yield client


@pytest.fixture
def steer(server: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server["http"], auth=live.AUTH, timeout=10) as client:
        yield client


def new_card(steer: httpx.Client) -> dict[str, str]:
    r = steer.post("/_emulator/sims", json={})
    assert r.status_code == 201
    card: dict[str, str] = r.json()
    return card


def assert_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == ERROR_KEYS
    assert body["is_fatal"] is True
    assert body["status"].startswith(f"{status} ")
    assert body["error_code"]
    assert body["error_msg"]
    return body


def create_sim(api: httpx.Client, steer: httpx.Client) -> tuple[dict[str, str], dict[str, Any]]:
    card = new_card(steer)
    r = api.post("/commonserviceitem", json=sim_create_request(card["iccid"], card["passcode"]))
    assert r.status_code == 201, r.text
    return card, r.json()["CommonServiceItem"]


def test_sim_create_envelope_and_shape(api: httpx.Client, steer: httpx.Client) -> None:
    card = new_card(steer)
    r = api.post("/commonserviceitem", json=sim_create_request(card["iccid"], card["passcode"]))
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"CommonServiceItem", "is_ok", "Success"}
    assert body["is_ok"] is True
    assert body["Success"] is True
    sim = body["CommonServiceItem"]
    assert set(sim) <= SIM_KEYS
    assert len(sim["ID"]) == 12
    assert sim["ID"].isdigit()
    assert sim["Provider"]["Class"] == "sim"
    assert sim["Availability"] == "available"
    assert sim["Status"]["ICCID"] == card["iccid"]
    assert set(sim["Status"]["sim"]) <= SIM_INFO_KEYS
    assert "Remark" not in sim
    assert card["passcode"] not in r.text
    assert sim["Tags"] == ["emulator"]


def test_sim_duplicate_iccid_409_and_wrong_passcode_400(
    api: httpx.Client, steer: httpx.Client
) -> None:
    card, _ = create_sim(api, steer)
    dup = assert_error(
        api.post("/commonserviceitem", json=sim_create_request(card["iccid"], card["passcode"])),
        409,
    )
    assert card["iccid"] in dup["error_msg"]
    other = new_card(steer)
    wrong = assert_error(
        api.post("/commonserviceitem", json=sim_create_request(other["iccid"], "NOPE0000")), 400
    )
    assert wrong["error_code"] == "invalid_passcode"
    assert "NOPE0000" not in wrong["error_msg"]


@pytest.mark.parametrize("iccid", ["123", "8981abc0000000000000", "8" * 23])
def test_invalid_iccid_400_and_nothing_stored(
    api: httpx.Client, steer: httpx.Client, iccid: str
) -> None:
    before = api.get("/commonserviceitem").json()["Total"]
    events_before = steer.get("/_emulator/events").text
    body = assert_error(
        api.post("/commonserviceitem", json=sim_create_request(iccid, "ABCD1234")), 400
    )
    assert "ICCID" in body["error_msg"]
    assert api.get("/commonserviceitem").json()["Total"] == before
    assert steer.get("/_emulator/events").text == events_before


def test_bad_input_gets_sakura_400(api: httpx.Client) -> None:
    bad_json = api.post(
        "/commonserviceitem", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert "JSON" in assert_error(bad_json, 400)["error_msg"]
    wrong_type = api.post("/commonserviceitem", json={"CommonServiceItem": {"Name": 5}})
    assert "Name" in assert_error(wrong_type, 400)["error_msg"]
    unknown = api.post("/commonserviceitem", json={"CommonServiceItem": {"Color": "red"}})
    assert "Color" in assert_error(unknown, 400)["error_msg"]
    no_class = api.post("/commonserviceitem", json={"CommonServiceItem": {"Name": "x"}})
    assert "Provider.Class" in assert_error(no_class, 400)["error_msg"]


def test_auth_unknown_id_and_zone(server: dict[str, Any], api: httpx.Client) -> None:
    base = server["api_root"] + "/is1a/api/cloud/1.1"
    assert_error(httpx.get(base + "/commonserviceitem", timeout=10), 401)
    assert_error(httpx.get(base + "/commonserviceitem", auth=("x", "y"), timeout=10), 401)
    assert_error(api.get("/commonserviceitem/123456789012"), 404)
    assert_error(api.get("/commonserviceitem/abc"), 404)
    zone = server["api_root"] + "/xx9z/api/cloud/1.1/switch"
    assert_error(httpx.get(zone, auth=(live.TOKEN, live.SECRET), timeout=10), 404)


def test_sim_find_with_go_style_query(api: httpx.Client, steer: httpx.Client) -> None:
    _, sim = create_sim(api, steer)
    r = api.get("/commonserviceitem" + find_query(**{"Provider.Class": "sim", "ID": sim["ID"]}))
    body = r.json()
    assert set(body) >= LIST_KEYS | {"CommonServiceItems"}
    assert body["Total"] == 1
    assert body["Count"] == 1
    assert body["CommonServiceItems"][0]["ID"] == sim["ID"]
    other = api.get("/commonserviceitem" + find_query(**{"Provider.Class": "dns"})).json()
    assert other["Total"] == 0


def test_sim_actions_status_and_log(api: httpx.Client, steer: httpx.Client) -> None:
    card, sim = create_sim(api, steer)
    sid = sim["ID"]
    ok = {"is_ok": True, "Success": True}
    assert api.put(f"/commonserviceitem/{sid}/sim/activate").json() == ok
    assert (
        api.put(f"/commonserviceitem/{sid}/sim/imeilock", json={"sim": {"imei": IMEI}}).json() == ok
    )
    assert (
        api.put(f"/commonserviceitem/{sid}/sim/ip", json={"sim": {"ip": "192.168.100.10"}}).json()
        == ok
    )
    assert_error(
        api.put(f"/commonserviceitem/{sid}/sim/ip", json={"sim": {"ip": "192.168.100.11"}}), 409
    )
    assert_error(
        api.put(f"/commonserviceitem/{sid}/sim/imeilock", json={"sim": {"imei": "12"}}), 400
    )
    status = api.get(f"/commonserviceitem/{sid}/sim/status").json()
    info = status["sim"]
    assert status["is_ok"] is True
    assert set(info) <= SIM_INFO_KEYS
    assert info["activated"]
    assert info["imei_lock"]
    assert info["imei"] == IMEI
    assert info["ip"] == "192.168.100.10"
    assert info["imsi"] == [card["imsi"]]
    assert info["traffic_bytes_of_current_month"] == {"uplink_bytes": "0", "downlink_bytes": "0"}
    steer.post(
        "/_emulator/network/attach",
        json={"iccid": card["iccid"], "imsi": card["imsi"], "imei": "353456789099999"},
    )
    logs = api.get(f"/commonserviceitem/{sid}/sim/sessionlog").json()
    assert set(logs) >= LIST_KEYS | {"logs"}
    assert set(logs["logs"][0]) >= SIM_LOG_KEYS
    assert logs["logs"][0]["session_status"] == "REJECTED"
    assert logs["logs"][0]["reason"] == "imei_locked"
    assert api.delete(f"/commonserviceitem/{sid}/sim/imeilock").json() == ok
    assert api.delete(f"/commonserviceitem/{sid}/sim/ip").json() == ok
    assert api.put(f"/commonserviceitem/{sid}/sim/deactivate").json() == ok
    ops = api.get(f"/commonserviceitem/{sid}/sim/network_operator_config").json()
    assert {"allow", "name"} <= set(ops["network_operator_config"][0])
    new = {"network_operator_config": [{"allow": True, "country_code": "JP", "name": "KDDI"}]}
    assert api.put(f"/commonserviceitem/{sid}/sim/network_operator_config", json=new).json() == ok
    deleted = api.delete(f"/commonserviceitem/{sid}")
    assert deleted.status_code == 200
    assert deleted.json()["CommonServiceItem"]["ID"] == sid
    assert_error(api.get(f"/commonserviceitem/{sid}"), 404)


def test_switch_crud(api: httpx.Client) -> None:
    r = api.post("/switch", json=switch_create_request())
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"Switch", "is_ok", "Success"}
    sw = body["Switch"]
    assert set(sw) <= SWITCH_KEYS
    assert sw["Scope"] == "user"
    assert sw["UserSubnet"] == {"NetworkMaskLen": 24, "DefaultRoute": "192.168.0.1"}
    assert sw["Zone"]["Name"] == "is1a"
    listing = api.get("/switch").json()
    assert set(listing) >= LIST_KEYS | {"Switches"}
    assert (
        api.put(f"/switch/{sw['ID']}", json={"Switch": {"Name": "renamed"}}).json()["Switch"][
            "Name"
        ]
        == "renamed"
    )
    assert api.delete(f"/switch/{sw['ID']}").status_code == 200
    assert_error(api.get(f"/switch/{sw['ID']}"), 404)


def test_gateway_lifecycle_and_sub_resources(api: httpx.Client, steer: httpx.Client) -> None:
    card, sim = create_sim(api, steer)
    sid = sim["ID"]
    api.put(f"/commonserviceitem/{sid}/sim/activate")
    sw = api.post("/switch", json=switch_create_request()).json()["Switch"]
    r = api.post("/appliance", json=gateway_create_request(internet=False))
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"Appliance", "is_ok", "Success"}
    gw = body["Appliance"]
    gid = gw["ID"]
    assert set(gw) <= GATEWAY_KEYS
    assert gw["Class"] == "mobilegateway"
    assert gw["Instance"]["Status"] == "down"
    assert gw["Settings"]["MobileGateway"]["InternetConnection"]["Enabled"] == "False"
    found = api.get("/appliance" + find_query(Class="mobilegateway", ID=gid)).json()
    assert found["Total"] == 1
    assert found["Appliances"][0]["ID"] == gid
    accepted = {"is_ok": True, "Success": "Accepted"}
    ok = {"is_ok": True, "Success": True}
    assert api.put(f"/appliance/{gid}/interface/1/to/switch/{sw['ID']}").json() == ok
    assert (
        api.post(f"/appliance/{gid}/mobilegateway/sims", json={"sim": {"resource_id": sid}}).json()
        == ok
    )
    power = api.put(f"/appliance/{gid}/power")
    assert power.status_code == 202
    assert power.json() == accepted
    assert_error(api.put(f"/appliance/{gid}/power"), 409)
    assert api.get(f"/appliance/{gid}").json()["Appliance"]["Instance"]["Status"] == "up"
    sims = api.get(f"/appliance/{gid}/mobilegateway/sims").json()
    assert [s["resource_id"] for s in sims["sim"]] == [sid]
    assert set(sims["sim"][0]) <= SIM_INFO_KEYS
    # the radio network: closed network only (internet off, §44)
    attach = steer.post(
        "/_emulator/network/attach",
        json={"iccid": card["iccid"], "imsi": card["imsi"], "imei": IMEI},
    ).json()
    assert attach["accepted"]
    assert attach["closed_network"]
    assert not attach["internet"]
    assert steer.post(
        "/_emulator/network/session", json={"iccid": card["iccid"], "state": "up"}
    ).json()["accepted"]
    t = steer.post(
        "/_emulator/network/traffic", json={"iccid": card["iccid"], "up": 1500, "down": 2500}
    ).json()
    assert t["accepted"]
    status = api.get(f"/appliance/{gid}/mobilegateway/traffic_status").json()["traffic_status"]
    assert status == {"uplink_bytes": "1500", "downlink_bytes": "2500", "traffic_shaping": False}
    info = api.get(f"/commonserviceitem/{sid}/sim/status").json()["sim"]
    assert info["session_status"] == "UP"
    assert info["connected_imei"] == IMEI
    assert info["traffic_bytes_of_current_month"] == {
        "uplink_bytes": "1500",
        "downlink_bytes": "2500",
    }
    # sub-resources
    assert api.get(f"/appliance/{gid}/mobilegateway/dnsresolver").json()["sim_group"].keys() == {
        "dns_1",
        "dns_2",
    }
    assert (
        api.put(
            f"/appliance/{gid}/mobilegateway/dnsresolver",
            json={"sim_group": {"dns_1": "1.1.1.1", "dns_2": "8.8.8.8"}},
        ).json()
        == ok
    )
    assert api.get(f"/appliance/{gid}/mobilegateway/dnsresolver").json()["sim_group"] == {
        "dns_1": "1.1.1.1",
        "dns_2": "8.8.8.8",
    }
    routes = {"sim_routes": [{"resource_id": sid, "prefix": "192.168.10.0/24"}]}
    assert api.put(f"/appliance/{gid}/mobilegateway/simroutes", json=routes).json() == ok
    got = api.get(f"/appliance/{gid}/mobilegateway/simroutes").json()["sim_routes"]
    assert got == [{"resource_id": sid, "prefix": "192.168.10.0/24", "iccid": card["iccid"]}]
    tm = {
        "traffic_monitoring_config": {
            "traffic_quota_in_mb": 512,
            "bandwidth_limit_in_kbps": 64,
            "email_config": {"enabled": True},
            "slack_config": {"enabled": False},
            "auto_traffic_shaping": True,
        }
    }
    assert api.put(f"/appliance/{gid}/mobilegateway/traffic_monitoring", json=tm).json() == ok
    cfg = api.get(f"/appliance/{gid}/mobilegateway/traffic_monitoring").json()[
        "traffic_monitoring_config"
    ]
    assert cfg["traffic_quota_in_mb"] == 512
    assert cfg["auto_traffic_shaping"] is True
    assert api.delete(f"/appliance/{gid}/mobilegateway/traffic_monitoring").json() == ok
    assert (
        api.get(f"/appliance/{gid}/mobilegateway/traffic_monitoring").json()[
            "traffic_monitoring_config"
        ]
        is None
    )
    # internet on through the settings update
    upd = {
        "Appliance": {"Settings": {"MobileGateway": {"InternetConnection": {"Enabled": "True"}}}}
    }
    assert (
        api.put(f"/appliance/{gid}", json=upd).json()["Appliance"]["Settings"]["MobileGateway"][
            "InternetConnection"
        ]["Enabled"]
        == "True"
    )
    assert api.put(f"/appliance/{gid}/config").json() == ok
    # deletion rules: powered on -> 409, SIMs -> 409
    assert_error(api.delete(f"/appliance/{gid}"), 409)
    shut = api.request("DELETE", f"/appliance/{gid}/power", json={"Force": True})
    assert shut.status_code == 202
    assert_error(api.delete(f"/appliance/{gid}"), 409)
    assert api.delete(f"/appliance/{gid}/mobilegateway/sims/{sid}").json() == ok
    assert api.delete(f"/appliance/{gid}/interface/1/to/switch").json() == ok
    assert api.delete(f"/appliance/{gid}").status_code == 200
    types = [
        line.split('"type":"')[1].split('"')[0]
        for line in steer.get("/_emulator/events").text.splitlines()
    ]
    assert "gateway_deleted" in types
    assert "option_cleared" in types


def test_events_media_types(steer: httpx.Client) -> None:
    r = steer.get("/_emulator/events")
    assert r.headers["content-type"].startswith("application/x-ndjson")
    r = steer.get("/_emulator/events", headers={"Accept": "text/plain"})
    assert r.headers["content-type"].startswith("text/plain")


def test_openapi_lists_every_route(steer: httpx.Client) -> None:
    spec = steer.get("/openapi.json").json()
    paths = spec["paths"]
    api = "/cloud/zone/{zone}/api/cloud/1.1"
    for path in (
        "/commonserviceitem",
        "/commonserviceitem/{sim_id}/sim/activate",
        "/commonserviceitem/{sim_id}/sim/imeilock",
        "/commonserviceitem/{sim_id}/sim/ip",
        "/commonserviceitem/{sim_id}/sim/status",
        "/commonserviceitem/{sim_id}/sim/sessionlog",
        "/commonserviceitem/{sim_id}/sim/network_operator_config",
        "/switch",
        "/appliance",
        "/appliance/{gateway_id}/power",
        "/appliance/{gateway_id}/interface/1/to/switch/{switch_id}",
        "/appliance/{gateway_id}/mobilegateway/sims",
        "/appliance/{gateway_id}/mobilegateway/dnsresolver",
        "/appliance/{gateway_id}/mobilegateway/simroutes",
        "/appliance/{gateway_id}/mobilegateway/traffic_monitoring",
        "/appliance/{gateway_id}/mobilegateway/traffic_status",
    ):
        assert api + path in paths, path
    assert "201" in paths[api + "/commonserviceitem"]["post"]["responses"]
    assert "409" in paths[api + "/commonserviceitem"]["post"]["responses"]
    for path in (
        "/_emulator/clock",
        "/_emulator/network/attach",
        "/_emulator/events",
        "/_emulator/invoices/{month}",
    ):
        assert path in paths
