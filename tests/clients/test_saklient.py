"""saklient (the Sakura Cloud Python SDK, from PyPI) against the emulator's API root, as
it sends: JSON bodies labelled `application/x-www-form-urlencoded`, every PUT and DELETE
as a POST with `X-Sakura-HTTP-Method`, find conditions as URL-encoded JSON, `Tags.Name`
filters, and an appliance `save()` with a top-level `OriginalSettingsHash` (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from saklient.cloud import api as saklient_api
from saklient.cloud.resources.appliance import Appliance
from saklient.errors.httpconflictexception import HttpConflictException

from tests.emulator import live
from tests.emulator.sakura_fixtures import sim_create_request

TAG = "saklient-test"
REMARK = {"Switch": {"Scope": "shared"}, "Servers": [{}], "Plan": {"ID": 1}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with live.serving(tmp_path_factory.mktemp("saklient") / "emulator.db") as info:
        yield info


@pytest.fixture
def api(server: dict[str, Any]) -> Any:
    """saklient's API object on zone is1a, its root moved to the emulator."""
    api = saklient_api.API.authorize(live.TOKEN, live.SECRET, "is1a")
    api.get_client().set_api_root(server["http"] + "/cloud/")
    return api


def test_saklient_switch_create_find_by_tag_rename_delete(api: Any) -> None:
    switch = api.swytch.create()
    switch.set_name("sw-saklient")
    switch.set_tags([TAG, "other"])
    switch.save()
    assert len(switch.get_id()) == 12
    found = api.swytch.with_tag(TAG).find()
    assert [s.get_id() for s in found] == [switch.get_id()]
    assert api.swytch.with_tags([TAG, "missing"]).find() == []  # AND of tags
    switch.set_name("sw-renamed")
    switch.save()
    assert api.swytch.get_by_id(switch.get_id()).get_name() == "sw-renamed"
    switch.destroy()
    assert api.swytch.with_tag(TAG).find() == []


def test_saklient_sim_create_find_by_tag_rename_delete(api: Any, server: dict[str, Any]) -> None:
    with httpx.Client(base_url=server["http"], auth=live.AUTH, timeout=10) as steer:
        card = steer.post("/_emulator/sims", json={}).json()
    body = sim_create_request(card["iccid"], card["passcode"])
    body["CommonServiceItem"]["Tags"] = [TAG]
    client = api.get_client()  # saklient has no SIM model: its raw request, same wire
    created = client.request("POST", "/commonserviceitem", body)["CommonServiceItem"]
    sims = api.common_service_item.filter_by("Tags.Name", [TAG]).find()
    assert [s.get_id() for s in sims] == [created["ID"]]
    sim = sims[0]
    sim.set_name("sim-renamed")
    sim.save()
    assert api.common_service_item.get_by_id(created["ID"]).get_name() == "sim-renamed"
    sim.destroy()
    assert api.common_service_item.filter_by("Tags.Name", [TAG]).find() == []


def test_saklient_mobile_gateway_create_find_by_tag_rename_delete(api: Any) -> None:
    gateway = Appliance(api.get_client(), None)
    gateway.set_clazz("mobilegateway")
    gateway.set_name("mgw-saklient")
    gateway.set_tags([TAG])
    gateway.set_plan_id(1)
    gateway.set_raw_annotation(REMARK)
    gateway.set_raw_settings({"MobileGateway": {"InternetConnection": {"Enabled": "True"}}})
    gateway.save()  # POST, with "OriginalSettingsHash": null
    found = api.appliance.with_tag(TAG).find()
    assert [g.get_id() for g in found] == [gateway.get_id()]
    gateway = found[0]
    gateway.set_name("mgw-renamed")
    gateway.save()  # PUT as POST, with the OriginalSettingsHash it read
    assert api.appliance.get_by_id(gateway.get_id()).get_name() == "mgw-renamed"
    gateway.destroy()
    assert api.appliance.with_tag(TAG).find() == []


def test_saklient_save_with_a_stale_settings_hash_is_a_conflict(api: Any) -> None:
    gateway = Appliance(api.get_client(), None)
    gateway.set_clazz("mobilegateway")
    gateway.set_name("mgw-stale")
    gateway.set_plan_id(1)
    gateway.set_raw_annotation(REMARK)
    gateway.set_raw_settings({"MobileGateway": {"InternetConnection": {"Enabled": "False"}}})
    gateway.save()
    stale = api.appliance.get_by_id(gateway.get_id())
    gateway.set_raw_settings({"MobileGateway": {"InternetConnection": {"Enabled": "True"}}})
    gateway.save()  # the settings change: a new hash
    stale.set_name("from-a-stale-copy")
    with pytest.raises(HttpConflictException):
        stale.save()
    assert api.appliance.get_by_id(gateway.get_id()).get_name() == "mgw-stale"
    gateway.destroy()


def test_a_sakura_method_header_that_is_no_method_is_refused(server: dict[str, Any]) -> None:
    url = server["api_root"] + "/is1a/api/cloud/1.1/switch"
    headers = {"X-Sakura-HTTP-Method": "PATCH", "Content-Type": "application/x-www-form-urlencoded"}
    r = httpx.post(url, content=b"{}", headers=headers, auth=live.AUTH, timeout=10)
    assert r.status_code == 400
    assert "X-Sakura-HTTP-Method" in r.json()["error_msg"]


def test_saklient_is_installed_from_the_test_extra() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"saklient' in pyproject
