"""The carrier seam: home, roaming and denied attaches, and live network changes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from firmware_stubs import (
    AttachOutcome,
    Interpreter,
    LocalNetwork,
    NetworkProfile,
    StubModem,
    save_card,
)
from firmware_stubs.testing import ManualClock, exchange
from tests.stub.test_stub_cli import read_line, serving
from tests.stub.test_stub_interpreter import card
from tests.stub.test_stub_pty import command, opened, read_until


def modem(
    outcome: AttachOutcome = AttachOutcome.HOME, clock: ManualClock | None = None
) -> tuple[Interpreter, LocalNetwork]:
    carrier = LocalNetwork(outcome)
    interp = Interpreter(
        card(pin_enabled=False),
        network=NetworkProfile(register_delay=1.0),
        carrier=carrier,
        clock=clock or ManualClock(),
    )
    exchange(interp, "ATE0")
    return interp, carrier


def test_the_carrier_is_asked_once_when_the_search_ends() -> None:
    clock = ManualClock()
    interp, carrier = modem(clock=clock)
    assert exchange(interp, "AT+CEREG?") == "\r\n+CEREG: 0,2\r\n\r\nOK\r\n"
    assert carrier.attempts == []
    clock.advance(1.0)
    for _ in range(3):
        assert exchange(interp, "AT+CEREG?") == "\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
    assert carrier.attempts == [(interp.card.iccid, interp.card.imsi)]


def test_roaming_registers_with_location_and_operator() -> None:
    clock = ManualClock()
    interp, _ = modem(AttachOutcome.ROAMING, clock)
    clock.advance(1.0)
    assert interp.poll() == b""  # URCs are off (n=0)
    assert exchange(interp, "AT+CREG=2;+CREG?") == (
        '\r\n+CREG: 2,5,"1A2B","01C2D3E4",7\r\n\r\nOK\r\n'
    )
    assert exchange(interp, "AT+COPS?") == '\r\n+COPS: 0,0,"NTT DOCOMO",7\r\n\r\nOK\r\n'
    assert exchange(interp, "AT+CGACT=1,1") == "\r\nOK\r\n"


def test_denied_refuses_attach_and_activation() -> None:
    clock = ManualClock()
    interp, _ = modem(AttachOutcome.DENIED, clock)
    exchange(interp, "AT+CMEE=1")
    clock.advance(1.0)
    assert exchange(interp, "AT+CGREG?") == "\r\n+CGREG: 0,3\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+COPS?") == "\r\n+COPS: 0\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGATT=1") == "\r\n+CME ERROR: 30\r\n"
    assert exchange(interp, "AT+CGACT=1,1") == "\r\n+CME ERROR: 30\r\n"
    assert exchange(interp, "ATD*99***1#") == "\r\nNO CARRIER\r\n"


def test_network_change_searches_again_drops_contexts_and_sends_urcs() -> None:
    clock = ManualClock()
    interp, carrier = modem(clock=clock)
    exchange(interp, "AT+CEREG=1")
    clock.advance(1.0)
    assert interp.poll() == b"\r\n+CEREG: 1\r\n"
    exchange(interp, "AT+CGACT=1,1")
    carrier.outcome = AttachOutcome.DENIED
    assert interp.network_changed() == b"\r\n+CEREG: 2\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
    clock.advance(1.0)
    assert interp.poll() == b"\r\n+CEREG: 3\r\n"
    assert len(carrier.attempts) == 2


def test_network_loss_ends_a_data_call_with_no_carrier() -> None:
    clock = ManualClock()
    interp, carrier = modem(clock=clock)
    clock.advance(1.0)
    assert exchange(interp, "ATD*99***1#") == "\r\nCONNECT 150000000\r\n"
    carrier.outcome = AttachOutcome.DENIED
    assert interp.network_changed() == b"\r\nNO CARRIER\r\n"
    assert not interp.data_mode
    assert exchange(interp, "AT") == "\r\nOK\r\n"


def test_reboot_forgets_the_carrier_answer() -> None:
    clock = ManualClock()
    interp, carrier = modem(AttachOutcome.ROAMING, clock)
    clock.advance(1.0)
    exchange(interp, "AT+CREG?")
    carrier.outcome = AttachOutcome.HOME
    interp.reboot()
    exchange(interp, "ATE0")
    clock.advance(1.0)
    assert exchange(interp, "AT+CREG?") == "\r\n+CREG: 0,1\r\n\r\nOK\r\n"


def test_network_change_over_the_pty(tmp_path: Path) -> None:
    carrier = LocalNetwork()
    network = NetworkProfile(register_delay=0.05)
    stub = StubModem(card_path=tmp_path / "card.json", network=network, carrier=carrier)
    with stub, opened(stub) as port:
        command(port, "ATE0")
        command(port, "AT+CEREG=1")
        port.write(b'AT+CPIN="0000"\r')
        read_until(port, b"\r\n+CEREG: 1\r\n")
        carrier.outcome = AttachOutcome.DENIED
        started = time.monotonic()
        stub.network_changed()
        assert read_until(port, b"\r\n+CEREG: 3\r\n") == b"\r\n+CEREG: 2\r\n\r\n+CEREG: 3\r\n"
        assert time.monotonic() - started < 1.0


def agent(link: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "simgate.cli", "agent", "--port", str(link), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_serve_attach_option_reaches_the_agent(tmp_path: Path) -> None:
    link, card_path = tmp_path / "modem", tmp_path / "card.json"
    save_card(card(pin_enabled=False), card_path)
    with serving(["--link", str(link), "--card", str(card_path), "--attach", "roaming"]) as proc:
        read_line(proc)
        on = agent(link, "internet", "on", "--apn", "iot.example", "--json")
        status = agent(link, "net", "status", "--json")
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout)["active"] is True
    assert json.loads(status.stdout)["registration"] == "roaming"
