"""SMS to the emulator's own SIMs: card numbers, pending messages, the modem's report.

Through HTTP (a TestClient on the app) for the factory and the radio endpoints, and live:
an SMS API message reaches a stub holding the card, as `+CMTI`, and the agent reads it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from agent.cli import main as agent_main
from firmware_stubs.commands_sms import DeliveryOutcome
from tests.emulator import live
from tests.integration.cloud import Cloud, stub_for, wait_for
from tests.integration.conftest import cloud, emulator

from .platform_support import AUTH, TestClient, client, events, lines, register_sim

__all__ = ["client", "cloud", "emulator"]

RADIO = "/_emulator/network/sms"


def card(client: TestClient, **fields: str) -> dict[str, Any]:
    made = client.post("/_emulator/sims", json=fields)
    assert made.status_code == 201, made.text
    doc: dict[str, Any] = made.json()
    return doc


def registered(client: TestClient) -> dict[str, Any]:
    doc = card(client)
    register_sim(client, doc)
    return doc


def sms(client: TestClient, to: str, text: str = "your code is 123456") -> dict[str, Any]:
    sent = client.post("/sms/v1/messages", auth=AUTH, json={"kind": "2fa", "to": to, "text": text})
    assert sent.status_code == 201, sent.text
    doc: dict[str, Any] = sent.json()
    return doc


def test_every_card_has_a_number_shown_by_the_factory(client: TestClient) -> None:
    made = registered(client)
    assert made["msisdn"].startswith("+8170")
    assert len(made["msisdn"]) == 13
    shown = client.get(f"/_emulator/sims/{made['iccid']}")
    assert shown.status_code == 200
    assert (shown.json()["msisdn"], shown.json()["registered"]) == (made["msisdn"], True)
    [listed] = client.get("/_emulator/sims").json()
    assert listed["msisdn"] == made["msisdn"]
    chosen = card(client, msisdn="+819012345678")
    assert chosen["msisdn"] == "+819012345678"
    assert client.get("/_emulator/sims/8981000000000000000").status_code == 404


@pytest.mark.parametrize("msisdn", ["09012345678", "+8190123", "+14155550123", "+81" + "9" * 12])
def test_a_bad_number_is_a_400_naming_the_field(client: TestClient, msisdn: str) -> None:
    before = client.get("/_emulator/sims").json()
    answer = client.post("/_emulator/sims", json={"msisdn": msisdn})
    assert answer.status_code == 400
    assert "msisdn" in answer.text
    assert client.get("/_emulator/sims").json() == before


def test_a_number_belongs_to_one_card(client: TestClient) -> None:
    card(client, msisdn="+819012345678")
    assert client.post("/_emulator/sims", json={"msisdn": "+819012345678"}).status_code == 409


def test_a_message_to_a_registered_sim_waits_for_its_modem(client: TestClient) -> None:
    sim = registered(client)
    sent = sms(client, sim["msisdn"])
    assert (sent["status"], sent["delivered"]) == ("pending", False)
    fetched = client.post(f"{RADIO}/fetch", json={"iccid": sim["iccid"]}).json()
    assert fetched["msisdn"] == sim["msisdn"]
    [message] = fetched["messages"]
    assert (message["id"], message["text"]) == (sent["id"], "your code is 123456")
    report = {"iccid": sim["iccid"], "id": sent["id"], "outcome": "delivered"}
    assert client.post(f"{RADIO}/report", json=report).json() == {"accepted": True, "reason": None}
    assert client.post(f"{RADIO}/report", json=report).json()["accepted"] is True  # a repeat
    contrary = {**report, "outcome": "failed"}
    assert client.post(f"{RADIO}/report", json=contrary).json() == {
        "accepted": False,
        "reason": "already_reported",
    }
    record = client.get(f"/sms/v1/messages/{sent['id']}", auth=AUTH).json()
    assert (record["status"], record["delivered"]) == ("delivered", True)
    assert client.post(f"{RADIO}/fetch", json={"iccid": sim["iccid"]}).json()["messages"] == []


def test_an_unregistered_cards_number_is_simulated_like_any_other(client: TestClient) -> None:
    shipped = card(client)
    assert sms(client, shipped["msisdn"])["status"] == "delivered"
    assert client.post(f"{RADIO}/fetch", json={"iccid": shipped["iccid"]}).json()["messages"] == []


def test_bad_reports_change_nothing(client: TestClient) -> None:
    sim = registered(client)
    sent = sms(client, sim["msisdn"])
    other = {"iccid": sim["iccid"], "id": "sms-nope", "outcome": "delivered"}
    assert client.post(f"{RADIO}/report", json=other).json()["reason"] == "unknown_message"
    for body in (
        {"iccid": sim["iccid"], "id": sent["id"], "outcome": "maybe"},
        {"iccid": sim["iccid"], "id": sent["id"]},
        {"iccid": "12", "id": sent["id"], "outcome": "delivered"},
        {"iccid": sim["iccid"], "id": sent["id"], "outcome": "failed", "extra": 1},
    ):
        assert client.post(f"{RADIO}/report", json=body).status_code in (400, 422)
    assert client.get(f"/sms/v1/messages/{sent['id']}", auth=AUTH).json()["status"] == "pending"


def test_001_s70_device_sms_billed_whether_delivered_or_failed(client: TestClient) -> None:
    sim = registered(client)
    delivered = sms(client, sim["msisdn"])
    failed = sms(client, sim["msisdn"])
    for sent, outcome in ((delivered, "delivered"), (failed, "failed")):
        body = {"iccid": sim["iccid"], "id": sent["id"], "outcome": outcome}
        if outcome == "failed":
            body["reason"] = "memory_full"
        assert client.post(f"{RADIO}/report", json=body).json()["accepted"]
    record = client.get(f"/sms/v1/messages/{failed['id']}", auth=AUTH).json()
    assert (record["status"], record["delivered"]) == ("failed", False)
    assert "memory_full" in record["failure_reason"]
    assert len(events(client, "sms_sent")) == 2
    [twofa] = lines(client.get("/_emulator/invoices/2026-03").json(), "sms_2fa")
    assert (twofa["quantity"], twofa["clause"]) == (2, "001 §70")


def test_sms_api_message_reaches_the_stub_and_the_agent(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = cloud.sim()
    number = cloud.ok(cloud.steer.get(f"/_emulator/sims/{sim.iccid}"))["msisdn"]
    with stub_for(cloud.url, sim) as stub:
        wait_for(lambda: stub.card.msisdn == number, what="the network's number on the card")
        sent = cloud.ok(
            cloud.steer.post(
                "/sms/v1/messages",
                auth=(live.TOKEN, live.SECRET),
                json={"kind": "a2p", "to": number, "text": "ようこそ simgate へ"},
            )
        )
        assert sent["status"] == "pending"

        def record() -> dict[str, Any]:
            doc: dict[str, Any] = cloud.ok(
                cloud.steer.get(f"/sms/v1/messages/{sent['id']}", auth=(live.TOKEN, live.SECRET))
            )
            return doc

        wait_for(lambda: record()["status"] == "delivered", what="delivery")
        code = agent_main(["--port", stub.device_path, "sms", "list", "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        [message] = json.loads(out)
        assert (message["from"], message["text"]) == ("SIMGATE", "ようこそ simgate へ")
        for _ in range(20):  # fill the card: the next message fails with memory_full
            stub.deliver_sms("+819000000001", "filler", stub_clock())
        assert stub.deliver_sms("+819000000001", "x", stub_clock()) is DeliveryOutcome.MEMORY_FULL
        late = cloud.ok(
            cloud.steer.post(
                "/sms/v1/messages",
                auth=(live.TOKEN, live.SECRET),
                json={"kind": "2fa", "to": number, "text": "one too many"},
            )
        )
        wait_for(
            lambda: (
                cloud.ok(
                    cloud.steer.get(
                        f"/sms/v1/messages/{late['id']}", auth=(live.TOKEN, live.SECRET)
                    )
                )["status"]
                == "failed"
            ),
            what="a failed delivery",
        )


def stub_clock() -> dt.datetime:
    return dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def test_device_sms_reports_are_stored_once_per_seq(client: TestClient) -> None:
    from emulator.models.device_messages import Incoming, Verdict
    from simgate_common import wire

    sim = registered(client)
    backend = client.app.state.backend  # type: ignore[attr-defined]
    topic = wire.sms_topic(sim["iccid"])
    payload = json.dumps(
        {"seq": 1, "from": "SIMGATE", "at": "2026-03-10T09:00:00+09:00", "text": "hi", "parts": 1}
    ).encode()
    other = payload.replace(b'"hi"', b'"ho"')
    outcomes = backend.devices.ingest(
        [
            Incoming(topic, payload),
            Incoming(topic, payload),
            Incoming(topic, other),
            Incoming(topic, b'{"seq": 2}'),
        ]
    )
    assert [o.verdict for o in outcomes] == [
        Verdict.STORED,
        Verdict.DUPLICATE,
        Verdict.DUPLICATE,
        Verdict.REJECTED,
    ]
    assert outcomes[2].error is not None
    assert outcomes[3].error is not None
    assert "from" in outcomes[3].error.error
    stored = client.get(f"/_emulator/sims/{sim['iccid']}/sms").json()
    assert stored == [
        {"seq": 1, "from": "SIMGATE", "at": "2026-03-10T00:00:00Z", "text": "hi", "parts": 1}
    ]
    assert client.get("/_emulator/sims/898100000000000000/sms").status_code == 404
