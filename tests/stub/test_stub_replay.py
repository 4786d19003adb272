"""Replaying a transcript: the file format, timing, URC placement, the CLI's exits."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import serial

from firmware_stubs.replay import ReplayModem, TranscriptError, load_transcript
from firmware_stubs.testing import ManualClock
from tests.stub.test_stub_cli import read_line, serving


def record_by_hand(path: Path) -> None:
    """A small transcript: line set-up, `+CPIN?` answered after 0.2 s, two URCs."""
    events = [
        {"transcript": "simgate", "version": 1, "port": "x", "started": "2026-01-01T00:00:00"},
        {"t": 0.0, "send": "ATE0", "lines": [], "result": "OK", "took": 0.01},
        {"t": 0.01, "send": "ATV1", "lines": [], "result": "OK", "took": 0.01},
        {"t": 0.02, "send": "AT+CMEE=1", "lines": [], "result": "OK", "took": 0.01},
        {"t": 0.03, "send": "AT+CPIN?", "lines": ["+CPIN: SIM PIN"], "result": "OK", "took": 0.2},
        {"t": 0.1, "urc": "+QIND: SMS DONE"},
        {"t": 0.5, "urc": "+CREG: 1"},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_replay_keeps_delays_places_urcs_and_matches_secrets(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    record_by_hand(path)
    with path.open("a") as f:
        f.write(json.dumps({"t": 0.6, "send": 'AT+CPIN="****"', "result": "OK", "took": 0}) + "\n")
    clock = ManualClock()
    device = ReplayModem(load_transcript(path), speed=2.0, clock=clock)
    for line in (b"ATE0\r", b"ATV1\r", b"AT+CMEE=1\r"):
        clock.advance(0.02)
        device.poll()
        device.receive_data(line)
    clock.advance(0.02)
    device.poll()
    assert device.receive_data(b"AT+CPIN?\r") == b""
    assert device.next_deadline() == pytest.approx(clock.now + 0.4)
    clock.advance(0.4)
    assert device.poll() == (
        b"\r\n+QIND: SMS DONE\r\n\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n\r\n+CREG: 1\r\n"
    )
    assert device.receive_data(b'AT+CPIN="12"\r') == b"\r\nERROR\r\n"  # not a PIN's shape
    assert device.receive_data(b'at+cpin="2468"\r') == b"\r\nOK\r\n"
    assert device.failures == ['AT+CPIN="****" where the transcript has AT+CPIN="****"']


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"t": 1, "hello": 2}', "neither a command"),
        ('{"t": -1, "urc": "RING"}', "not a number"),
        ('{"transcript": "simgate", "version": 9}', "unknown transcript version"),
        ('{"t": 0, "send": "AT", "lines": "OK"}', "list of strings"),
    ],
)
def test_a_bad_transcript_names_its_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"t": 0, "send": "AT", "lines": [], "result": "OK", "took": 0}\n' + line)
    with pytest.raises(TranscriptError, match=f"t.jsonl:2: .*{problem}"):
        load_transcript(path)


def test_stub_serve_replay_exits_1_when_the_agent_strays(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    record_by_hand(transcript)
    link = tmp_path / "modem"
    with serving(["--link", str(link), "--replay", str(transcript), "--replay-speed", "0"]) as proc:
        assert "a replay" in read_line(proc)
        with serial.Serial(str(link), timeout=0.05) as port:
            port.write(b"AT+CSQ\r")
            data = b""
            deadline = time.monotonic() + 5
            while not data.endswith(b"ERROR\r\n") and time.monotonic() < deadline:
                data += port.read(max(1, port.in_waiting))
        assert data == b"\r\nERROR\r\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 1
        assert proc.stderr is not None
        assert "AT+CSQ where the transcript has ATE0" in proc.stderr.read()


def test_stub_serve_refuses_a_bad_transcript(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text("nope\n")
    with serving(["--link", str(tmp_path / "modem"), "--replay", str(bad)]) as proc:
        assert proc.wait(timeout=10) == 2
