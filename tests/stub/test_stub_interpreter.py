"""The sans-I/O interpreter, command by command (no pty)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.at.iccid import decode_ef_iccid
from firmware_stubs import Dialect, Interpreter, NetworkProfile, SimCard, new_card
from firmware_stubs.interpreter import MAX_LINE
from firmware_stubs.testing import ManualClock, exchange

ICCID = "89811000000000000017"


def card(**changes: object) -> SimCard:
    model = new_card(random.Random(7))
    model.iccid = ICCID
    model.imsi = "440101234567890"
    for key, value in changes.items():
        setattr(model, key, value)
    return model


def modem(
    sim: SimCard | None = None,
    *,
    clock: ManualClock | None = None,
    register_delay: float = 0.0,
    dialect: str | Dialect = "generic",
    echo: bool = False,
) -> Interpreter:
    network = NetworkProfile(register_delay=register_delay, cops_scan_seconds=2.0)
    interp = Interpreter(
        sim or card(), dialect, network=network, clock=clock or ManualClock(), imei=None
    )
    if not echo:
        assert exchange(interp, "ATE0") == "ATE0\r\r\nOK\r\n"
    return interp


def unlocked(clock: ManualClock | None = None) -> Interpreter:
    interp = modem(clock=clock)
    assert exchange(interp, 'AT+CPIN="0000"') == "\r\nOK\r\n"
    return interp


def test_at_answers_ok_with_echo_on_by_default() -> None:
    assert exchange(modem(echo=True), "AT") == "AT\r\r\nOK\r\n"


def test_echo_off_and_on() -> None:
    interp = modem(echo=True)
    assert exchange(interp, "ATE0") == "ATE0\r\r\nOK\r\n"
    assert exchange(interp, "AT") == "\r\nOK\r\n"
    assert exchange(interp, "ATE1") == "\r\nOK\r\n"
    assert exchange(interp, "AT") == "AT\r\r\nOK\r\n"


def test_lowercase_and_crlf_terminator() -> None:
    interp = modem()
    assert interp.receive_data(b"at\r\n") == b"\r\nOK\r\n"
    assert interp.receive_data(b"at+cpin?\r\n") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"


def test_bytes_split_at_every_position() -> None:
    interp = modem()
    out = b"".join(interp.receive_data(bytes([b])) for b in b"AT+CSQ\r")
    assert out == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"


def test_v0_gives_numeric_result_codes() -> None:
    interp = modem()
    assert exchange(interp, "ATV0") == "0\r"
    assert exchange(interp, "AT+NOPE") == "4\r"
    assert exchange(interp, "AT+CSQ") == "+CSQ: 20,99\r\n0\r"
    assert exchange(interp, "ATV1") == "\r\nOK\r\n"


def test_several_commands_on_one_line() -> None:
    interp = modem()
    assert exchange(interp, "ATE0V1X4&C1") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CMEE=1;+CMEE?") == "\r\n+CMEE: 1\r\n\r\nOK\r\n"


def test_error_stops_the_rest_of_the_line() -> None:
    interp = modem()
    assert exchange(interp, "AT+CMEE=1;+BOGUS;+CMEE=2") == "\r\nERROR\r\n"
    assert exchange(interp, "AT+CMEE?") == "\r\n+CMEE: 1\r\n\r\nOK\r\n"


@pytest.mark.parametrize(
    "line",
    ["AT+", "ATÄ", "hello", 'AT+CPIN="0000', "AT+CMEE=9", "AT+CMEE=x", "A", "AT+CSQ+CSQ", "AT$"],
)
def test_garbage_is_error(line: str) -> None:
    assert exchange(modem(), line) == "\r\nERROR\r\n"


def test_empty_line_gets_no_answer() -> None:
    assert modem().receive_data(b"\r\r\n\r") == b""


def test_backspace_edits_the_line() -> None:
    assert modem().receive_data(b"ATX\x08\r") == b"\r\nOK\r\n"


def test_overlong_line_is_dropped_with_error() -> None:
    interp = modem()
    assert exchange(interp, "AT" + "E" * (MAX_LINE + 10)) == "\r\nERROR\r\n"
    assert exchange(interp, "AT") == "\r\nOK\r\n"


def test_identity_commands() -> None:
    interp = modem()
    assert exchange(interp, "ATI") == (
        "\r\nsimgate\r\n\r\nStub LTE Modem\r\n\r\nRevision: SIMGATE-STUB-1.0\r\n\r\nOK\r\n"
    )
    assert exchange(interp, "AT+CGMI") == "\r\nsimgate\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGMM") == "\r\nStub LTE Modem\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGSN") == f"\r\n{interp.state.dialect.imei}\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+GCAP") == "\r\n+GCAP: +CGSM,+DS,+ES\r\n\r\nOK\r\n"


def test_dialects_differ_in_identity_and_imei() -> None:
    quectel = modem(dialect="quectel")
    assert exchange(quectel, "AT+CGMI") == "\r\nQuectel\r\n\r\nOK\r\n"
    imeis = {exchange(modem(dialect=name), "AT+CGSN") for name in ("generic", "simcom", "ublox")}
    assert len(imeis) == 3


def test_imei_override() -> None:
    interp = Interpreter(card(), imei="490154203237518", clock=ManualClock())
    assert exchange(interp, "AT+CGSN") == "AT+CGSN\r\r\n490154203237518\r\n\r\nOK\r\n"


def test_atz_restores_settings() -> None:
    interp = modem()
    exchange(interp, "ATV0")
    exchange(interp, "AT+CMEE=2")
    assert exchange(interp, "ATZ") == "\r\nOK\r\n"  # answered with the restored settings
    assert exchange(interp, "AT+CMEE?") == "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"


def test_cmee_modes_for_a_wrong_pin() -> None:
    interp = modem()
    assert exchange(interp, 'AT+CPIN="1111"') == "\r\nERROR\r\n"
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, 'AT+CPIN="1111"') == "\r\n+CME ERROR: 16\r\n"
    exchange(interp, "AT+CMEE=2")
    assert exchange(interp, 'AT+CPIN="1111"') == "\r\n+CME ERROR: incorrect password\r\n"
    assert interp.card.pin_retries == 0
    assert exchange(interp, 'AT+CPIN="0000"') == "\r\n+CME ERROR: SIM PUK required\r\n"


def test_cpin_read_follows_the_card() -> None:
    interp = modem()
    assert exchange(interp, "AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    exchange(interp, 'AT+CPIN="0000"')
    assert exchange(interp, "AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"
    puk = modem(card(pin_retries=0))
    assert exchange(puk, "AT+CPIN?") == "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"


def test_quoted_cpin_dialect() -> None:
    quoting = Dialect("q", "Q", "M", "1", "490154203237518", quote_cpin=True)
    assert exchange(modem(dialect=quoting), "AT+CPIN?") == '\r\n+CPIN: "SIM PIN"\r\n\r\nOK\r\n'


def test_puk_unlock_sets_new_pin() -> None:
    interp = modem(card(pin_retries=0))
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, 'AT+CPIN="12345678"') == "\r\n+CME ERROR: 12\r\n"
    assert exchange(interp, 'AT+CPIN="11111111","4321"') == "\r\n+CME ERROR: 16\r\n"
    assert interp.card.puk_retries == 9
    assert exchange(interp, 'AT+CPIN="12345678","4321"') == "\r\nOK\r\n"
    assert (interp.card.pin, interp.card.pin_retries, interp.card.puk_retries) == ("4321", 3, 10)


def test_cpin_when_nothing_is_wanted_spends_nothing() -> None:
    interp = unlocked()
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, 'AT+CPIN="9999"') == "\r\n+CME ERROR: 3\r\n"
    assert interp.card.pin_retries == 3


def test_malformed_pin_spends_nothing() -> None:
    interp = modem()
    assert exchange(interp, 'AT+CPIN="12a4"') == "\r\nERROR\r\n"
    assert exchange(interp, "AT+CPIN=12") == "\r\nERROR\r\n"
    assert interp.card.pin_retries == 3


def test_locked_sim_answers_sim_pin_required() -> None:
    interp = modem()
    exchange(interp, "AT+CMEE=1")
    for line in ("AT+CIMI", "AT+COPS?", 'AT+CLCK="SC",2', "AT+CGACT=1,1", "ATD*99#"):
        assert exchange(interp, line) == "\r\n+CME ERROR: 11\r\n", line
    puk = modem(card(pin_retries=0))
    exchange(puk, "AT+CMEE=1")
    assert exchange(puk, "AT+CIMI") == "\r\n+CME ERROR: 12\r\n"


def test_blocked_card_answers_sim_failure() -> None:
    interp = modem(card(pin_retries=0, puk_retries=0))
    exchange(interp, "AT+CMEE=1")
    for line in ("AT+CPIN?", "AT+CIMI", 'AT+CPIN="12345678","1234"'):
        assert exchange(interp, line) == "\r\n+CME ERROR: 13\r\n", line
    assert exchange(interp, "AT+CPINR") == (
        "\r\n+CPINR: SIM PIN,0,3\r\n\r\n+CPINR: SIM PUK,0,10\r\n\r\nOK\r\n"
    )


def test_iccid_is_readable_while_locked() -> None:
    interp = modem()
    assert exchange(interp, "AT+CCID") == f"\r\n+CCID: {ICCID}\r\n\r\nOK\r\n"
    answer = exchange(interp, "AT+CRSM=176,12258,0,0,10")
    assert answer == '\r\n+CRSM: 144,0,"98180100000000000071"\r\n\r\nOK\r\n'
    assert decode_ef_iccid(answer.split('"')[1]) == ICCID


def test_crsm_other_files_are_not_found() -> None:
    interp = unlocked()
    assert exchange(interp, "AT+CRSM=176,28423,0,0,9") == '\r\n+CRSM: 106,130,""\r\n\r\nOK\r\n'


def test_cimi_after_unlock() -> None:
    assert exchange(unlocked(), "AT+CIMI") == "\r\n440101234567890\r\n\r\nOK\r\n"


def test_cpinr_filters_by_pattern() -> None:
    interp = modem()
    exchange(interp, 'AT+CPIN="9999"')
    assert exchange(interp, 'AT+CPINR="SIM PUK"') == "\r\n+CPINR: SIM PUK,10,10\r\n\r\nOK\r\n"
    assert exchange(interp, 'AT+CPINR="SIM*"') == (
        "\r\n+CPINR: SIM PIN,2,3\r\n\r\n+CPINR: SIM PUK,10,10\r\n\r\nOK\r\n"
    )


def test_csim_queries_tries_without_spending_them() -> None:
    interp = modem()
    exchange(interp, 'AT+CPIN="9999"')
    for _ in range(3):
        assert exchange(interp, 'AT+CSIM=10,"0020000100"') == '\r\n+CSIM: 4,"63C2"\r\n\r\nOK\r\n'
        assert exchange(interp, 'AT+CSIM=10,"002C000100"') == '\r\n+CSIM: 4,"63CA"\r\n\r\nOK\r\n'
    assert (interp.card.pin_retries, interp.card.puk_retries) == (2, 10)


def test_csim_verify_is_9000_when_verified_or_disabled() -> None:
    assert exchange(unlocked(), 'AT+CSIM=10,"0020000100"') == '\r\n+CSIM: 4,"9000"\r\n\r\nOK\r\n'
    disabled = modem(card(pin_enabled=False))
    assert exchange(disabled, 'AT+CSIM=10,"0020000100"') == '\r\n+CSIM: 4,"9000"\r\n\r\nOK\r\n'


def test_csim_blocked_counters_answer_6983() -> None:
    interp = modem(card(pin_retries=0, puk_retries=0))
    assert exchange(interp, 'AT+CSIM=10,"0020000100"') == '\r\n+CSIM: 4,"6983"\r\n\r\nOK\r\n'
    assert exchange(interp, 'AT+CSIM=10,"002C000100"') == '\r\n+CSIM: 4,"6983"\r\n\r\nOK\r\n'


def test_csim_other_apdus() -> None:
    interp = modem()
    assert exchange(interp, 'AT+CSIM=10,"00A4000400"') == '\r\n+CSIM: 4,"6D00"\r\n\r\nOK\r\n'
    assert exchange(interp, 'AT+CSIM=10,"0020008100"') == '\r\n+CSIM: 4,"6A88"\r\n\r\nOK\r\n'
    assert exchange(interp, 'AT+CSIM=8,"0020000100"') == "\r\nERROR\r\n"


def test_clck_query_enable_disable() -> None:
    interp = unlocked()
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, 'AT+CLCK="SC",2') == "\r\n+CLCK: 1\r\n\r\nOK\r\n"
    assert exchange(interp, 'AT+CLCK="SC",0,"1111"') == "\r\n+CME ERROR: 16\r\n"
    assert interp.card.pin_retries == 2
    assert exchange(interp, 'AT+CLCK="SC",0,"0000"') == "\r\nOK\r\n"
    assert exchange(interp, 'AT+CLCK="SC",2') == "\r\n+CLCK: 0\r\n\r\nOK\r\n"
    assert interp.card.pin_retries == 3
    assert exchange(interp, 'AT+CLCK="PS",2') == "\r\n+CME ERROR: 4\r\n"


def test_cpwd_changes_the_pin() -> None:
    interp = unlocked()
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, 'AT+CPWD="SC","1111","2222"') == "\r\n+CME ERROR: 16\r\n"
    assert exchange(interp, 'AT+CPWD="SC","0000","2222"') == "\r\nOK\r\n"
    assert interp.card.pin == "2222"
    exchange(interp, 'AT+CLCK="SC",0,"2222"')
    assert exchange(interp, 'AT+CPWD="SC","2222","3333"') == "\r\n+CME ERROR: 3\r\n"


def test_registration_after_unlock_with_delay_and_urcs() -> None:
    clock = ManualClock()
    interp = modem(clock=clock, register_delay=1.0)
    assert exchange(interp, "AT+CEREG=2;+CREG=1") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CEREG?") == "\r\n+CEREG: 2,0\r\n\r\nOK\r\n"
    answer = exchange(interp, 'AT+CPIN="0000"')
    assert answer == "\r\nOK\r\n\r\n+CREG: 2\r\n\r\n+CEREG: 2\r\n"
    assert interp.next_deadline() == clock.now + 1.0
    clock.advance(1.0)
    assert interp.poll() == b'\r\n+CREG: 1\r\n\r\n+CEREG: 1,"1A2B","01C2D3E4",7\r\n'
    assert interp.poll() == b""
    assert exchange(interp, "AT+CEREG?") == '\r\n+CEREG: 2,1,"1A2B","01C2D3E4",7\r\n\r\nOK\r\n'
    assert exchange(interp, "AT+CREG=?") == "\r\n+CREG: (0-2)\r\n\r\nOK\r\n"


def test_cfun_controls_registration() -> None:
    interp = unlocked()
    exchange(interp, "AT+CGREG=1")
    assert exchange(interp, "AT+CFUN=4") == "\r\nOK\r\n\r\n+CGREG: 0\r\n"
    assert exchange(interp, "AT+CFUN?") == "\r\n+CFUN: 4\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+COPS?") == "\r\n+COPS: 0\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CSQ") == "\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CFUN=1") == "\r\nOK\r\n\r\n+CGREG: 1\r\n"


def test_cops_read_formats_and_slow_scan() -> None:
    clock = ManualClock()
    interp = unlocked(clock=clock)
    assert exchange(interp, "AT+COPS?") == '\r\n+COPS: 0,0,"NTT DOCOMO",7\r\n\r\nOK\r\n'
    exchange(interp, "AT+COPS=3,2")
    assert exchange(interp, "AT+COPS?") == '\r\n+COPS: 0,2,"44010",7\r\n\r\nOK\r\n'
    assert exchange(interp, "AT+COPS=?") == ""
    clock.advance(1.9)
    assert interp.poll() == b""
    clock.advance(0.1)
    assert interp.poll().startswith(b'\r\n+COPS: (2,"NTT DOCOMO","DOCOMO","44010",7),(1,')


def test_input_during_a_slow_command_waits_its_turn() -> None:
    clock = ManualClock()
    interp = unlocked(clock=clock)
    assert interp.receive_data(b"AT+COPS=?\rAT\r") == b""
    clock.advance(2.0)
    assert interp.poll().endswith(b"\r\nOK\r\n\r\nOK\r\n")


def test_pdp_context_define_activate_address() -> None:
    interp = unlocked()
    assert exchange(interp, 'AT+CGDCONT=1,"IP","iot.example"') == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGDCONT?") == (
        '\r\n+CGDCONT: 1,"IP","iot.example","0.0.0.0",0,0\r\n\r\nOK\r\n'
    )
    assert exchange(interp, "AT+CGPADDR=1") == "\r\n+CGPADDR: 1\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT=1,1") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,1\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGPADDR") == '\r\n+CGPADDR: 1,"10.64.0.2"\r\n\r\nOK\r\n'
    assert exchange(interp, "AT+CGATT?") == "\r\n+CGATT: 1\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT=0,1") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
    assert "IPV4V6" in exchange(interp, "AT+CGDCONT=?")


def test_cgatt_detach_drops_contexts() -> None:
    interp = unlocked()
    exchange(interp, "AT+CGACT=1,1")
    assert exchange(interp, "AT+CGATT=0") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGATT?") == "\r\n+CGATT: 0\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"


def test_dial_enters_data_mode_until_the_host_closes() -> None:
    interp = unlocked()
    assert exchange(interp, "ATD*99***1#") == "\r\nCONNECT 150000000\r\n"
    assert interp.data_mode
    assert interp.receive_data(b"AT\r~\x7d\x23\xc0\x21") == b""
    assert interp.state.data_bytes_up == 8
    interp.host_closed()
    assert not interp.data_mode
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,1\r\n\r\nOK\r\n"


def test_dial_without_network_is_no_carrier() -> None:
    interp = unlocked()
    exchange(interp, "AT+CFUN=4")
    assert exchange(interp, "ATD*99#") == "\r\nNO CARRIER\r\n"
    assert exchange(interp, "ATD123;") == "\r\nERROR\r\n"


def test_dialect_adds_commands_declaratively() -> None:
    from firmware_stubs import CommandSpec, Reply, SimNeed

    spec = CommandSpec(lambda state, cmd: Reply([f"+QCCID: {state.card.iccid}"]), SimNeed.CARD)
    vendor = Dialect("v", "V", "M", "1", "490154203237518", commands={"+QCCID": spec})
    assert exchange(modem(dialect=vendor), "AT+QCCID") == f"\r\n+QCCID: {ICCID}\r\n\r\nOK\r\n"
    assert exchange(modem(), "AT+QCCID") == "\r\nERROR\r\n"


def test_interpreter_loads_a_card_path(tmp_path: Path) -> None:
    interp = Interpreter(tmp_path / "card.json", clock=ManualClock())
    assert exchange(interp, 'AT+CPIN="0001"').endswith("ERROR\r\n")
    assert '"pin_retries": 2' in (tmp_path / "card.json").read_text()
