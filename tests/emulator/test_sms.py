"""SMS (001 §67-§77) through `/sms/v1/` (FastAPI TestClient): numbers, simulated
delivery, billing per message sent, A2P approval, the spam-rate restriction and the
cancellation timing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from emulator.clock import JST
from emulator.errors import BadRequest
from emulator.models.sms import cancellation_end, normalise_number

from .platform_support import AUTH, TestClient, client, events, lines, set_clock

__all__ = ["client"]
S = "/sms/v1"


def post(client: TestClient, kind: str = "2fa", to: str = "090-1234-5678", **extra: Any) -> Any:
    return client.post(
        f"{S}/messages", auth=AUTH, json={"kind": kind, "to": to, "text": "code 123456", **extra}
    )


def send(client: TestClient, kind: str = "2fa", to: str = "090-1234-5678", **extra: Any) -> Any:
    r = post(client, kind, to, **extra)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("090-1234-5678", "+819012345678"),
        ("08012345678", "+818012345678"),
        ("070 1234 5678", "+817012345678"),
        ("+81 90-1234-5678", "+819012345678"),
        ("+14155550123", "+14155550123"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_001_s67_numbers_are_normalised(given: str, normal: str) -> None:
    assert normalise_number(given) == normal


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("03-1234-5678", "not a Japanese mobile number"),
        ("+81312345678", "not a Japanese mobile number"),
        ("090-1234-567", "not a Japanese mobile number"),
        ("12345", "not an E.164 number"),
        ("+0123456789", "not an E.164 number"),
        ("+1234567890123456", "not an E.164 number"),
        ("090-abcd-5678", "not a Japanese mobile number"),
        ("", "a phone number is required"),
    ],
)
def test_001_s67_bad_numbers_refused(given: str, why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        normalise_number(given)


def test_bad_number_is_a_clear_400_and_nothing_is_sent(client: TestClient) -> None:
    r = post(client, to="03-1234-5678")
    assert r.status_code == 400
    assert r.json()["error_code"] == "invalid_number"
    assert "03-1234-5678" in r.json()["error_msg"]
    assert post(client, kind="mms").status_code == 400
    assert events(client, "sms_sent") == []
    assert client.get(f"{S}/messages", auth=AUTH).json() == []
    no_auth = {"Authorization": ""}
    assert client.post(f"{S}/messages", json={}, headers=no_auth).status_code == 401


def test_001_s70_sms_billed_whether_delivered_or_not(client: TestClient) -> None:
    client.put("/_emulator/sms", json={"fail_numbers": ["080-0000-0000"]})
    ok = send(client, to="090-1234-5678")
    failed = send(client, to="+818000000000")
    assert (ok["status"], ok["delivered"], ok["to"]) == ("delivered", True, "+819012345678")
    assert (failed["status"], failed["delivered"]) == ("failed", False)
    assert "fail_numbers" in failed["failure_reason"]
    send(client, kind="a2p", to="+14155550123")
    sent = events(client, "sms_sent")
    assert [(e["kind"], e["delivered"]) for e in sent] == [
        ("2fa", True),
        ("2fa", False),
        ("a2p", True),
    ]
    invoice = client.get("/_emulator/invoices/2026-03").json()
    [twofa] = lines(invoice, "sms_2fa")
    [a2p] = lines(invoice, "sms_a2p")
    assert (twofa["quantity"], twofa["amount"], twofa["clause"]) == (2, 16, "001 §70")
    assert (a2p["quantity"], a2p["amount"]) == (1, 6)


def test_simulated_failures_repeat_with_the_seed(client: TestClient) -> None:
    client.put("/_emulator/sms", json={"failure_rate": 0.5, "seed": 7, "rate_limit": 1000})
    first = [send(client)["delivered"] for _ in range(40)]
    assert 5 < first.count(False) < 35
    client.post("/_emulator/reset")
    set_clock(client, "2026-03-10T09:00:00+09:00")
    client.put("/_emulator/sms", json={"failure_rate": 0.5, "seed": 7, "rate_limit": 1000})
    assert [send(client)["delivered"] for _ in range(40)] == first


def test_001_s71_a2p_needs_approval(client: TestClient) -> None:
    send(client, kind="a2p")  # the account's own A2P messages
    r = post(client, kind="a2p", end_user="shop-42")
    assert r.status_code == 403
    assert r.json()["error_code"] == "a2p_not_approved"
    assert "§71" in r.json()["error_msg"]
    assert len(events(client, "sms_sent")) == 1
    send(client, kind="2fa", end_user="shop-42")  # §71 is about A2P only
    account = client.put("/_emulator/account", json={"sms_a2p_approved": True}).json()
    assert account["sms_a2p_approved"] is True
    assert send(client, kind="a2p", end_user="shop-42")["end_user"] == "shop-42"


def test_001_s72_spam_rate_restricts_account(client: TestClient) -> None:
    client.put("/_emulator/sms", json={"rate_limit": 3, "rate_window": 60})
    for _ in range(3):
        send(client)
    r = post(client)
    assert r.status_code == 429
    assert r.json()["error_code"] == "sms_restricted"
    account = client.get("/_emulator/account").json()
    assert account["sms_restricted"] is True
    assert "more than 3 messages within 60 s" in account["sms_restricted_reason"]
    set_clock(client, "2026-03-11T09:00:00+09:00")  # the window has passed: still restricted
    assert post(client).status_code == 429
    assert len(events(client, "sms_sent")) == 3  # refused messages are neither sent nor billed
    client.put("/_emulator/sms", json={"restricted": False})
    assert client.get("/_emulator/account").json()["sms_restricted"] is False
    send(client)


@pytest.mark.parametrize(
    ("notice", "ends"),
    [
        ("2026-03-20T23:59:00+09:00", date(2026, 3, 31)),
        ("2026-03-21T00:00:00+09:00", date(2026, 4, 30)),
        ("2026-03-01T00:00:00+09:00", date(2026, 3, 31)),
        ("2026-12-25T10:00:00+09:00", date(2027, 1, 31)),
        ("2026-03-20T15:30:00+00:00", date(2026, 4, 30)),  # the 21st in Japan
    ],
)
def test_001_s74_cancellation_end(notice: str, ends: date) -> None:
    assert cancellation_end(datetime.fromisoformat(notice).astimezone(JST)) == ends


def test_001_s74_cancellation_on_20th_vs_21st(client: TestClient) -> None:
    send(client, kind="2fa")
    send(client, kind="a2p")
    set_clock(client, "2026-03-20T12:00:00+09:00")
    r = client.post(f"{S}/contracts/2fa/cancel", auth=AUTH)
    assert (r.json()["status"], r.json()["ends_on"]) == ("ending", "2026-03-31")
    set_clock(client, "2026-03-21T12:00:00+09:00")
    r = client.post(f"{S}/contracts/a2p/cancel", auth=AUTH)
    assert (r.json()["status"], r.json()["ends_on"]) == ("ending", "2026-04-30")
    assert client.post(f"{S}/contracts/a2p/cancel", auth=AUTH).status_code == 409
    assert [e["kind"] for e in events(client, "sms_cancelled")] == ["2fa", "a2p"]
    send(client, kind="2fa")  # still running until the end of the month
    set_clock(client, "2026-04-01T00:00:00+09:00")
    r = post(client, kind="2fa")
    assert (r.status_code, r.json()["error_code"]) == (403, "sms_contract_ended")
    send(client, kind="a2p")  # ends at the end of April
    invoice = client.get("/_emulator/invoices/2026-04").json()
    contracts = {c["service"]: c for c in invoice["contracts"]}
    assert contracts["sms_2fa"]["ends_on"] == "2026-03-31"
    assert contracts["sms_a2p"]["ends_on"] == "2026-04-30"
    set_clock(client, "2026-05-01T00:00:00+09:00")
    assert post(client, kind="a2p").status_code == 403
    assert client.post(f"{S}/contracts/a2p", auth=AUTH).json()["status"] == "none"
    send(client, kind="a2p")  # applied again: a new contract
    statuses = {c["kind"]: c["status"] for c in client.get(f"{S}/contracts", auth=AUTH).json()}
    assert statuses == {"2fa": "ended", "a2p": "active"}


def test_cancel_without_a_contract_is_a_conflict(client: TestClient) -> None:
    r = client.post(f"{S}/contracts/2fa/cancel", auth=AUTH)
    assert (r.status_code, r.json()["error_code"]) == (409, "no_sms_contract")
    assert events(client, "sms_cancelled") == []
