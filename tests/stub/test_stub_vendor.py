"""The dialects' vendor commands and quirks in the sans-I/O interpreter (no pty)."""

from __future__ import annotations

import pytest

from firmware_stubs import Faults, Interpreter, LocalNetwork, NetworkProfile, TrafficProfile
from firmware_stubs.testing import ManualClock, exchange
from tests.stub.test_stub_interpreter import ICCID, card, modem


def test_generic_has_no_vendor_commands() -> None:
    interp = modem()
    for line in ("AT+QCCID", "AT+QPINC?", "AT+SPIC", "AT+UPINCNT", "AT+QGDCNT?", "AT+UGCNTRD"):
        assert exchange(interp, line) == "\r\nERROR\r\n", line


def test_quectel_iccid_and_retry_counters() -> None:
    interp = modem(card(pin_retries=2), dialect="quectel")
    assert exchange(interp, "AT+QCCID") == f"\r\n+QCCID: {ICCID}\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+QPINC?") == (
        '\r\n+QPINC: "SC",2,10\r\n\r\n+QPINC: "P2",3,10\r\n\r\nOK\r\n'
    )
    assert exchange(interp, 'AT+QPINC="SC"') == '\r\n+QPINC: "SC",2,10\r\n\r\nOK\r\n'
    assert exchange(interp, 'AT+QPINC="XX"') == "\r\nERROR\r\n"


def test_simcom_iccid_retries_and_27007_cpin() -> None:
    interp = modem(card(puk_retries=7), dialect="simcom")
    assert exchange(interp, "AT+CICCID") == f"\r\n+ICCID: {ICCID}\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+SPIC") == "\r\n+SPIC: 3,7,3,10\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"


def test_quoted_cpin_is_a_fault_the_stub_can_switch_on() -> None:
    interp = Interpreter(card(), "simcom", faults=Faults(quote_cpin=True))
    exchange(interp, "ATE0")
    assert exchange(interp, "AT+CPIN?") == '\r\n+CPIN: "SIM PIN"\r\n\r\nOK\r\n'


def test_ublox_retry_counter_order_is_pin1_pin2_puk1_puk2() -> None:
    interp = modem(card(pin_retries=1, puk_retries=9), dialect="ublox")
    assert exchange(interp, "AT+UPINCNT") == "\r\n+UPINCNT: 1,3,9,10\r\n\r\nOK\r\n"


def test_simcom_is_busy_after_unlock_by_default_and_says_so() -> None:
    clock = ManualClock()
    interp = modem(clock=clock, dialect="simcom")
    assert exchange(interp, 'AT+CPIN="0000"') == "\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n" \
        "\r\nPB DONE\r\n"  # fmt: skip
    assert exchange(interp, "AT+CPIN?") == "\r\nERROR\r\n"  # SIM busy, under +CMEE=0
    assert exchange(interp, "AT+CIMI") == "\r\nERROR\r\n"
    clock.advance(0.6)
    assert exchange(interp, "AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_a_busy_fault_overrides_the_dialect_default() -> None:
    clock = ManualClock()
    interp = Interpreter(card(), "simcom", clock=clock, faults=Faults(busy_after_unlock=2.0))
    exchange(interp, "ATE0")
    exchange(interp, "AT+CMEE=1")
    exchange(interp, 'AT+CPIN="0000"')
    clock.advance(1.0)
    assert exchange(interp, "AT+CPIN?") == "\r\n+CME ERROR: 14\r\n"
    clock.advance(1.1)
    assert "READY" in exchange(interp, "AT+CPIN?")


def test_quectel_holds_its_sim_ready_urcs_until_inside_the_next_answer() -> None:
    interp = modem(dialect="quectel")
    assert exchange(interp, 'AT+CPIN="0000"') == "\r\nOK\r\n"  # nothing after the OK
    assert exchange(interp, "AT") == "\r\nOK\r\n"  # no lines: nowhere to slip in
    assert exchange(interp, "AT+CPIN?") == (
        "\r\n+CPIN: READY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"
        "\r\n+QIND: PB DONE\r\n\r\nOK\r\n"
    )
    assert exchange(interp, "AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"


def _session_modem(dialect: str, clock: ManualClock) -> Interpreter:
    profile = TrafficProfile(rate_up=100.0, rate_down=400.0, interval=60.0)
    interp = Interpreter(
        card(pin_enabled=False),
        dialect,
        clock=clock,
        carrier=LocalNetwork(traffic=profile),
        network=NetworkProfile(register_delay=0.0),
    )
    exchange(interp, "ATE0")
    return interp


@pytest.mark.parametrize("dialect", ["quectel", "ublox"])
def test_data_counters_follow_the_traffic_and_reset(dialect: str) -> None:
    clock = ManualClock()
    interp = _session_modem(dialect, clock)
    read = "AT+QGDCNT?" if dialect == "quectel" else "AT+UGCNTRD"
    zero = "+QGDCNT: 0,0" if dialect == "quectel" else "+UGCNTRD: 1,0,0,0,0"
    assert zero in exchange(interp, read)
    assert exchange(interp, 'AT+CGDCONT=1,"IP","apn"') == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT=1,1") == "\r\nOK\r\n"
    clock.advance(10.0)
    moved = "+QGDCNT: 1000,4000" if dialect == "quectel" else "+UGCNTRD: 1,1000,4000,1000,4000"
    assert moved in exchange(interp, read)
    exchange(interp, "AT+CGACT=0,1")  # the session ends: totals stay
    after = "+QGDCNT: 1000,4000" if dialect == "quectel" else "+UGCNTRD: 1,0,0,1000,4000"
    assert after in exchange(interp, read)
    interp.reboot()
    exchange(interp, "ATE0")
    assert zero in exchange(interp, read)  # a reboot zeroes the counters


def test_quectel_counter_reset_command() -> None:
    clock = ManualClock()
    interp = _session_modem("quectel", clock)
    exchange(interp, 'AT+CGDCONT=1,"IP","apn"')
    exchange(interp, "AT+CGACT=1,1")
    clock.advance(1.0)
    assert "+QGDCNT: 100,400" in exchange(interp, "AT+QGDCNT?")
    assert exchange(interp, "AT+QGDCNT=0") == "\r\nOK\r\n"
    assert "+QGDCNT: 0,0" in exchange(interp, "AT+QGDCNT?")
    assert exchange(interp, "AT+QGDCNT=2") == "\r\nERROR\r\n"
