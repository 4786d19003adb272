"""Data sessions and metered traffic against a `LocalNetwork` (sans-I/O, manual clock),
and the `EmulatorNetwork`'s handling of a network that is not there."""

from __future__ import annotations

import itertools

import pytest

from firmware_stubs import (
    AttachOutcome,
    EmulatorNetwork,
    Interpreter,
    LocalNetwork,
    NetworkAnswer,
    NetworkProfile,
    TrafficMeter,
    TrafficProfile,
    Verdict,
)
from firmware_stubs.testing import ManualClock, exchange
from firmware_stubs.traffic import TrafficReport
from tests.stub.test_stub_interpreter import ICCID, card

PROFILE = TrafficProfile(rate_up=100.0, rate_down=400.0, interval=1.0, lost_after=2)
NET = NetworkProfile(register_delay=1.0, attach_retry=1.0, attach_retry_max=4.0)


def modem(
    carrier: LocalNetwork | None = None, clock: ManualClock | None = None
) -> tuple[Interpreter, LocalNetwork, ManualClock]:
    """A registered modem, `+CMEE=1`, `+CGEREP=1`, `+CEREG=1`, echo off."""
    carrier = carrier or LocalNetwork(traffic=PROFILE)
    clock = clock or ManualClock()
    interp = Interpreter(card(pin_enabled=False), network=NET, carrier=carrier, clock=clock)
    clock.advance(1.0)
    exchange(interp, "ATE0;+CMEE=1;+CGEREP=1;+CEREG=1")
    return interp, carrier, clock


def settle(interp: Interpreter, verdict: Verdict, **kw: object) -> tuple[TrafficReport, str]:
    report = interp.take_traffic()
    assert report is not None
    answer = NetworkAnswer(verdict, **kw)  # type: ignore[arg-type]
    return report, interp.settle_traffic(report, answer).decode()


def test_the_first_context_opens_the_session_and_the_last_closes_it() -> None:
    interp, carrier, clock = modem()
    assert exchange(interp, 'AT+CGDCONT=2,"IP","b";+CGACT=1,1') == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT=1,2") == "\r\nOK\r\n"
    assert carrier.sessions == [(ICCID, True)]
    clock.advance(0.5)
    assert exchange(interp, "AT+CGACT=0,1") == "\r\nOK\r\n"
    assert carrier.sessions == [(ICCID, True)]
    assert exchange(interp, "AT+CGACT=0,2") == "\r\nOK\r\n"
    assert carrier.sessions == [(ICCID, True), (ICCID, False)]
    assert carrier.reports == [(ICCID, 50, 200)]  # the final report, before the end
    assert interp.state.meter.total.total == 250


@pytest.mark.parametrize("close", ["AT+CGATT=0", "AT+CFUN=0", "AT+CFUN=1,1", "AT+COPS=2"])
def test_detach_radio_off_and_reboot_close_the_session(close: str) -> None:
    interp, carrier, _ = modem()
    exchange(interp, "AT+CGACT=1,1")
    exchange(interp, close)
    exchange(interp, "AT")
    assert carrier.sessions == [(ICCID, True), (ICCID, False)]
    assert not interp.state.session_open


def test_a_refused_session_fails_activation_and_dial() -> None:
    interp, carrier, _ = modem()
    carrier.session_refusal = "deactivated"
    assert exchange(interp, "AT+CGACT=1,1") == "\r\n+CME ERROR: 133\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
    assert exchange(interp, "ATD*99#") == "\r\nNO CARRIER\r\n"
    assert not interp.data_mode


def test_metering_counts_only_what_the_network_accepted() -> None:
    interp, _, clock = modem()
    exchange(interp, "AT+CGACT=1,1")
    clock.advance(2.0)
    report, out = settle(interp, Verdict.ACCEPTED)
    assert (report.up, report.down, out) == (200, 800, "")
    clock.advance(1.0)
    settle(interp, Verdict.NOT_DELIVERED)  # carried into the next report
    clock.advance(1.0)
    report, _ = settle(interp, Verdict.ACCEPTED)
    assert (report.up, report.down) == (200, 800)
    clock.advance(1.0)
    settle(interp, Verdict.UNANSWERED)  # maybe counted: never resent
    clock.advance(1.0)
    report, _ = settle(interp, Verdict.ACCEPTED)
    assert (report.up, report.down) == (100, 400)
    meter = interp.state.meter
    assert (meter.total.up, meter.total.down) == (500, 2000)
    assert (meter.unconfirmed.up, meter.unconfirmed.down) == (100, 400)
    assert meter.current == meter.total


def test_fractions_of_a_byte_are_kept() -> None:
    meter = TrafficMeter(TrafficProfile(rate_up=1.0, rate_down=3.0))
    meter.start(0.0)
    reports = [meter.take(t * 0.25) for t in range(1, 9)]
    assert sum(r.up for r in reports if r) == 2
    assert sum(r.down for r in reports if r) == 6


def test_a_refused_report_drops_the_context_and_asks_the_network_again() -> None:
    interp, carrier, clock = modem()
    exchange(interp, "AT+CGACT=1,1")
    clock.advance(1.0)
    carrier.outcome = AttachOutcome.DENIED
    _, out = settle(interp, Verdict.REFUSED, reason="deactivated")
    assert out == "\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+CEREG: 2\r\n"
    assert interp.state.meter.total.total == 0  # refused bytes were not carried
    clock.advance(1.0)
    assert interp.poll() == b"\r\n+CEREG: 3\r\n"
    assert len(carrier.attempts) == 2
    assert exchange(interp, "AT+CGACT=1,1") == "\r\n+CME ERROR: 30\r\n"


