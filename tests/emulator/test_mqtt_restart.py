"""Safety rule 3 across restarts: the broker (mosquitto with persistence) restarted mid-
stream, the emulator restarted or `kill -9`ed mid-stream (in-process, and `simgate emulator
serve` as a real process over real HTTP): nothing the device saw acknowledged is lost,
nothing is counted twice."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.reporting.backoff import Backoff
from agent.reporting.outbox import Outbox
from agent.reporting.publisher import Broker, Reporter
from agent.reporting.token import Token
from emulator.backend import Backend
from simgate_common import wire
from tests.mqtt_broker import Mosquitto, free_port

from . import live
from .mqtt_support import KINDS, Kind, cloud_on, running, usage_records, wait_until
from .sakura_fixtures import sim_create_request

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90)]
FAST = Backoff(initial=0.05, maximum=0.3)


async def test_rule3_mosquitto_restart_mid_stream(tmp_path: Path, db_target: Path | str) -> None:
    async with cloud_on("mosquitto", tmp_path, db_target) as cloud:
        assert cloud.mosquitto is not None
        device = await cloud.register()
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        usage_records(outbox, 600)
        async with running(cloud.reporter(device, outbox, window=8)):
            await wait_until(lambda: len(cloud.seqs(device.iccid)) >= 100, 20, "100 stored")
            await asyncio.to_thread(cloud.mosquitto.restart)
            await wait_until(lambda: outbox.count() == 0, 30, "the outbox to drain")
            await wait_until(lambda: len(cloud.seqs(device.iccid)) == 600, 30, "all stored")
        assert cloud.seqs(device.iccid) == list(range(1, 601))
        assert cloud.ingest is not None
        assert cloud.ingest.connects >= 2
        outbox.close()


async def test_rule3_reports_queued_for_a_stopped_emulator_survive_a_broker_restart(
    tmp_path: Path,
    db_target: Path | str,
) -> None:
    async with cloud_on("mosquitto", tmp_path, db_target) as cloud:
        assert cloud.mosquitto is not None
        device = await cloud.register()
        await cloud.stop_ingest()  # the emulator is down; its session stays on the broker
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        usage_records(outbox, 200)
        async with running(cloud.reporter(device, outbox)):
            await wait_until(lambda: outbox.count() == 0, 20, "the broker to take all")
        await asyncio.to_thread(cloud.mosquitto.restart)  # saved to disk, read back
        await cloud.start_ingest()
        await wait_until(lambda: len(cloud.seqs(device.iccid)) == 200, 20, "all stored")
        assert cloud.seqs(device.iccid) == list(range(1, 201))
        outbox.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_rule3_emulator_restart_mid_stream(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        usage_records(outbox, 600)
        async with running(cloud.reporter(device, outbox, window=8)):
            await wait_until(lambda: len(cloud.seqs(device.iccid)) >= 100, 20, "100 stored")
            await cloud.restart_emulator()
            await wait_until(lambda: outbox.count() == 0, 30, "the outbox to drain")
            await wait_until(lambda: len(cloud.seqs(device.iccid)) == 600, 30, "all stored")
        assert cloud.seqs(device.iccid) == list(range(1, 601))
        # an agent that republishes after the restart gets its repeats ignored
        stored = cloud.backend.devices.reports(device.iccid)
        async with cloud.client(device) as client:
            for doc in stored[::20]:
                await client.publish(wire.usage_topic(device.iccid), json.dumps(doc), qos=1)
        await asyncio.sleep(0.2)
        assert cloud.backend.devices.reports(device.iccid) == stored
        outbox.close()


# --- `simgate emulator serve` as a process --------------------------------------------


async def _register_over_http(info: dict[str, Any]) -> tuple[str, str, str]:
    """Manufacture and register a card through the HTTP APIs; (iccid, sim id, token)."""
    async with httpx.AsyncClient(base_url=info["http"], auth=live.AUTH, timeout=10) as http:
        clock = {"now": "2026-03-01T09:00:00+09:00", "frozen": True}
        assert (await http.put("/_emulator/clock", json=clock)).status_code == 200
        card = (await http.post("/_emulator/sims", json={})).json()
        created = await http.post(
            "/cloud/zone/is1a/api/cloud/1.1/commonserviceitem",
            json=sim_create_request(card["iccid"], card["passcode"]),
            auth=(live.TOKEN, live.SECRET),
        )
        assert created.status_code == 201, created.text
        sim_id = created.json()["CommonServiceItem"]["ID"]
        token = (await http.get(f"/_emulator/sims/{card['iccid']}/token")).json()["token"]
    return card["iccid"], sim_id, token


async def _stored_seqs(info: dict[str, Any], iccid: str) -> list[int]:
    async with httpx.AsyncClient(base_url=info["http"], auth=live.AUTH, timeout=10) as http:
        response = await http.get(f"/_emulator/sims/{iccid}/reports")
    assert response.status_code == 200, response.text
    return [int(doc["seq"]) for doc in response.json()]


def _reporter(outbox: Outbox, port: int, token: str) -> Reporter:
    return Reporter(
        outbox,
        Broker("127.0.0.1", port, keepalive=5),
        token=Token(token),
        backoff=FAST,
        timeout=5.0,
        poll=1.0,
        window=8,
    )


async def _wait_seqs(info: dict[str, Any], iccid: str, count: int, seconds: float) -> list[int]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        seqs = await _stored_seqs(info, iccid)
        if len(seqs) >= count or asyncio.get_running_loop().time() > deadline:
            return seqs
        await asyncio.sleep(0.05)


@contextmanager
def slow_disk(db: Path) -> Iterator[None]:
    """Hold SQLite's write lock on `db`: the emulator's commits wait (like a stalled
    disk), so whatever it acknowledged before committing would be lost by a crash."""
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()


@asynccontextmanager
async def serving(db: Path, extra: list[str]) -> AsyncIterator[tuple[subprocess.Popen[str], Any]]:
    proc, info = await asyncio.to_thread(live.start, db, extra=extra)
    try:
        yield proc, info
    finally:
        await asyncio.to_thread(live.stop, proc)


async def test_rule3_kill_9_embedded_emulator_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db, port = tmp_path / "emulator.db", free_port()
    extra = ["--mqtt", f"embedded:{port}"]
    async with serving(db, extra) as (proc, info):
        iccid, _, token = await _register_over_http(info)
        outbox = Outbox(tmp_path / "outbox.sqlite3", iccid)
        usage_records(outbox, 1000)
        reporter = _reporter(outbox, port, token)
        async with running(reporter):
            await wait_until(lambda: outbox.count() <= 700, 30, "300 acknowledged")
            with slow_disk(db):  # reports now reach the emulator but cannot be committed
                await asyncio.sleep(0.5)
                assert await asyncio.to_thread(live.stop, proc, hard=True) == -signal.SIGKILL
            acknowledged = set(range(1, 1001)) - {r.seq for r in outbox.pending(1000)}
            async with serving(db, extra) as (_, again):
                await wait_until(lambda: outbox.count() == 0, 30, "the outbox to drain")
                seqs = await _wait_seqs(again, iccid, 1000, 10)
                assert seqs == list(range(1, 1001))
                assert acknowledged <= set(seqs)
                async with httpx.AsyncClient(
                    base_url=again["http"], auth=live.AUTH, timeout=10
                ) as http:
                    view = (await http.get(f"/_emulator/sims/{iccid}")).json()
                    invoice = (await http.get("/_emulator/invoices/2026-03")).json()
                    mqtt = (await http.get("/_emulator/mqtt")).json()
    assert view["reports"] == 1000
    assert view["last_seq"] == 1000
    assert view["registered"]
    data = [line for line in invoice["lines"] if line["item"] == "data"]
    assert len(data) == 1
    assert data[0]["estimated"] is True
    assert mqtt["embedded"] is True
    assert mqtt["connected"] is True
    outbox.close()


class _ConfigMosquitto(Mosquitto):
    """mosquitto run with a copy of the config `simgate emulator mosquitto-config` wrote
    (plus the test's log and user lines); it names the emulator's password and ACL files."""

    def __init__(self, directory: Path, generated: Path, port: int) -> None:
        self._generated = generated
        super().__init__(directory, port=port)

    def _write_config(self) -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        extra = f"user {user}\nlog_dest stderr\nlog_type all\n"
        self.config_path.write_text(self._generated.read_text() + extra)


def _mosquitto_config(db: Path, out: Path, port: int) -> dict[str, Any]:
    """`simgate emulator mosquitto-config` on a new database; the paths it printed."""
    Backend(db).close()
    made = subprocess.run(
        [
            *(sys.executable, "-m", "simgate.cli", "emulator", "mosquitto-config"),
            *("--db", str(db), "--out", str(out), "--listen", f"127.0.0.1:{port}", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    paths: dict[str, Any] = json.loads(made.stdout)
    assert oct(Path(paths["passwords"]).stat().st_mode & 0o777) == "0o600"
    assert "pattern readwrite simgate/v1/devices/%u/#" in Path(paths["acl"]).read_text()
    return paths


async def test_rule3_kill_9_emulator_on_mosquitto_loses_nothing(tmp_path: Path) -> None:
    db, port, files = tmp_path / "emulator.db", free_port(), tmp_path / "mosquitto"
    paths = await asyncio.to_thread(_mosquitto_config, db, files, port)
    broker = _ConfigMosquitto(tmp_path / "broker", Path(paths["config"]), port)
    await asyncio.to_thread(broker.start)
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    extra = ["--mqtt", f"mqtt://127.0.0.1:{port}", "--mosquitto-dir", str(files)]
    extra += ["--mosquitto-pid-file", str(pid_file)]
    try:
        async with serving(db, extra) as (proc, info):
            iccid, sim_id, token = await _register_over_http(info)
            outbox = Outbox(tmp_path / "outbox.sqlite3", iccid)
            usage_records(outbox, 1000)
            async with running(_reporter(outbox, port, token)):  # retries until reloaded
                await wait_until(lambda: outbox.count() <= 700, 30, "300 acknowledged")
                with slow_disk(db):  # the ingest receives reports it cannot commit yet
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(live.stop, proc, hard=True)
                await wait_until(lambda: outbox.count() == 0, 30, "the broker to take all")
            async with serving(db, extra) as (_, again):
                seqs = await _wait_seqs(again, iccid, 1000, 20)
                assert seqs == list(range(1, 1001))
                async with httpx.AsyncClient(
                    base_url=again["http"], auth=live.AUTH, timeout=10
                ) as http:
                    deleted = await http.delete(
                        f"/cloud/zone/is1a/api/cloud/1.1/commonserviceitem/{sim_id}",
                        auth=(live.TOKEN, live.SECRET),
                    )
                    assert deleted.status_code == 200, deleted.text
                await wait_until(
                    lambda: iccid not in Path(paths["passwords"]).read_text(),
                    10,
                    "the password file to drop the deleted SIM",
                )
            outbox.close()
    finally:
        broker.stop()
