"""The HTTP API as two uvicorn worker processes on one real PostgreSQL database: requests
spread over both, and they agree on the clock, the cards and the bill."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.mqtt_broker import free_port
from tests.postgres import PgServer

from . import live

STEPS = 8
AUTH = (live.TOKEN, live.SECRET)


@pytest.fixture
def workers(postgres_server: PgServer, tmp_path: Path) -> Iterator[str]:
    """`uvicorn --factory emulator.asgi:app --workers 2` on a fresh database; its URL."""
    port = free_port()
    env = {
        **os.environ,
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
