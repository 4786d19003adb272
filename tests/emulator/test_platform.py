"""The Mono Platform (001 §50-§60) through its REST API (FastAPI TestClient): projects and
the contract, SIM resources and device IDs, typed objects, webhooks' signatures, files,
and what the platform's events cost on the invoice."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.app import create_app
from emulator.backend import Backend
from emulator.models.platform.adapters import sign
from simgate_common.wire import PlatformMessage, TypedObject, WireError

from .live import basic
from .platform_support import (
    API,
    AUTH,
    CREDENTIALS,
    TestClient,
    add_device,
    client,
    create_project,
    events,
    lines,
    register_sim,
    set_clock,
)

__all__ = ["client"]
P = "/platform/v1"


def test_001_s51_2_needs_secure_mobile_connect(client: TestClient) -> None:
    r = client.post(f"{P}/projects", auth=AUTH, json={"name": "p"})
    assert r.status_code == 403
    assert r.json()["error_code"] == "secure_mobile_connect_required"
    assert "§51.2" in r.json()["error_msg"]
    assert client.get(f"{P}/contract", auth=AUTH).json()["status"] == "none"
    assert events(client, "project_created") == []


def test_001_s53_2_business_use_only(client: TestClient) -> None:
    register_sim(client)
    client.put("/_emulator/account", json={"entity_type": "individual"})
    r = client.post(f"{P}/projects", auth=AUTH, json={})
    assert r.status_code == 403
    assert r.json()["error_code"] == "individual_account_refused"
    client.put("/_emulator/account", json={"entity_type": "non_profit"})
    assert client.post(f"{P}/projects", auth=AUTH, json={}).status_code == 201


def test_001_s53_1_contract_forms_at_first_project(client: TestClient) -> None:
    register_sim(client)
    assert client.get(f"{P}/contract", auth=AUTH).json()["formed_at"] is None
    project = create_project(client)
    contract = client.get(f"{P}/contract", auth=AUTH).json()
    assert contract == {
        "status": "active",
        "formed_at": "2026-03-10T00:00:00+00:00",
        "ends_on": None,
        "projects": 1,
    }
    assert events(client, "project_created") == [
        {"at": "2026-03-10T00:00:00+00:00", "type": "project_created", "project": project}
    ]
    invoice = client.get("/_emulator/invoices/2026-03").json()
    assert [c["service"] for c in invoice["contracts"]] == [
        "secure_mobile_connect",
        "mono_platform",
    ]


def test_001_s60_2_deleting_every_project_ends_the_contract_at_month_end(
    client: TestClient,
) -> None:
    register_sim(client)
    first, second = create_project(client), create_project(client)
    assert client.delete(f"{P}/projects/{first}", auth=AUTH).status_code == 200
    assert client.get(f"{P}/contract", auth=AUTH).json()["status"] == "active"
    client.delete(f"{P}/projects/{second}", auth=AUTH)
    contract = client.get(f"{P}/contract", auth=AUTH).json()
    assert (contract["status"], contract["ends_on"]) == ("ending", "2026-03-31")
    set_clock(client, "2026-04-01T00:00:00+09:00")
    assert client.get(f"{P}/contract", auth=AUTH).json()["status"] == "ended"
    create_project(client)  # a new contract
    contract = client.get(f"{P}/contract", auth=AUTH).json()
    assert contract["status"] == "active"
    assert contract["formed_at"] == "2026-03-31T15:00:00+00:00"
    invoice = client.get("/_emulator/invoices/2026-03").json()
    platform = [c for c in invoice["contracts"] if c["service"] == "mono_platform"]
    assert platform[0]["ends_on"] == "2026-03-31"


def test_project_with_devices_cannot_be_deleted(client: TestClient) -> None:
    iccid, _ = register_sim(client)
    project = create_project(client)
    device = add_device(client, project, iccid)
    r = client.delete(f"{P}/projects/{project}", auth=AUTH)
    assert r.status_code == 409
    assert r.json()["error_code"] == "project_not_empty"
    client.delete(f"{P}/projects/{project}/devices/{device}", auth=AUTH)
    assert client.delete(f"{P}/projects/{project}", auth=AUTH).status_code == 200


def test_001_s52_2_sim_resource_made_when_sim_registered(client: TestClient) -> None:
    assert client.get(f"{P}/sim-resources", auth=AUTH).json() == []
    iccid, sim_id = register_sim(client)
    assert client.get(f"{P}/sim-resources", auth=AUTH).json() == [
        {
            "iccid": iccid,
            "sim_id": sim_id,
            "created_at": "2026-03-10T00:00:00+00:00",
            "device_id": None,
            "project_id": None,
        }
    ]


def test_001_s52_5_same_device_id_on_reregistration(client: TestClient) -> None:
    card = client.post("/_emulator/sims", json={}).json()
    iccid, sim_id = register_sim(client, card)
    other_iccid, _ = register_sim(client)
    first, second = create_project(client), create_project(client)
    device = add_device(client, first, iccid)
    assert device != add_device(client, first, other_iccid)  # unique per SIM resource
    again = client.post(f"{P}/projects/{second}/devices", auth=AUTH, json={"iccid": iccid})
    assert again.status_code == 409  # in one project at a time
    assert client.delete(f"{P}/projects/{first}/devices/{device}", auth=AUTH).status_code == 200
    assert client.get(f"{P}/devices/{device}", auth=AUTH).status_code == 404
    assert add_device(client, second, iccid) == device  # another project: the same ID
    client.delete(f"{P}/projects/{second}/devices/{device}", auth=AUTH)
    assert add_device(client, first, iccid) == device
    issued = [e["device_id"] for e in events(client, "device_registered") if e["iccid"] == iccid]
    assert issued == [device, device, device]
    # Decision: the device ID belongs to the card, so it survives deleting the SIM and
    # registering the card again (a new SIM resource)
    assert client.delete(f"{API}/commonserviceitem/{sim_id}", auth=AUTH).status_code == 200
    resources = client.get(f"{P}/sim-resources", auth=AUTH).json()
    assert iccid not in [r["iccid"] for r in resources]
    register_sim(client, card)
    [resource] = [
        r for r in client.get(f"{P}/sim-resources", auth=AUTH).json() if r["iccid"] == iccid
    ]
    assert (resource["device_id"], resource["project_id"]) == (device, None)
    assert add_device(client, second, iccid) == device


def test_deleting_a_sim_takes_it_out_of_its_project(client: TestClient) -> None:
    iccid, sim_id = register_sim(client)
    project = create_project(client)
    device = add_device(client, project, iccid)
    client.delete(f"{API}/commonserviceitem/{sim_id}", auth=AUTH)
    assert client.get(f"{P}/projects/{project}/devices", auth=AUTH).json() == []
    assert events(client, "device_unregistered") == [
        {
            "at": "2026-03-10T00:00:00+00:00",
            "type": "device_unregistered",
            "iccid": iccid,
            "project": project,
        }
    ]
    assert client.get(f"{P}/devices/{device}", auth=AUTH).status_code == 404


def test_openapi_lists_the_platform_and_sms_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/platform/v1/projects",
        "/platform/v1/projects/{project_id}/devices",
        "/platform/v1/projects/{project_id}/devices/{device_id}/messages",
        "/platform/v1/projects/{project_id}/adapters/{adapter_id}/incoming",
        "/platform/v1/projects/{project_id}/files/{file_id}",
        "/sms/v1/messages",
        "/sms/v1/contracts/{kind}/cancel",
        "/_emulator/sms",
        "/_emulator/platform/outbox",
    ):
        assert path in paths, path


def test_pending_deliveries_survive_a_restart(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "e.db")
    card = backend.cards.manufacture()
    assert card.passcode is not None
    sim = backend.sims.register(iccid=card.iccid, passcode=card.passcode)
    project = backend.platform.projects.create("p")
    device = backend.platform.devices.register(project.id, sim.iccid)
    objects = [{"tag": 0, "type": "int8", "value": 1}]
    backend.platform.messages.send_down(project.id, device.device_id, {"objects": objects})
    backend.close()
    backend = Backend(tmp_path / "e.db")
    [pending] = backend.platform.outbox.entries(pending_only=True)
    assert pending.target == f"device:{sim.iccid}"
    assert pending.payload["objects"] == objects
    backend.close()


def test_unknown_sim_resource_and_bad_iccid(client: TestClient) -> None:
    register_sim(client)
    project = create_project(client)
    r = client.post(f"{P}/projects/{project}/devices", auth=AUTH, json={"iccid": "8981" + "0" * 15})
    assert (r.status_code, r.json()["error_code"]) == (404, "sim_resource_not_found")
    r = client.post(f"{P}/projects/{project}/devices", auth=AUTH, json={"iccid": "abc"})
    assert r.status_code == 400
    assert client.get(f"{P}/projects", auth=("tok", "wrong")).status_code == 401


# --- typed objects -----------------------------------------------------------------------

RANGES = [
    ("int8", -128, 127),
    ("int16", -(2**15), 2**15 - 1),
    ("int32", -(2**31), 2**31 - 1),
    ("int64", -(2**63), 2**63 - 1),
    ("uint8", 0, 255),
    ("uint16", 0, 2**16 - 1),
    ("uint32", 0, 2**32 - 1),
    ("uint64", 0, 2**64 - 1),
]


@pytest.mark.parametrize(("kind", "low", "high"), RANGES)
def test_typed_integer_ranges(kind: str, low: int, high: int) -> None:
    assert TypedObject(0, kind, low).value == low
    assert TypedObject(255, kind, high).value == high
    for bad in (low - 1, high + 1):
        with pytest.raises(WireError, match=f"outside the {kind} range"):
            TypedObject(0, kind, bad)
    for wrong in (1.0, "1", True, None):
        with pytest.raises(WireError, match="must be an integer"):
            TypedObject(0, kind, wrong)


def test_typed_floats_binary_and_text() -> None:
    assert TypedObject(1, "float32", 0.5).value == 0.5
    assert TypedObject(1, "float32", 0.1).value == pytest.approx(0.1, rel=1e-7)
    assert TypedObject(1, "float32", 3.4028234663852886e38).value == 3.4028234663852886e38
    with pytest.raises(WireError, match="float32 range"):
        TypedObject(1, "float32", 3.5e38)
    assert TypedObject(1, "float64", 1e308).value == 1e308
    with pytest.raises(WireError, match="finite"):
        TypedObject(1, "float64", float("nan"))
    assert TypedObject(1, "binary", "AAEC/w==").value == "AAEC/w=="
    for bad in ("AAEC/w", "AAE*", "AAEC/w=\n"):
        with pytest.raises(WireError, match="base64"):
            TypedObject(1, "binary", bad)
    assert TypedObject(1, "string", "温度").value == "温度"
    with pytest.raises(WireError, match="UTF-8"):
        TypedObject(1, "string", "\ud800")
    with pytest.raises(WireError, match="tag"):
        TypedObject(256, "int8", 1)
    with pytest.raises(WireError, match="type"):
        TypedObject(1, "bool", True)


def test_platform_message_payload() -> None:
    message = PlatformMessage.from_json(
        b'{"id":"m1","objects":[{"tag":3,"type":"uint64","value":18446744073709551615}]}'
    )
    assert PlatformMessage.from_json(message.to_json()) == message
    for payload, field in (
        (b'{"id":"m1","objects":[]}', "objects"),
        (b'{"id":"m1","objects":[{"tag":1,"type":"int8"}]}', "objects[0].value"),
        (b'{"id":"m1","objects":[{"tag":1,"type":"int8","value":1,"x":2}]}', "objects[0].x"),
        (b'{"id":"","objects":[{"tag":1,"type":"int8","value":1}]}', "id"),
        (b'{"objects":[{"tag":1,"type":"int8","value":1}]}', "id"),
    ):
        with pytest.raises(WireError) as caught:
            PlatformMessage.from_json(payload)
        assert caught.value.field == field


def _platform_device(client: TestClient) -> tuple[str, str, str]:
    iccid, _ = register_sim(client)
    project = create_project(client)
    return iccid, project, add_device(client, project, iccid)


def test_send_message_validates_and_counts_as_platform_traffic(client: TestClient) -> None:
    iccid, project, device = _platform_device(client)
    url = f"{P}/projects/{project}/devices/{device}/messages"
    bad = {"objects": [{"tag": 1, "type": "uint8", "value": 256}]}
    r = client.post(url, auth=AUTH, json=bad)
    assert r.status_code == 400
    assert "objects[0].value: 256 is outside the uint8 range 0..255" in r.json()["error_msg"]
    good = {"id": "cmd-1", "objects": [{"tag": 1, "type": "float32", "value": 0.5}]}
    r = client.post(url, auth=AUTH, json=good)
    assert r.status_code == 202, r.text
    assert r.json()["direction"] == "down"
    assert client.post(url, auth=AUTH, json=good).status_code == 200  # same id: not again
    listed = client.get(f"{P}/projects/{project}/messages", auth=AUTH).json()
    assert [m["id"] for m in listed] == ["cmd-1"]
    assert events(client, "platform_traffic") == [
        {
            "at": "2026-03-10T00:00:00+00:00",
            "type": "platform_traffic",
            "iccid": iccid,
            "project": project,
            "messages": 1,
        }
    ]
    outbox = client.get("/_emulator/platform/outbox").json()
    assert [d["target"] for d in outbox] == [f"device:{iccid}"]


# --- webhooks ----------------------------------------------------------------------------


def test_incoming_webhook_signature(client: TestClient) -> None:
    _, project, device = _platform_device(client)
    created = client.post(
        f"{P}/projects/{project}/adapters",
        auth=AUTH,
        json={"kind": "incoming_webhook", "name": "erp", "secret": "s" * 32},
    ).json()
    assert created["secret"] == "s" * 32
    shown = client.get(f"{P}/projects/{project}/adapters/{created['id']}", auth=AUTH).json()
    assert shown["secret"] is None
    path = created["incoming_path"]
    body = json.dumps(
        {"device_id": device, "id": "x1", "objects": [{"tag": 0, "type": "string", "value": "hi"}]}
    ).encode()
    for signature in (None, "sha256=" + "0" * 64, sign("t" * 32, body)):
        headers = {"content-type": "application/json"}
        if signature:
            headers["X-Simgate-Signature"] = signature
        r = client.post(path, content=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error_code"] == "bad_signature"
    assert client.get(f"{P}/projects/{project}/messages", auth=AUTH).json() == []
    assert client.get("/_emulator/platform/outbox").json() == []
    expected = "sha256=" + hmac.new(b"s" * 32, body, hashlib.sha256).hexdigest()
    r = client.post(path, content=body, headers={"X-Simgate-Signature": expected})
    assert r.status_code == 202, r.text
    assert r.json()["source"] == f"adapter:{created['id']}"
    r = client.post(path, content=body, headers={"X-Simgate-Signature": expected})
    assert r.status_code == 200  # the same id again: delivered once
    bad = json.dumps({"device_id": device, "objects": [{"tag": 0, "type": "int8", "value": 200}]})
    r = client.post(
        path, content=bad, headers={"X-Simgate-Signature": sign("s" * 32, bad.encode())}
    )
    assert r.status_code == 400
    assert len(client.get("/_emulator/platform/outbox").json()) == 1


def test_adapter_crud_and_validation(client: TestClient) -> None:
    _, project, _ = _platform_device(client)
    base = f"{P}/projects/{project}/adapters"
    assert client.post(base, auth=AUTH, json={"kind": "outgoing_webhook"}).status_code == 400
    bad_url = {"kind": "outgoing_webhook", "url": "ftp://x"}
    assert client.post(base, auth=AUTH, json=bad_url).status_code == 400
    made = client.post(
        base, auth=AUTH, json={"kind": "outgoing_webhook", "url": "http://127.0.0.1:9/h"}
    ).json()
    assert len(made["secret"]) >= 32
    r = client.patch(f"{base}/{made['id']}", auth=AUTH, json={"url": "https://example.test/h"})
    assert r.json()["url"] == "https://example.test/h"
    assert [a["id"] for a in client.get(base, auth=AUTH).json()] == [made["id"]]
    assert client.delete(f"{base}/{made['id']}", auth=AUTH).status_code == 200
    assert client.get(f"{base}/{made['id']}", auth=AUTH).status_code == 404


# --- files -------------------------------------------------------------------------------


def _enable_file_transfer(client: TestClient, project: str) -> None:
    r = client.patch(f"{P}/projects/{project}", auth=AUTH, json={"file_transfer": True})
    assert (r.status_code, r.json()["file_transfer"]) == (200, True), r.text


def test_file_integrity_and_size_limit(client: TestClient) -> None:
    iccid, project, device = _platform_device(client)
    data = bytes(range(256)) * 40
    digest = hashlib.sha256(data).hexdigest()
    url = f"{P}/projects/{project}/files"
    params: dict[str, Any] = {"name": "fw.bin", "sha256": digest, "to": f"device:{device}"}
    # a sub-option the customer chooses (§50.3): refused until the project turns it on
    r = client.post(url, auth=AUTH, params=params, content=data)
    assert (r.status_code, r.json()["error_code"]) == (409, "file_transfer_not_enabled")
    _enable_file_transfer(client, project)
    params["sha256"] = "0" * 64
    r = client.post(url, auth=AUTH, params=params, content=data)
    assert (r.status_code, r.json()["error_code"]) == (400, "sha256_mismatch")
    assert client.get(url, auth=AUTH).json() == []
    params["sha256"] = digest
    r = client.post(url, auth=AUTH, params=params, content=data)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert (stored["size"], stored["sha256"]) == (len(data), digest)
    got = client.get(f"{url}/{stored['id']}", auth=AUTH)
    assert got.content == data
    assert got.headers["x-simgate-sha256"] == hashlib.sha256(got.content).hexdigest() == digest
    notice = client.get("/_emulator/platform/outbox").json()[-1]
    assert (notice["target"], notice["kind"]) == (f"device:{iccid}", "file")
    # the device downloads it with its own login
    token = client.get(f"/_emulator/sims/{iccid}/token").json()["token"]
    path = f"{P}/device/files/{stored['id']}"
    assert client.get(path, auth=(iccid, token)).content == data
    assert client.get(path, auth=(iccid, "x" * 64)).status_code == 401
    # size limit: a clear 413 naming it
    client.put("/_emulator/platform", json={"file_size_limit": 1000})
    r = client.post(url, auth=AUTH, params=params, content=data)
    assert r.status_code == 413
    assert "file size limit of 1000 bytes" in r.json()["error_msg"]
    assert len(client.get(url, auth=AUTH).json()) == 1


def test_device_uploads_a_file_for_an_outgoing_webhook(client: TestClient) -> None:
    iccid, project, device = _platform_device(client)
    _enable_file_transfer(client, project)
    adapter = client.post(
        f"{P}/projects/{project}/adapters",
        auth=AUTH,
        json={"kind": "outgoing_webhook", "url": "http://127.0.0.1:9/h"},
    ).json()
    token = client.get(f"/_emulator/sims/{iccid}/token").json()["token"]
    data = b"log line\n" * 10
    params = {
        "name": "log.txt",
        "sha256": hashlib.sha256(data).hexdigest(),
        "to": f"adapter:{adapter['id']}",
    }
    r = client.post(f"{P}/device/files", auth=(iccid, token), params=params, content=data)
    assert r.status_code == 201, r.text
    assert r.json()["source"] == f"device:{device}"
    r = client.post(f"{P}/device/files", auth=AUTH, params=params, content=data)
    assert r.status_code == 401


# --- billing -----------------------------------------------------------------------------


def test_worked_example_7_reregistered_device_two_platform_fees(client: TestClient) -> None:
    iccid, project, device = _platform_device(client)
    other = create_project(client)
    url = f"{P}/projects/{project}/devices/{device}/messages"
    message = {"objects": [{"tag": 0, "type": "int8", "value": 1}]}
    assert client.post(url, auth=AUTH, json=message).status_code == 202
    client.delete(f"{P}/projects/{project}/devices/{device}", auth=AUTH)
    set_clock(client, "2026-03-20T09:00:00+09:00")
    assert add_device(client, other, iccid) == device
    invoice = client.get("/_emulator/invoices/2026-03").json()
    [line] = lines(invoice, "platform_basic")
    assert (line["subject"], line["quantity"], line["unit_price"]) == (device, 2, 20)
    assert line["clause"] == "001 §55"
    # a month without platform traffic costs nothing (§55.2)
    assert lines(client.get("/_emulator/invoices/2026-04").json(), "platform_basic") == []


def _option_events(client: TestClient) -> list[tuple[str, str, str, str]]:
    """(type, option, subject, at) of the project sub-option events, in log order."""
    return [
        (e["type"], e["option"], e["subject"], e["at"])
        for e in events(client)
        if e["type"].startswith("option_") and e["option"] in ("service_adapter", "file_transfer")
    ]


def test_001_s56_service_adapter_option_follows_the_first_and_last_adapter(
    client: TestClient,
) -> None:
    register_sim(client)
    project = create_project(client)
    base = f"{P}/projects/{project}/adapters"
    assert _option_events(client) == []
    set_clock(client, "2026-03-20T09:00:00+09:00")
    first = client.post(base, auth=AUTH, json={"kind": "incoming_webhook"}).json()
    second = client.post(
        base, auth=AUTH, json={"kind": "outgoing_webhook", "url": "https://example.test/h"}
    ).json()
    assert client.get(f"{P}/projects/{project}", auth=AUTH).json()["adapters"] == 2
    set_clock(client, "2026-04-02T09:00:00+09:00")
    assert client.delete(f"{base}/{first['id']}", auth=AUTH).status_code == 200
    set_clock(client, "2026-05-01T09:00:00+09:00")
    assert client.delete(f"{base}/{second['id']}", auth=AUTH).status_code == 200
    # set at the first adapter, cleared at the last; stamped with the virtual clock
    assert _option_events(client) == [
        ("option_set", "service_adapter", project, "2026-03-20T00:00:00+00:00"),
        ("option_cleared", "service_adapter", project, "2026-05-01T00:00:00+00:00"),
    ]
    for month in ("2026-03", "2026-04", "2026-05"):
        [line] = lines(client.get(f"/_emulator/invoices/{month}").json(), "option_service_adapter")
        assert (line["subject"], line["quantity"], line["unit_price"], line["amount"]) == (
            project,
            1,
            200,
            200,
        )
        assert line["clause"] == "001 §50.3, §56"
    assert lines(client.get("/_emulator/invoices/2026-06").json(), "option_service_adapter") == []


def test_001_s56_file_transfer_is_a_project_setting_cleared_by_project_deletion(
    client: TestClient,
) -> None:
    register_sim(client)
    r = client.post(f"{P}/projects", auth=AUTH, json={"name": "f", "file_transfer": True})
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    assert (r.json()["file_transfer"], r.json()["adapters"]) == (True, 0)
    adapter = client.post(
        f"{P}/projects/{project}/adapters", auth=AUTH, json={"kind": "incoming_webhook"}
    )
    assert adapter.status_code == 201
    url = f"{P}/projects/{project}"
    set_clock(client, "2026-04-15T09:00:00+09:00")
    assert client.patch(url, auth=AUTH, json={"file_transfer": True}).status_code == 200
    assert client.patch(url, auth=AUTH, json={"name": "g"}).json()["file_transfer"] is True
    assert (
        client.patch(url, auth=AUTH, json={"file_transfer": False}).json()["file_transfer"] is False
    )
    set_clock(client, "2026-05-10T09:00:00+09:00")
    assert client.patch(url, auth=AUTH, json={"file_transfer": True}).status_code == 200
    set_clock(client, "2026-06-01T09:00:00+09:00")
    assert client.delete(url, auth=AUTH).status_code == 200
    march = "2026-03-10T00:00:00+00:00"
    assert _option_events(client) == [
        ("option_set", "file_transfer", project, march),
        ("option_set", "service_adapter", project, march),
        ("option_cleared", "file_transfer", project, "2026-04-15T00:00:00+00:00"),
        ("option_set", "file_transfer", project, "2026-05-10T00:00:00+00:00"),
        ("option_cleared", "service_adapter", project, "2026-06-01T00:00:00+00:00"),
        ("option_cleared", "file_transfer", project, "2026-06-01T00:00:00+00:00"),
    ]
    log = [e["type"] for e in events(client) if e["type"].startswith(("option_", "project_"))]
    assert (log[0], log[-1]) == ("project_created", "project_deleted")
    for month in ("2026-03", "2026-04", "2026-05", "2026-06"):
        invoice = client.get(f"/_emulator/invoices/{month}").json()
        [line] = lines(invoice, "option_file_transfer")
        assert (line["subject"], line["unit_price"], line["clause"]) == (
            project,
            150,
            "001 §50.3, §56",
        )
    assert lines(client.get("/_emulator/invoices/2026-07").json(), "option_file_transfer") == []


CONTRACT_TARIFF = """
[prices]
sim_basic = 110
line_maintenance = 330
data_per_mb = 5.5
gateway = 3000
option_ip = 100
option_device_lock = 50
option_dns = 100
platform_basic = 20
sms_2fa = 8
sms_a2p = 6
"""


def test_decision_s56_invoice_without_a_needed_price_is_a_clear_409(tmp_path: Path) -> None:
    tariff = tmp_path / "tariff.toml"
    tariff.write_text(CONTRACT_TARIFF)  # the contract's example: no sub-option prices
    app = create_app(tmp_path / "e.db", tariff, credentials=CREDENTIALS)
    with TestClient(app, headers=basic(*AUTH)) as c:
        set_clock(c, "2026-03-10T09:00:00+09:00")
        register_sim(c)
        project = create_project(c)
        _enable_file_transfer(c, project)
        r = c.get("/_emulator/invoices/2026-03")
    assert r.status_code == 409, r.text
    assert r.json()["error_code"] == "tariff_incomplete"
    assert "prices.option_file_transfer" in r.json()["error_msg"]
