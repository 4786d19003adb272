"""When the emulator (the stub's radio network) is slow, failing or gone: no crash, no
coverage while it is gone, and books that never count a report twice."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from firmware_stubs import TrafficProfile
from tests.emulator import live
from tests.integration.cloud import Cloud, stub_for, wait_for
from tests.integration.test_stub_emulator_network import (
    agent,
    books,
    internet_active,
    internet_on,
    registration,
    settled,
    wait_registration,
)
from tests.stub.test_stub_pty import command

PATIENT = TrafficProfile(rate_up=1000.0, rate_down=4000.0, interval=0.1, lost_after=1000)


def test_emulator_down_is_no_coverage_and_its_return_registers_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMGATE_STATE_DIR", str(tmp_path / "state"))
    db = tmp_path / "emulator.db"
    proc, info = live.start(db)
    try:
        cloud = Cloud(info)
        sim = cloud.sim()
        cloud.close()
        with stub_for(info["http"], sim) as stub:
            wait_registration(capsys, stub, "home")
            internet_on(capsys, stub)
            live.stop(proc)
            wait_registration(capsys, stub, "searching")
            assert not internet_active(capsys, stub)
            time.sleep(0.5)  # several retries with backoff, against a closed port
            assert registration(capsys, stub) == "searching"
            port = info["http"].rsplit(":", 1)[1]
            proc, info = live.start(db, extra=["--http", f"127.0.0.1:{port}"])
            wait_registration(capsys, stub, "home")
            internet_on(capsys, stub)
            cloud = Cloud(info)
            try:
                wait_for(lambda: sum(books(cloud, sim)) > 0, what="traffic after the return")
            finally:
                cloud.close()
    finally:
        live.stop(proc)


def test_failed_reports_are_carried_and_never_counted_twice(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    sim = cloud.sim()
    with stub_for(cloud.url, sim, traffic=PATIENT) as stub:
        wait_registration(capsys, stub, "home")
        internet_on(capsys, stub)
        with caplog.at_level(logging.DEBUG, logger="firmware_stubs.emulator_network"):
            cloud.faults({"route": "/_emulator/network/traffic$", "error_rate": 0.6})
            time.sleep(0.8)
            cloud.faults()
        assert "HTTP 503" in caplog.text  # some reports failed and were carried
        wait_for(lambda: settled(cloud, sim, stub), what="the books to match the stub's")
        assert internet_active(capsys, stub)  # a 503 is not a refusal
        assert stub.traffic.unconfirmed.total == 0


def test_unanswered_reports_are_not_resent(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = cloud.sim()
    with stub_for(cloud.url, sim, traffic=PATIENT, timeout=0.2) as stub:
        wait_registration(capsys, stub, "home")
        internet_on(capsys, stub)
        cloud.faults({"route": "/_emulator/network/traffic$", "latency_ms": 400})
        wait_for(lambda: stub.traffic.unconfirmed.total > 0, what="an unanswered report")
        cloud.faults()
        time.sleep(0.6)  # the late requests land
        assert internet_active(capsys, stub)
        code, _, err = agent(capsys, stub, "internet", "off")
        assert code == 0, err
        time.sleep(0.3)  # a report in flight when the session closed settles
        accepted = stub.traffic.total.total
        unconfirmed = stub.traffic.unconfirmed.total
        counted = sum(books(cloud, sim))
        assert accepted <= counted <= accepted + unconfirmed  # at most once, never twice


def _card_file(path: Path, iccid: str, imsi: str) -> Path:
    card = {"iccid": iccid, "imsi": imsi, "pin": "0000", "puk": "12345678",
            "pin_enabled": False, "pin_retries": 3, "puk_retries": 10}  # fmt: skip
    path.write_text(json.dumps(card))
    return path


def _simgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _serve(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simgate.cli", "stub", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,  # the stub authenticates to the emulator like any client
            "SIMGATE_ACCESS_TOKEN": live.TOKEN,
            "SIMGATE_ACCESS_TOKEN_SECRET": live.SECRET,
        },
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    assert ready, "the stub did not start"
    assert "serving" in proc.stdout.readline()
    return proc


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, err


def test_cli_serve_with_the_emulator_as_network(cloud: Cloud, tmp_path: Path) -> None:
    sim = cloud.sim()
    card, link = _card_file(tmp_path / "card.json", sim.iccid, sim.imsi), tmp_path / "modem"
    stub = _serve("--link", str(link), "--card", str(card), "--emulator", cloud.url,
                  "--traffic-rate", "2000/8000", "--traffic-interval", "0.1")  # fmt: skip
    try:
        done = _simgate("agent", "--port", str(link), "internet", "on", "--apn", "sakura",
                        "--register-timeout", "10", "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["active"] is True
        wait_for(lambda: sum(books(cloud, sim)) > 5000, what="traffic from the CLI stub")
    finally:
        code, err = _stop(stub)
    assert code == 0, err
    assert cloud.session_log(sim)[-1] == ("DOWN", "closed_by_device")  # powered off


def test_cli_serve_with_no_emulator_there_searches_and_says_why(tmp_path: Path) -> None:
    card, link = (
        _card_file(tmp_path / "card.json", "89811000000000000004", "440101234567890"),
        tmp_path / "m",
    )
    stub = _serve("--link", str(link), "--card", str(card), "--emulator", "http://127.0.0.1:9")
    try:
        with serial.Serial(str(link), timeout=0.05) as port:
            command(port, "ATE0")
            time.sleep(0.4)
            assert command(port, "AT+CEREG?") == b"\r\n+CEREG: 0,2\r\n\r\nOK\r\n"
            assert command(port, "AT+CGACT=1,1").endswith(b"ERROR\r\n")
    finally:
        code, err = _stop(stub)
    assert code == 0
    assert "no coverage" in err
    assert "Traceback" not in err
