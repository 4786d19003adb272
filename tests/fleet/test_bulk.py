"""Bulk provisioning: N cards from one factory call, one batch registration, and
`simgate emulator fleet create N` (contracts §1), all or nothing."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator import live

SIMS = "/cloud/zone/is1a/api/cloud/1.1/commonserviceitem"
BATCH = SIMS + "/batch"


def _cards(api: httpx.Client, count: int) -> list[dict[str, Any]]:
    response = api.post("/_emulator/sims", json={"count": count})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def _item(iccid: str, passcode: str) -> dict[str, Any]:
    return {
        "Provider": {"Class": "sim"},
        "Status": {"ICCID": iccid},
        "Remark": {"PassCode": passcode},
    }


def _state(api: httpx.Client) -> tuple[int, int, int]:
    """(cards made, SIMs registered, event lines): what a refused request must not change."""
    cards = api.get("/_emulator/sims").json()
    sims = api.get(SIMS).json()["Total"]
    events = len(api.get("/_emulator/events").text.splitlines())
    return len(cards), sims, events


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", "emulator", "fleet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_factory_makes_n_cards_as_json_lines(api: httpx.Client) -> None:
    before = _state(api)
    cards = _cards(api, 25)
    assert len(cards) == 25
    assert len({card["iccid"] for card in cards}) == 25
    assert len({card["imsi"] for card in cards}) == 25
    for card in cards:
        assert set(card) == {"iccid", "imsi", "msisdn", "passcode"}
        assert card["iccid"].startswith("8981")
        assert len(card["passcode"]) == 8
        assert re.fullmatch(r"\+8170[0-9]{8}", card["msisdn"])  # contracts §4: every card
    assert len({card["msisdn"] for card in cards}) == 25
    assert _state(api)[0] == before[0] + 25


def test_factory_single_card_form_is_unchanged(api: httpx.Client) -> None:
    response = api.post("/_emulator/sims", json={})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"iccid", "imsi", "msisdn", "passcode"}


@pytest.mark.parametrize(
    "body",
    [
        {"count": 0},
        {"count": -3},
        {"count": 100_001},
        {"count": "5"},
        {"count": True},
        {"count": 2.0},
        {"count": None, "bogus": 1},
        {"count": 3, "iccid": "8981000000000000001"},
        {"count": 3, "passcode": "ABCD1234"},
    ],
)
def test_factory_bad_count_is_refused_naming_it(api: httpx.Client, body: dict[str, Any]) -> None:
    before = _state(api)
    response = api.post("/_emulator/sims", json=body)
    assert response.status_code == 400, response.text
    message = response.json()["error_msg"]
    assert "count" in message or "bogus" in message
    assert _state(api) == before


def test_batch_registers_all_in_one_call_and_adds_them_to_a_gateway(api: httpx.Client) -> None:
    gateway = api.post(
        "/cloud/zone/is1a/api/cloud/1.1/appliance",
        json={"Appliance": {"Class": "mobilegateway", "Name": "fleet-gw"}},
    )
    assert gateway.status_code == 201, gateway.text
    gateway_id = gateway.json()["Appliance"]["ID"]
    cards = _cards(api, 40)
    before = _state(api)
    response = api.post(
        BATCH,
        json={
            "CommonServiceItems": [_item(c["iccid"], c["passcode"]) for c in cards],
            "MobileGateway": {"ID": gateway_id},
        },
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["is_ok"] is True
    assert answer["Count"] == 40
    assert [i["Status"]["ICCID"] for i in answer["CommonServiceItems"]] == [
        c["iccid"] for c in cards
    ]
    after = _state(api)
    assert after[1] == before[1] + 40
    events = [json.loads(line) for line in api.get("/_emulator/events").text.splitlines()]
    registered = {e["iccid"] for e in events if e["type"] == "sim_registered"}
    assert {c["iccid"] for c in cards} <= registered
    on_gateway = api.get(
        f"/cloud/zone/is1a/api/cloud/1.1/appliance/{gateway_id}/mobilegateway/sims"
    ).json()
    assert {c["iccid"] for c in cards} <= {s["iccid"] for s in on_gateway["sim"]}


def test_batch_with_a_duplicate_iccid_is_refused_and_nothing_is_registered(
    api: httpx.Client,
) -> None:
    cards = _cards(api, 3)
    items = [_item(c["iccid"], c["passcode"]) for c in cards]
    items.append(items[1])
    before = _state(api)
    response = api.post(BATCH, json={"CommonServiceItems": items})
    assert response.status_code == 400, response.text
    assert "CommonServiceItems[3].Status.ICCID" in response.json()["error_msg"]
    assert "CommonServiceItems[1]" in response.json()["error_msg"]
    assert _state(api) == before


def test_batch_with_one_bad_item_registers_none(api: httpx.Client) -> None:
    cards = _cards(api, 5)
    items = [_item(c["iccid"], c["passcode"]) for c in cards]
    items[4]["Remark"]["PassCode"] = "WRONG999"
    before = _state(api)
    response = api.post(BATCH, json={"CommonServiceItems": items})
    assert response.status_code == 400
    assert "CommonServiceItems[4].Remark.PassCode" in response.json()["error_msg"]
    assert "WRONG999" not in response.text
    assert _state(api) == before


def test_batch_with_an_iccid_already_registered_is_a_conflict(api: httpx.Client) -> None:
    cards = _cards(api, 2)
    first = api.post(
        BATCH, json={"CommonServiceItems": [_item(cards[0]["iccid"], cards[0]["passcode"])]}
    )
    assert first.status_code == 201
    before = _state(api)
    again = api.post(
        BATCH, json={"CommonServiceItems": [_item(c["iccid"], c["passcode"]) for c in cards]}
    )
    assert again.status_code == 409
    assert "CommonServiceItems[0].Status.ICCID" in again.json()["error_msg"]
    assert _state(api) == before


@pytest.mark.parametrize(
    "body",
    [{"CommonServiceItems": []}, {"CommonServiceItems": [{"Provider": {"Class": "sim"}}]}, {}],
)
def test_batch_bad_body_is_400(api: httpx.Client, body: dict[str, Any]) -> None:
    before = _state(api)
    response = api.post(BATCH, json=body)
    assert response.status_code == 400
    assert "CommonServiceItems" in response.json()["error_msg"]
    assert _state(api) == before


def test_batch_needs_the_api_credentials(server: dict[str, Any]) -> None:
    response = httpx.post(server["http"] + BATCH, json={"CommonServiceItems": []})
    assert response.status_code == 401


def test_tokens_of_unregistered_sims_are_404(api: httpx.Client) -> None:
    card = _cards(api, 1)[0]
    response = api.post("/_emulator/tokens", json={"iccids": [card["iccid"]]})
    assert response.status_code == 404
    assert "iccids[0]" in response.json()["error_msg"]


def test_fleet_create_writes_one_line_per_sim_with_a_working_token(
    api: httpx.Client, server: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "fleet.jsonl"
    before = _state(api)
    done = _cli(
        "create",
        "30",
        "--url",
        server["http"],
        "--out",
        str(out),
        env={"SIMGATE_ACCESS_TOKEN": live.TOKEN, "SIMGATE_ACCESS_TOKEN_SECRET": live.SECRET},
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 30
    for row in rows:
        assert set(row) == {"iccid", "imsi", "msisdn", "passcode", "sim_id", "token"}
        token = api.get(f"/_emulator/sims/{row['iccid']}/token").json()["token"]
        assert token == row["token"]
        shown = api.get(f"/_emulator/sims/{row['iccid']}").json()  # the network's number
        assert shown["msisdn"] == row["msisdn"]
    assert _state(api)[1] == before[1] + 30
    assert "\x1b[" not in done.stderr  # no progress bar: stderr is not a terminal
    assert rows[0]["token"] not in done.stdout + done.stderr


def test_fleet_create_to_stdout_with_credentials_in_the_url(server: dict[str, Any]) -> None:
    url = server["http"].replace("http://", f"http://{live.TOKEN}:{live.SECRET}@")
    done = _cli("create", "3", "--url", url, env={"SIMGATE_ACCESS_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    assert len([json.loads(line) for line in done.stdout.splitlines()]) == 3


@pytest.mark.parametrize("count", ["0", "-1", "100001", "ten"])
def test_fleet_create_bad_count_exits_2(count: str) -> None:
    done = _cli("create", count, "--url", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "N must be" in done.stderr


def test_fleet_create_unreachable_exits_5() -> None:
    done = _cli("create", "2", "--url", "http://127.0.0.1:9", "--json")
    assert done.returncode == 5
    assert "cannot reach" in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 5


def test_fleet_create_json_summary(server: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    env = {"SIMGATE_ACCESS_TOKEN": live.TOKEN, "SIMGATE_ACCESS_TOKEN_SECRET": live.SECRET}
    done = _cli("create", "4", "--url", server["http"], "--out", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["created"] == 4
    assert summary["out"] == str(out)
    assert len(out.read_text().splitlines()) == 4


def test_fleet_create_wrong_credentials_exits_2(server: dict[str, Any]) -> None:
    url = server["http"].replace("http://", "http://nobody:wrong@")
    done = _cli("create", "2", "--url", url)
    assert done.returncode == 2
    assert "401" in done.stderr
