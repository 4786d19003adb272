"""The pty server, driven through a real pty with pyserial."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from firmware_stubs import Faults, NetworkProfile, OutputCorrupter, StubModem

FAST = NetworkProfile(register_delay=0.0, cops_scan_seconds=0.05)


def read_until(port: serial.Serial, end: bytes, timeout: float = 2.0) -> bytes:
    """Read until the data ends with `end`; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(end):
        if time.monotonic() > deadline:
            pytest.fail(f"no {end!r} within {timeout} s; got {data!r}")
        data += port.read(max(1, port.in_waiting))
    return data


def read_for(port: serial.Serial, seconds: float) -> bytes:
    """Everything that arrives within `seconds`."""
    deadline = time.monotonic() + seconds
    data = b""
    while time.monotonic() < deadline:
        data += port.read(max(1, port.in_waiting))
    return data


@contextmanager
def opened(stub: StubModem) -> Iterator[serial.Serial]:
    port = serial.Serial(stub.device_path, timeout=0.05)
    try:
        yield port
    finally:
        port.close()


FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r]*|CONNECT[^\r]*|NO CARRIER)\r\n$")


def command(port: serial.Serial, line: str, timeout: float = 2.0) -> bytes:
    """Send a command line; returns everything up to and including its final result."""
    port.write(line.encode() + b"\r")
    deadline = time.monotonic() + timeout
    data = b""
    while not FINAL.search(data):
        if time.monotonic() > deadline:
            pytest.fail(f"no final result to {line!r} within {timeout} s; got {data!r}")
        data += port.read(max(1, port.in_waiting))
    return data


def test_at_round_trip_over_the_pty(tmp_path: Path) -> None:
    with StubModem(card_path=tmp_path / "card.json") as stub, opened(stub) as port:
        assert stub.device_path.startswith("/dev/")
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"


def test_wrong_pin_shows_in_the_live_card_and_the_file(tmp_path: Path) -> None:
    card_path = tmp_path / "card.json"
    with StubModem(card_path=card_path, network=FAST) as stub, opened(stub) as port:
        command(port, "ATE0")
        command(port, "AT+CMEE=1")
        assert command(port, 'AT+CPIN="9999"') == b"\r\n+CME ERROR: 16\r\n"
        assert stub.card.pin_retries == 2
        assert json.loads(card_path.read_text())["pin_retries"] == 2


def test_restarted_stub_is_the_same_card_wanting_the_pin(tmp_path: Path) -> None:
    card_path = tmp_path / "card.json"
    with StubModem(card_path=card_path) as stub, opened(stub) as port:
        command(port, "ATE0")
        assert command(port, 'AT+CPIN="0000"') == b"\r\nOK\r\n"
        iccid = stub.card.iccid
    with StubModem(card_path=card_path) as stub, opened(stub) as port:
        assert stub.card.iccid == iccid
        command(port, "ATE0")
        assert command(port, "AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"


def test_serves_again_after_the_client_closes(tmp_path: Path) -> None:
    with StubModem(card_path=tmp_path / "card.json") as stub:
        for _ in range(3):
            with opened(stub) as port:
                port.write(b"AT\r")
                assert read_until(port, b"OK\r\n").endswith(b"\r\nOK\r\n")
            time.sleep(0.03)


def test_data_mode_ends_when_the_client_closes(tmp_path: Path) -> None:
    with StubModem(card_path=tmp_path / "card.json", network=FAST) as stub:
        with opened(stub) as port:
            command(port, "ATE0")
            command(port, 'AT+CPIN="0000"')
            assert command(port, "ATD*99***1#") == b"\r\nCONNECT 150000000\r\n"
            port.write(b"AT\r")  # data, not a command
            assert read_for(port, 0.1) == b""
        deadline = time.monotonic() + 2
        while stub.interpreter.data_mode and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not stub.interpreter.data_mode
        with opened(stub) as port:
            assert command(port, "AT+CGACT?") == b"\r\n+CGACT: 1,1\r\n\r\nOK\r\n"  # still ATE0


def test_reboot_sends_rdy(tmp_path: Path) -> None:
    with StubModem(card_path=tmp_path / "card.json") as stub, opened(stub) as port:
        stub.reboot()
        assert read_until(port, b"\r\nRDY\r\n") == b"\r\nRDY\r\n"


def test_reboot_mid_command_over_the_pty(tmp_path: Path) -> None:
    faults = Faults(delay=0.3)
    with StubModem(card_path=tmp_path / "card.json", faults=faults) as stub, opened(stub) as port:
        port.write(b"AT+CGMI\r")
        assert read_until(port, b"AT+CGMI\r") == b"AT+CGMI\r"  # the echo is immediate
        stub.reboot()
        assert read_for(port, 0.5) == b"\r\nRDY\r\n"  # and the answer never comes


def test_busy_window_over_the_pty(tmp_path: Path) -> None:
    faults = Faults(busy_after_unlock=0.3)
    with StubModem(card_path=tmp_path / "card.json", faults=faults) as stub, opened(stub) as port:
        command(port, "ATE0")
        command(port, "AT+CMEE=1")
        assert command(port, 'AT+CPIN="0000"') == b"\r\nOK\r\n"
        assert command(port, "AT+CIMI") == b"\r\n+CME ERROR: 14\r\n"
        time.sleep(0.35)
        assert command(port, "AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_garble_and_drop_are_reproducible_over_the_pty(tmp_path: Path) -> None:
    faults = Faults(drop=0.2, garble=0.2, seed=7)
    expected = OutputCorrupter(faults).apply(b"AT+CGMM\r\r\nStub LTE Modem\r\n\r\nOK\r\n")
    with StubModem(card_path=tmp_path / "card.json", faults=faults) as stub, opened(stub) as port:
        port.write(b"AT+CGMM\r")
        assert read_for(port, 0.3) == expected


def test_registration_urc_over_the_pty(tmp_path: Path) -> None:
    network = NetworkProfile(register_delay=0.1)
    with StubModem(card_path=tmp_path / "card.json", network=network) as stub, opened(stub) as port:
        command(port, "ATE0")
        command(port, "AT+CEREG=2")
        port.write(b'AT+CPIN="0000"\r')
        assert read_until(port, b'\r\n+CEREG: 1,"1A2B","01C2D3E4",7\r\n').startswith(b"\r\nOK")


def test_slow_network_scan_over_the_pty(tmp_path: Path) -> None:
    with StubModem(card_path=tmp_path / "card.json", network=FAST) as stub, opened(stub) as port:
        port.write(b"AT+COPS=?\r")
        assert b'(2,"NTT DOCOMO"' in read_until(port, b"OK\r\n")


def test_stop_is_prompt_and_closes_the_pty(tmp_path: Path) -> None:
    stub = StubModem(card_path=tmp_path / "card.json").start()
    path = stub.device_path
    started = time.monotonic()
    stub.stop()
    assert time.monotonic() - started < 0.5
    with pytest.raises(serial.SerialException):
        serial.Serial(path, timeout=0.1)


def test_at_round_trip_latency(tmp_path: Path) -> None:
    with StubModem(card_path=tmp_path / "card.json") as stub, opened(stub) as port:
        command(port, "ATE0")
        samples = []
        for _ in range(200):
            started = time.perf_counter()
            port.write(b"AT\r")
            read_until(port, b"OK\r\n")
            samples.append(time.perf_counter() - started)
    median_us = statistics.median(samples) * 1e6
    print(f"AT round trip median: {median_us:.0f} us")
    assert median_us < 5000
