"""Durability: `kill -9` the server in the middle of a loop of creates, restart it on the
same database, and find every acknowledged create, consistent with the event log."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from emulator.storage.postgres import redact

from . import live
from .sakura_fixtures import sim_create_request


def test_kill_9_mid_write_loses_nothing_acknowledged(db_target: Path | str) -> None:
    db = db_target
    proc, info = live.start(db)
    base = info["api_root"] + "/is1a/api/cloud/1.1"
    acknowledged: list[str] = []
    cards: list[str] = []

    def writer() -> None:
        with httpx.Client(auth=live.AUTH, timeout=5) as client:
            while True:
                try:
                    card = client.post(info["http"] + "/_emulator/sims", json={}).json()
                    cards.append(card["iccid"])
                    r = client.post(
                        base + "/commonserviceitem",
                        json=sim_create_request(card["iccid"], card["passcode"]),
                        auth=(live.TOKEN, live.SECRET),
                    )
                except (httpx.HTTPError, ValueError):
                    return
                if r.status_code == 201:
                    acknowledged.append(r.json()["CommonServiceItem"]["ID"])

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.stop(proc, hard=True) == -9
    thread.join(timeout=10)
    assert len(acknowledged) >= 40

    with live.serving(db) as again:
        base = again["api_root"] + "/is1a/api/cloud/1.1"
        with httpx.Client(base_url=base, auth=(live.TOKEN, live.SECRET), timeout=10) as api:
            listing = api.get("/commonserviceitem").json()
            ids = {s["ID"] for s in listing["CommonServiceItems"]}
            assert set(acknowledged) <= ids  # every acknowledged create survived
            assert len(ids) - len(acknowledged) <= 1  # at most the one in flight
            for sim_id in acknowledged[-3:]:
                assert api.get(f"/commonserviceitem/{sim_id}").status_code == 200
        events = httpx.get(
            again["http"] + "/_emulator/events", auth=live.AUTH, timeout=10
        ).text.splitlines()
        registered = [json.loads(line)["iccid"] for line in events]
        iccids = {s["Status"]["ICCID"] for s in listing["CommonServiceItems"]}
        assert sorted(registered) == sorted(iccids)  # books and state agree


def test_generated_credentials_survive_restart(db_target: Path | str) -> None:
    db = db_target
    with live.serving(db, env_creds=False) as first:
        assert first["credentials_source"] == "generated"
    with live.serving(db, env_creds=False) as second:
        assert second["credentials_source"] == "database"
        assert (second["access_token"], second["access_token_secret"]) == (
            first["access_token"],
            first["access_token_secret"],
        )
        url = second["api_root"] + "/is1a/api/cloud/1.1/commonserviceitem"
        auth = (second["access_token"], second["access_token_secret"])
        assert httpx.get(url, auth=auth, timeout=10).status_code == 200


def test_clean_shutdown_exits_0(db_target: Path | str) -> None:
    proc, info = live.start(db_target)
    assert info["mqtt"].startswith("mqtt://127.0.0.1:")
    assert info["mqtt_embedded"] is True
    # a URL is shown without its password
    assert info["db"] == (str(db_target) if isinstance(db_target, Path) else redact(db_target))
    assert live.stop(proc) == 0
