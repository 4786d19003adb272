"""Ingest workers past one process: `simgate emulator ingest` run twice on one real
mosquitto (shared subscription) and one real PostgreSQL; one is killed with SIGKILL in
the middle of a stream, and every report is still stored exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from emulator.backend import Backend
from emulator.ingest_worker import shared_subscriptions, topic_iccid
from simgate_common import wire
from simgate_common.wire import UsageReport
from tests.mqtt_broker import MosquittoFactory, free_port
from tests.postgres import PgServer

from .conftest import START, register

SIMS = 4
PER_SIM = 150
TOTAL = SIMS * PER_SIM


def start_worker(
    broker: str, db: str, name: str, log: Path, password: str
) -> subprocess.Popen[str]:
    """`simgate emulator ingest` as a process; returns once it says it is connected. The
    database comes from $SIMGATE_EMULATOR_DB, its password from $PGPASSWORD (libpq): no
    secret on the command line."""
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "ingest", "--broker", broker]
    cmd += ["--name", name, "--group", "sgpg", "--max-batch", "50", "--json"]
    env = {
        **os.environ,
        "SIMGATE_EMULATOR_DB": db.replace(f":{password}@", "@"),
        "PGPASSWORD": password,
    }
    with log.open("a") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise AssertionError(f"worker {name} did not start:\n{log.read_text()}")
    info = json.loads(line)
    assert info["worker"] == name
    assert info["client_id"] == f"simgate-ingest-sgpg-{name}"
    assert password not in line  # the URL is shown without its password
    return proc


def stop_worker(proc: subprocess.Popen[str]) -> int:
    """SIGTERM, reap (SIGKILL after 15 s)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        code = proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()
    return code


@contextmanager
def publisher(port: int) -> Iterator[paho.Client]:
    """A plain MQTT client publishing as the devices would (QoS 1)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="sgpg-publisher")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def stored(backend: Backend) -> int:
    with backend.store.transaction() as db:
        row = db.one("SELECT count(*) AS n FROM device_reports")
    assert row is not None
    return int(row["n"])


def wait_for(condition: object, seconds: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def test_topic_helpers_name_the_device_and_the_group() -> None:
    assert topic_iccid("simgate/v1/devices/8981100000000000001/usage") == "8981100000000000001"
    assert topic_iccid("simgate/v1/devices/8981100000000000001/platform/up") == (
        "8981100000000000001"
    )
    assert topic_iccid("elsewhere/x") is None
    subs = shared_subscriptions("g1")
    assert f"$share/g1/{wire.TOPIC_PREFIX}/+/usage" in subs
    assert all(s.startswith("$share/g1/simgate/v1/devices/+/") for s in subs)


@pytest.mark.timeout(180)
def test_rule3_two_workers_one_killed_mid_stream_store_each_report_once(
    postgres_server: PgServer, mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    url = postgres_server.new_database()
    backend = Backend(url)
    broker = mosquitto_factory()
    workers: list[subprocess.Popen[str]] = []
    try:
        backend.clock.set(START, frozen=True)
        iccids = [register(backend).iccid for _ in range(SIMS)]
        log = tmp_path / "workers.log"
        workers = [
            start_worker(broker.url, url, name, log, postgres_server.password)
            for name in ("a", "b")
        ]
        killed_at = -1
        with publisher(broker.port) as client:
            for seq in range(1, PER_SIM + 1):
                for iccid in iccids:
                    report = UsageReport(
                        seq,
                        iccid,
                        None,
                        "2026-03-10T00:00:00Z",
                        "2026-03-10T00:05:00Z",
                        seq,
                        2 * seq,
                        "modem",
                    )
                    info = client.publish(wire.usage_topic(iccid), report.to_json(), qos=1)
                    info.wait_for_publish(10)
                    assert info.is_published()
                if killed_at < 0 and stored(backend) >= TOTAL // 4:
                    workers[0].kill()  # SIGKILL: no clean stop, batches in flight
                    workers[0].wait(10)
                    killed_at = seq
                time.sleep(0.005)
        assert 0 < killed_at < PER_SIM, "the worker was not killed mid-stream"
        # The survivor stored its share. mosquitto keeps the killed worker's share (what
        # was in flight to it, unacknowledged, and what was queued for its persistent
        # session since) until a client with its name comes back, as a supervisor
        # restarts it: then everything arrives, and what it had committed before the
        # kill without acknowledging comes again and is found already stored.
        workers[0] = start_worker(broker.url, url, "a", log, postgres_server.password)
        wait_for(lambda: stored(backend) >= TOTAL, 60, f"{TOTAL} stored reports")
        time.sleep(0.5)  # anything still arriving would be a duplicate: it must not count
        with backend.store.transaction() as db:
            rows = db.all("SELECT iccid, seq FROM device_reports")
        assert len(rows) == TOTAL
        assert {(r["iccid"], r["seq"]) for r in rows} == {
            (iccid, seq) for iccid in iccids for seq in range(1, PER_SIM + 1)
        }
        usage = Counter(
            (e["iccid"], e["seq"])
            for e in backend.events.iter_dicts()
            if e["type"] == "device_usage"
        )
        assert len(usage) == TOTAL
        assert set(usage.values()) == {1}, "a report was billed twice"
    finally:
        codes = [stop_worker(proc) for proc in workers]
        backend.close()
    assert codes == [0, 0], (tmp_path / "workers.log").read_text()
    assert "Traceback" not in (tmp_path / "workers.log").read_text()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--broker", "embedded"], "external broker"),
        (["--broker", "http://x:1"], "--broker must be"),
        (["--broker", "mqtt://127.0.0.1:1883", "--name", "a/b"], "--name must be"),
        (["--broker", "mqtt://127.0.0.1:1883", "--group", "+"], "--group must be"),
        (["--broker", "mqtt://127.0.0.1:1883", "--max-batch", "0"], "--max-batch"),
    ],
)
def test_ingest_refuses_bad_arguments_by_name(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from emulator.cli import main

    code = main(["ingest", "--db", str(tmp_path / "e.db"), *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err
    assert not (tmp_path / "e.db").exists()  # nothing was opened, nothing made


def test_ingest_names_an_unreachable_database_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from emulator.cli import main

    port = free_port()  # nothing listens there
    url = f"postgresql://sgpg:hunter2secret@127.0.0.1:{port}/none?connect_timeout=2"
    code = main(["ingest", "--db", url, "--broker", "mqtt://127.0.0.1:1883", "--name", "x"])
    assert code == 5  # unreachable: a supervisor tries again
    err = capsys.readouterr().err
    assert "cannot open the database" in err
    assert "hunter2secret" not in err


@pytest.mark.parametrize("command", ["serve", "mosquitto-config"])
def test_other_commands_name_an_unreachable_database_without_its_password(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from emulator.cli import main

    url = f"postgresql://sgpg:hunter2secret@127.0.0.1:{free_port()}/none"
    extra = ["--out", str(tmp_path)] if command == "mosquitto-config" else ["--http", "127.0.0.1:0"]
    assert main([command, "--db", url, *extra]) == 2
    err = capsys.readouterr().err
    assert "cannot open the database postgresql://sgpg@127.0.0.1:" in err
    assert "hunter2secret" not in err
