"""Bad input never bricks the emulator or answers 500 (issue 13, safety rule 4): each case
of the issue, named after it, gets a 4xx naming the field and changes nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.app import create_app
from emulator.backend import Backend
from emulator.clock import REPAIR

from .platform_support import API, CREDENTIALS, TestClient, client, create_project, register_sim
from .sakura_fixtures import gateway_create_request, switch_create_request

__all__ = ["client"]

CLOCK = "/_emulator/clock"


def error_of(r: Any, status: int = 400) -> str:
    assert r.status_code == status, r.text
    message: str = r.json()["error_msg"]
    return message


def raw_json(client: TestClient, method: str, path: str, text: str) -> Any:
    """Send `text` as the JSON body, byte for byte (a lone surrogate escape survives)."""
    headers = {"Content-Type": "application/json"}
    return client.request(method, path, content=text.encode(), headers=headers)


# --- the clock -----------------------------------------------------------------------------


def test_clock_set_to_year_9999_is_400_and_not_stored(client: TestClient) -> None:
    before = client.get(CLOCK).json()
    message = error_of(client.put(CLOCK, json={"now": "9999-12-31T23:59:59Z"}))
    assert "now" in message
    assert "supported range" in message
    assert client.get(CLOCK).json() == before
    assert client.get("/_emulator/invoices/2026-03").status_code == 200  # still answers


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_clock_set_before_the_supported_range_is_400(client: TestClient, now: str) -> None:
    assert "supported range" in error_of(client.put(CLOCK, json={"now": now}))


def test_clock_advance_past_the_supported_range_is_400_and_not_stored(client: TestClient) -> None:
    client.put(CLOCK, json={"now": "8999-12-01T00:00:00Z", "frozen": True})
    message = error_of(client.post(CLOCK + "/advance", json={"seconds": 60 * 86400}))
    assert "supported range" in message
    assert client.get(CLOCK).json()["now"] == "8999-12-01T00:00:00+00:00"


def test_clock_advance_seconds_as_a_string_is_refused_not_coerced(client: TestClient) -> None:
    before = client.get(CLOCK).json()["now"]
    assert "seconds" in error_of(client.post(CLOCK + "/advance", json={"seconds": "10"}))
    assert client.get(CLOCK).json()["now"] == before


def test_a_store_holding_an_out_of_range_clock_starts_and_says_how_to_repair(
    tmp_path: Path,
) -> None:
    db = tmp_path / "e.db"
    Backend(db).close()
    backend = Backend(db)
    with backend.store.transaction() as tx:  # as an older emulator left it
        tx.meta_set("clock_virtual", "9999-12-31T23:59:59+00:00")
        tx.meta_set("clock_wall", "0")
        tx.meta_set("clock_frozen", "1")
    backend.close()
    app = create_app(db, credentials=CREDENTIALS)
    with TestClient(app, headers={"Authorization": "Basic dG9rOnNlYw=="}) as c:
        clock = c.get(CLOCK).json()
        assert clock["problem"] is not None
        assert REPAIR in clock["problem"]
        assert c.get("/_emulator/invoices/" + clock["month"]).status_code == 200
        repaired = c.put(CLOCK, json={"now": "2026-03-10T09:00:00+09:00", "frozen": True})
        assert repaired.status_code == 200
        assert repaired.json()["problem"] is None
    again = Backend(db)
    try:
        assert again.clock.problem is None
        assert again.clock.now().isoformat() == "2026-03-10T00:00:00+00:00"
    finally:
        again.close()


# --- 500 instead of 400 --------------------------------------------------------------------


def test_lone_surrogate_in_sim_rename_and_description_is_400(client: TestClient) -> None:
    _, sim_id = register_sim(client)
    for field in ("Name", "Description"):
        body = f'{{"CommonServiceItem": {{"{field}": "\\ud800"}}}}'
        r = raw_json(client, "PUT", f"{API}/commonserviceitem/{sim_id}", body)
        assert f"CommonServiceItem.{field}" in error_of(r)
    assert client.get(f"{API}/commonserviceitem/{sim_id}").json()["CommonServiceItem"]["Name"]


def test_lone_surrogate_in_switch_create_is_400_and_creates_nothing(client: TestClient) -> None:
    r = raw_json(client, "POST", f"{API}/switch", '{"Switch": {"Name": "sw\\udfff"}}')
    assert "Switch.Name" in error_of(r)
    assert client.get(f"{API}/switch").json()["Total"] == 0


def test_a_proper_surrogate_pair_is_text(client: TestClient) -> None:
    r = raw_json(client, "POST", f"{API}/switch", '{"Switch": {"Name": "sw \\ud83d\\ude00"}}')
    assert r.status_code == 201, r.text
    assert r.json()["Switch"]["Name"] == "sw \N{GRINNING FACE}"


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1969-12", "9000-01"])
def test_invoice_of_a_month_outside_the_supported_range_is_400(
    client: TestClient, month: str
) -> None:
    assert month in error_of(client.get(f"/_emulator/invoices/{month}"))


@pytest.mark.parametrize("after", [str(2**63), str(10**30), "-1"])
def test_events_after_out_of_range_is_400(client: TestClient, after: str) -> None:
    assert "after" in error_of(client.get(f"/_emulator/events?after={after}"))


# --- silent coercion that changed state ----------------------------------------------------


def test_plan_id_two_is_refused_naming_the_field_and_creates_no_gateway(client: TestClient) -> None:
    body = gateway_create_request()
    body["Appliance"]["Plan"] = {"ID": "two"}
    assert "Appliance.Plan.ID" in error_of(client.post(f"{API}/appliance", json=body))
    assert client.get(f"{API}/appliance").json()["Total"] == 0
    body["Appliance"]["Plan"] = {"ID": "2"}  # types.ID: digits as a string are a number
    assert client.post(f"{API}/appliance", json=body).status_code == 201


def test_file_transfer_yes_is_refused_not_made_true(client: TestClient) -> None:
    register_sim(client)
    r = client.post("/platform/v1/projects", json={"name": "p", "file_transfer": "yes"})
    assert "file_transfer" in error_of(r)
    project = create_project(client)
    r = client.patch(f"/platform/v1/projects/{project}", json={"file_transfer": "yes"})
    assert "file_transfer" in error_of(r)
    assert client.get(f"/platform/v1/projects/{project}").json()["file_transfer"] is False


def test_factory_iccid_with_a_bad_luhn_digit_is_refused(client: TestClient) -> None:
    message = error_of(client.post("/_emulator/sims", json={"iccid": "8981100000000000011"}))
    assert "iccid" in message
    assert "Luhn" in message
    assert "must be 0" in message
    assert client.get("/_emulator/sims").json() == []
    assert client.post("/_emulator/sims", json={"iccid": "8981100000000000010"}).status_code == 201


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"Count": -1}, "Count"),
        ({"From": -5}, "From"),
        ({"Count": "x"}, "Count"),
        ({"Count": True}, "Count"),
    ],
)
def test_count_minus_one_and_other_bad_paging_are_refused(
    client: TestClient, conditions: dict[str, Any], field: str
) -> None:
    client.post(f"{API}/switch", json=switch_create_request())
    r = client.get(f"{API}/switch?" + json.dumps(conditions))
    assert field in error_of(r)


@pytest.mark.parametrize(
    "body",
    [
        {"Switch": {"Name": "sw", "Tags": [1]}},
        {"Switch": {"Name": 5}},
        {"Switch": {"Name": "sw", "UserSubnet": {"NetworkMaskLen": "24"}}},
    ],
)
def test_sakura_types_are_strict(client: TestClient, body: dict[str, Any]) -> None:
    assert "Switch." in error_of(client.post(f"{API}/switch", json=body))
    assert client.get(f"{API}/switch").json()["Total"] == 0


def test_network_traffic_counts_as_strings_are_refused(client: TestClient) -> None:
    body = {"iccid": "8981100000000000010", "up": "10", "down": 0}
    assert "up" in error_of(client.post("/_emulator/network/traffic", json=body))


def test_account_flags_are_strict(client: TestClient) -> None:
    r = client.put("/_emulator/account", json={"suspension_enabled": "yes"})
    assert "suspension_enabled" in error_of(r)
    assert client.get("/_emulator/account").json()["suspension_enabled"] is False


# --- what real clients send -----------------------------------------------------------------


def test_tags_name_filter_matches_tags_and_and_groups(client: TestClient) -> None:
    for name, tags in (("a", ["t1", "t2"]), ("b", ["t1"]), ("c", ["t3"])):
        body = switch_create_request(name)
        body["Switch"]["Tags"] = tags
        assert client.post(f"{API}/switch", json=body).status_code == 201

    def names(tags: Any) -> list[str]:
        query = json.dumps({"Filter": {"Tags.Name": tags}})
        return sorted(s["Name"] for s in client.get(f"{API}/switch?{query}").json()["Switches"])

    assert names(["t1"]) == ["a", "b"]
    assert names("t1") == ["a", "b"]
    assert names([["t1", "t2"]]) == ["a"]  # iaas-api-go's TagsAndEqual: AND
    assert names([["t1", "t2"], ["t3"]]) == ["a", "c"]  # (t1 and t2) or t3
    assert names(["nope"]) == []


def test_sim_info_carries_simgroup_id_and_the_gateway_its_subnet(client: TestClient) -> None:
    _, sim_id = register_sim(client)
    gw = client.post(f"{API}/appliance", json=gateway_create_request()).json()["Appliance"]
    client.post(f"{API}/appliance/{gw['ID']}/mobilegateway/sims",
                json={"sim": {"resource_id": sim_id}})  # fmt: skip
    for path in (f"/commonserviceitem/{sim_id}/sim/status",):
        assert client.get(API + path).json()["sim"]["simgroup_id"] == gw["ID"]
    item = client.get(f"{API}/commonserviceitem/{sim_id}").json()["CommonServiceItem"]
    assert item["Status"]["sim"]["simgroup_id"] == gw["ID"]
    listed = client.get(f"{API}/appliance/{gw['ID']}/mobilegateway/sims").json()["sim"]
    assert [s["simgroup_id"] for s in listed] == [gw["ID"]]
    subnet = gw["Interfaces"][0]["Switch"]["Subnet"]
    assert subnet["NetworkMaskLen"] == 28
    assert gw["Interfaces"][0]["IPAddress"] != subnet["DefaultRoute"]


def test_the_endpoints_usacloud_and_terraform_reach_answer(client: TestClient) -> None:
    _, sim_id = register_sim(client)
    gw = client.post(f"{API}/appliance", json=gateway_create_request()).json()["Appliance"]
    sw = client.post(f"{API}/switch", json=switch_create_request()).json()["Switch"]
    monitor = client.get(f"{API}/commonserviceitem/{sim_id}/sim/metrics/monitor")
    assert monitor.json() == {"Data": {}, "is_ok": True}
    assert client.get(f"{API}/appliance/{gw['ID']}/interface/0/monitor").status_code == 200
    assert client.get(f"{API}/appliance/{gw['ID']}/interface/1/monitor").status_code == 404
    assert client.put(f"{API}/appliance/{gw['ID']}/reset").status_code == 409  # powered off
    client.put(f"{API}/appliance/{gw['ID']}/power")
    assert client.put(f"{API}/appliance/{gw['ID']}/reset").status_code == 200
    state = client.get(f"{API}/appliance/{gw['ID']}").json()["Appliance"]["Instance"]["Status"]
    assert state == "up"
    servers = client.get(f"{API}/switch/{sw['ID']}/server").json()
    assert (servers["Total"], servers["Servers"]) == (0, [])


def test_swagger_ui_and_redoc_are_not_served_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert "cdn" not in client.get("/openapi.json").text.lower()


def test_a_frozen_clock_near_the_end_of_the_range_is_still_usable(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    backend = Backend(db)
    backend.clock.set(datetime(8999, 12, 31, tzinfo=UTC), frozen=True)
    backend.close()
    again = Backend(db)
    try:
        assert again.clock.problem is None
        assert again.clock.now() == datetime(8999, 12, 31, tzinfo=UTC)
    finally:
        again.close()
