"""The steering API (`/_emulator/`) through FastAPI's TestClient."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette warns that it prefers httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from emulator.app import create_app
from emulator.models.credentials import ApiCredentials

from .live import basic
from .sakura_fixtures import gateway_create_request, sim_create_request

API = "/cloud/zone/is1a/api/cloud/1.1"
AUTH = ("tok", "sec")


@pytest.fixture
def client(db_target: Path | str) -> Iterator[TestClient]:
    app = create_app(db_target, credentials=ApiCredentials("tok", "sec", "test"))
    with TestClient(app, headers=basic(*AUTH)) as c:
        c.put("/_emulator/clock", json={"now": "2026-03-10T09:00:00+09:00", "frozen": True})
        yield c


def register(client: TestClient) -> tuple[dict[str, Any], str]:
    card = client.post("/_emulator/sims", json={}).json()
    r = client.post(
        API + "/commonserviceitem",
        auth=AUTH,
        json=sim_create_request(card["iccid"], card["passcode"]),
    )
    assert r.status_code == 201, r.text
    return card, r.json()["CommonServiceItem"]["ID"]


def test_clock_get_set_advance(client: TestClient) -> None:
    clock = client.get("/_emulator/clock").json()
    assert clock == {
        "now": "2026-03-10T00:00:00+00:00",
        "now_jst": "2026-03-10T09:00:00+09:00",
        "month": "2026-03",
        "frozen": True,
        "problem": None,
    }
    advanced = client.post(
        "/_emulator/clock/advance", json={"seconds": 22 * 86400 - 9 * 3600 + 1800}
    ).json()
    assert advanced["now"] == "2026-03-31T15:30:00+00:00"
    assert advanced["month"] == "2026-04"
    assert (
        client.put("/_emulator/clock", json={"now": "2026-03-10T00:00:00"}).status_code == 400
    )  # no offset
    assert client.post("/_emulator/clock/advance", json={"seconds": -1}).status_code == 400


def test_001_s34_2_individual_account_refused_over_http(client: TestClient) -> None:
    r = client.put("/_emulator/account", json={"entity_type": "individual"})
    assert r.json()["entity_type"] == "individual"
    card = client.post("/_emulator/sims", json={}).json()
    refused = client.post(
        API + "/commonserviceitem",
        auth=AUTH,
        json=sim_create_request(card["iccid"], card["passcode"]),
    )
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "individual_account_refused"
    assert (
        client.post(API + "/appliance", auth=AUTH, json=gateway_create_request()).status_code == 403
    )
    assert client.put("/_emulator/account", json={"entity_type": "person"}).status_code == 400


def test_001_s34_1_contract_date_in_account(client: TestClient) -> None:
    assert client.get("/_emulator/account").json()["contract_formed_at"] is None
    register(client)
    assert (
        client.get("/_emulator/account").json()["contract_formed_at"] == "2026-03-10T00:00:00+00:00"
    )


def test_session_cut_threshold_set_and_cleared(client: TestClient) -> None:
    assert (
        client.put("/_emulator/account", json={"session_cut_bytes": 5000}).json()[
            "session_cut_bytes"
        ]
        == 5000
    )
    assert (
        client.put("/_emulator/account", json={"suspension_days": 3}).json()["session_cut_bytes"]
        == 5000
    )
    assert (
        client.put("/_emulator/account", json={"session_cut_bytes": None}).json()[
            "session_cut_bytes"
        ]
        is None
    )


def test_manufactured_card_and_device_token(client: TestClient) -> None:
    made = client.post(
        "/_emulator/sims", json={"iccid": "8981100000000000010", "passcode": "PASS1234"}
    )
    assert made.status_code == 201
    assert made.json()["passcode"] == "PASS1234"
    assert client.post("/_emulator/sims", json={"iccid": "8981100000000000010"}).status_code == 409
    assert client.post("/_emulator/sims", json={"iccid": "12345"}).status_code == 400
    assert client.get("/_emulator/sims").json() == [
        {
            "iccid": "8981100000000000010",
            "imsi": made.json()["imsi"],
            "msisdn": made.json()["msisdn"],
            "registered": False,
        }
    ]
    assert client.get("/_emulator/sims/8981100000000000010/token").status_code == 404
    sim = sim_create_request("8981100000000000010", "PASS1234")
    assert client.post(API + "/commonserviceitem", auth=AUTH, json=sim).status_code == 201
    token = client.get("/_emulator/sims/8981100000000000010/token").json()
    assert len(token["token"]) == 64
    assert client.get("/_emulator/sims/8981100000000000010/reports").json() == []


def test_fault_injection_fails_before_any_change(client: TestClient) -> None:
    rules = {
        "rules": [{"route": "/commonserviceitem$", "methods": ["POST"], "error_rate": 1.0}],
        "seed": 7,
    }
    assert client.put("/_emulator/faults", json=rules).json()["seed"] == 7
    card = client.post("/_emulator/sims", json={}).json()  # the steering API is never faulted
    r = client.post(
        API + "/commonserviceitem",
        auth=AUTH,
        json=sim_create_request(card["iccid"], card["passcode"]),
    )
    assert r.status_code == 503
    assert r.json()["error_code"] == "injected_fault"
    assert client.get(API + "/commonserviceitem", auth=AUTH).json()["Total"] == 0
    assert client.get("/_emulator/events").text == ""
    client.delete("/_emulator/faults")
    r = client.post(
        API + "/commonserviceitem",
        auth=AUTH,
        json=sim_create_request(card["iccid"], card["passcode"]),
    )
    assert r.status_code == 201


def test_fault_injection_seeded_rate_and_latency(client: TestClient) -> None:
    def run() -> list[int]:
        rules = {"rules": [{"route": "^/cloud/", "error_rate": 0.5, "status": 500}], "seed": 42}
        client.put("/_emulator/faults", json=rules)
        return [client.get(API + "/switch", auth=AUTH).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 500}
    client.put(
        "/_emulator/faults", json={"rules": [{"route": "/network/attach", "latency_ms": 200}]}
    )
    started = time.monotonic()
    client.post("/_emulator/network/attach", json={"iccid": "8981000000000000000"})
    assert time.monotonic() - started >= 0.2
    assert (
        client.put(
            "/_emulator/faults", json={"rules": [{"route": "(", "error_rate": 1}]}
        ).status_code
        == 400
    )


def test_invoice_of_a_month_from_the_event_log(client: TestClient) -> None:
    register(client)
    invoice = client.get("/_emulator/invoices/2026-03").json()
    assert invoice["month"] == "2026-03"
    assert invoice["due_date"] == "2026-04-10"
    assert "lines" in invoice
    assert "total" in invoice
    assert client.get("/_emulator/invoices/2026-3").status_code in (400, 422)


def test_payment_marks_and_logs(client: TestClient) -> None:
    r = client.put("/_emulator/invoices/2026-02/payment", json={"paid": False})
    assert r.json()["unpaid_months"] == ["2026-02"]
    assert r.json()["standing"] == "active"
    client.put("/_emulator/account", json={"suspension_enabled": True, "suspension_days": 0})
    assert client.get("/_emulator/account").json()["standing"] == "active"  # due today, 2026-03-10
    client.post("/_emulator/clock/advance", json={"seconds": 86400})
    assert client.get("/_emulator/account").json()["standing"] == "suspended"
    r = client.put("/_emulator/invoices/2026-02/payment", json={"paid": True, "amount": 500})
    assert r.json()["standing"] == "active"
    assert '"type":"payment"' in client.get("/_emulator/events").text


def test_reset(client: TestClient) -> None:
    register(client)
    assert client.post("/_emulator/reset").json() == {"reset": True}
    assert client.get(API + "/commonserviceitem", auth=AUTH).json()["Total"] == 0
    assert client.get("/_emulator/clock").json()["frozen"] is False
    assert client.get(API + "/commonserviceitem", auth=AUTH).status_code == 200  # credentials kept


def test_network_rejects_bad_bodies(client: TestClient) -> None:
    assert (
        client.post(
            "/_emulator/network/traffic", json={"iccid": "x", "up": -1, "down": 0}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/_emulator/network/session", json={"iccid": "x", "state": "sideways"}
        ).status_code
        == 400
    )
    assert (
        client.post("/_emulator/network/attach", json={"iccid": "x", "extra": 1}).status_code == 400
    )
    body = client.post("/_emulator/network/attach", json={"iccid": "8981000000000000000"}).json()
    assert body["accepted"] is False
    assert body["reason"] == "not_registered"