def test_a_cut_drops_the_context_but_not_the_registration() -> None:
    interp, carrier, clock = modem()
    exchange(interp, "AT+CGACT=1,1")
    clock.advance(1.0)
    _, out = settle(interp, Verdict.ACCEPTED, session_cut=True)
    assert out == "\r\n+CGEV: NW PDN DEACT 1\r\n"
    assert interp.state.meter.total.total == 500  # a cutting report is counted
    assert exchange(interp, "AT+CEREG?") == "\r\n+CEREG: 1,1\r\n\r\nOK\r\n"
    assert len(carrier.attempts) == 1
    assert exchange(interp, "AT+CGACT=1,1") == "\r\nOK\r\n"
    assert interp.state.meter.session == 2


def test_a_data_call_ends_with_no_carrier_and_counts_host_bytes() -> None:
    interp, _, clock = modem()
    assert exchange(interp, "ATD*99***1#") == "\r\nCONNECT 150000000\r\n"
    interp.receive_data(b"\x7e" * 1000)
    clock.advance(1.0)
    report, out = settle(interp, Verdict.REFUSED, reason="no_session")
    assert report.up == 1100
    assert out == "\r\nNO CARRIER\r\n\r\n+CEREG: 2\r\n"
    assert not interp.data_mode


def test_unanswered_reports_in_a_row_are_lost_coverage() -> None:
    interp, _, clock = modem()
    exchange(interp, "AT+CGACT=1,1")
    clock.advance(1.0)
    assert settle(interp, Verdict.NOT_DELIVERED)[1] == ""
    clock.advance(1.0)
    _, out = settle(interp, Verdict.UNANSWERED)  # lost_after=2
    assert out == "\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+CEREG: 2\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
    clock.advance(1.0)
    assert interp.poll() == b"\r\n+CEREG: 1\r\n"  # the network answers the retry


def test_an_unreachable_network_is_searching_retried_with_backoff() -> None:
    clock = ManualClock()
    carrier = LocalNetwork(AttachOutcome.SEARCHING)
    interp = Interpreter(card(pin_enabled=False), network=NET, carrier=carrier, clock=clock)
    exchange(interp, "ATE0")
    asked_at: list[float] = []
    for step in range(1, 41):
        clock.advance(0.5)
        before = len(carrier.attempts)
        assert exchange(interp, "AT+CEREG?") == "\r\n+CEREG: 0,2\r\n\r\nOK\r\n"
        if len(carrier.attempts) > before:
            asked_at.append(step * 0.5)
    gaps = [b - a for a, b in itertools.pairwise(asked_at)]
    assert gaps[:4] == [1.0, 2.0, 4.0, 4.0]
    assert set(gaps[4:]) == {4.0}  # capped at attach_retry_max
    assert interp.next_deadline() is not None
    carrier.outcome = AttachOutcome.HOME
    clock.advance(4.0)
    assert exchange(interp, "AT+CEREG?") == "\r\n+CEREG: 0,1\r\n\r\nOK\r\n"


def test_cgerep_read_test_and_bad_values() -> None:
    interp, _, _ = modem()
    assert exchange(interp, "AT+CGEREP?") == "\r\n+CGEREP: 1,0\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGEREP=?") == "\r\n+CGEREP: (0-2),(0,1)\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGEREP=3") == "\r\nERROR\r\n"
    assert exchange(interp, "AT+CGEREP=0,2") == "\r\nERROR\r\n"
    assert exchange(interp, "AT+CGEREP?") == "\r\n+CGEREP: 1,0\r\n\r\nOK\r\n"
    assert exchange(interp, "ATZ;+CGEREP?") == "\r\n+CGEREP: 0,0\r\n\r\nOK\r\n"


def test_no_urc_when_cgerep_is_off() -> None:
    interp, _, clock = modem()
    exchange(interp, "AT+CGEREP=0;+CGACT=1,1")
    clock.advance(1.0)
    assert settle(interp, Verdict.ACCEPTED, session_cut=True)[1] == ""


@pytest.mark.parametrize(
    "url", ["ftp://host", "http://", "http://user:pw@host:99999", "http://host:99999", "host:80"]
)
def test_emulator_urls_that_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="emulator URL") as caught:
        EmulatorNetwork(url)
    assert "pw" not in str(caught.value)


def test_emulator_url_credentials_are_used_and_never_shown() -> None:
    network = EmulatorNetwork("http://tok:s%40cret@127.0.0.1:9/")
    assert network.url == "http://127.0.0.1:9/"
    assert "cret" not in repr(network.__dict__.get("url"))


def test_a_closed_port_is_no_coverage_and_never_delivered() -> None:
    network = EmulatorNetwork("http://127.0.0.1:9", traffic=PROFILE, timeout=0.5)
    assert network.attach(ICCID, "440101234567890", "353456789012345") is AttachOutcome.SEARCHING
    assert network.open_session(ICCID).verdict is Verdict.NOT_DELIVERED
    assert network.report_traffic(ICCID, 1, 2).verdict is Verdict.NOT_DELIVERED
    assert network.address(ICCID) is None
    assert network.traffic is PROFILE
