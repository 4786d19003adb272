"""The HTTP API as two uvicorn worker processes on one real PostgreSQL database: requests
spread over both, they agree on the clock and the cards, and each publishes to devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simgate_common import wire
from tests.mqtt_broker import Mosquitto, MosquittoFactory, free_port
from tests.postgres import PgServer

from . import live
from .sakura_fixtures import sim_create_request

STEPS = 8
AUTH = (live.TOKEN, live.SECRET)


@pytest.fixture
def broker(mosquitto_factory: MosquittoFactory) -> Mosquitto:
    """An anonymous mosquitto the workers publish to."""
    return mosquitto_factory()


@pytest.fixture
def workers(postgres_server: PgServer, broker: Mosquitto, tmp_path: Path) -> Iterator[str]:
    """`uvicorn --factory emulator.asgi:app --workers 2` on a fresh database, publishing to
    `broker`; its URL."""
    port = free_port()
    env = {
        **os.environ,
        "SIMGATE_EMULATOR_MQTT": broker.url,
        "SIMGATE_EMULATOR_DB": postgres_server.new_database(),
        "SIMGATE_ACCESS_TOKEN": live.TOKEN,
        "SIMGATE_ACCESS_TOKEN_SECRET": live.SECRET,
    }
    log = tmp_path / "uvicorn.log"
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "emulator.asgi:app", "--workers", "2"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "info"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"workers did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert "Traceback" not in log.read_text(), log.read_text()


def at_once(job: Callable[[], None], threads: int) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(60)
    assert not errors, errors


@pytest.mark.timeout(120)
def test_sec0_two_api_workers_share_one_clock_and_one_store(workers: str) -> None:
    r = httpx.put(
        workers + "/_emulator/clock",
        json={"now": "2026-03-10T09:00:00+09:00", "frozen": True},
        timeout=10,
        auth=AUTH,
    )
    assert r.status_code == 200

    def advance_and_make_cards() -> None:
        for _ in range(STEPS):  # a new connection each time: the kernel picks the worker
            with httpx.Client(base_url=workers, timeout=10, auth=AUTH) as client:
                assert client.post("/_emulator/clock/advance", json={"seconds": 60}).is_success
            with httpx.Client(base_url=workers, timeout=10, auth=AUTH) as client:
                assert client.post("/_emulator/sims", json={}).status_code == 201

    at_once(advance_and_make_cards, 4)
    seen = set()
    for _ in range(8):
        with httpx.Client(base_url=workers, timeout=10, auth=AUTH) as client:
            clock = client.get("/_emulator/clock").json()
            cards = client.get("/_emulator/sims").json()
        seen.add((clock["now"], clock["frozen"], len(cards)))
    assert seen == {("2026-03-10T00:32:00+00:00", True, 4 * STEPS)}  # no advance lost


@pytest.mark.timeout(120)
def test_every_api_worker_publishes_commands_to_the_devices(
    workers: str, broker: Mosquitto
) -> None:
    api = workers + "/cloud/zone/is1a/api/cloud/1.1"
    card = httpx.post(workers + "/_emulator/sims", json={}, timeout=10, auth=AUTH).json()
    r = httpx.post(
        api + "/commonserviceitem",
        json=sim_create_request(card["iccid"], card["passcode"]),
        auth=(live.TOKEN, live.SECRET),
        timeout=10,
    )
    assert r.status_code == 201
    received: list[bytes] = []
    device = paho.Client(CallbackAPIVersion.VERSION2, client_id="sgpg-device")
    device.on_message = lambda client, userdata, message: received.append(bytes(message.payload))
    device.connect("127.0.0.1", broker.port, 30)
    device.subscribe(wire.commands_topic(card["iccid"]), qos=1)
    device.loop_start()
    try:
        time.sleep(0.3)  # the subscription is in place
        for n in range(6):  # new connections: both workers get some
            with httpx.Client(base_url=workers, timeout=10, auth=AUTH) as client:
                sent = client.post(
                    f"/_emulator/sims/{card['iccid']}/commands",
                    json={"op": "report_now", "id": f"c{n}"},
                )
            assert sent.status_code == 202, sent.text
        deadline = time.monotonic() + 10
        while len(received) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        device.loop_stop()
        device.disconnect()
    assert sorted(json.loads(p)["id"] for p in received) == [f"c{n}" for n in range(6)]
