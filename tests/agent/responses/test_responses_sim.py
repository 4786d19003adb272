"""SIM-side parsers against answers real modems sent.

Capture sources (strings are data; the code around them was not copied):
- [MM] linux-mobile-broadband/ModemManager, src/tests/test-modem-helpers.c
  (commit 9a2d5863): +CPIN, +CSIM, +CRSM and ICCID cases.
- [GSMMODEM] faucamp/python-gsmmodem, test/fakemodems.py: Wavecom/Huawei +CPIN, +CIMI, +CGSN.
- [MOLER] nokia/moler, moler/cmd/at/get_imei.py and get_imsi.py: +CGSN, +CIMI.
- [RM500U] a Forlinx OK3568 manual's log of a Quectel RM500U (code index; the index does not
  name its repository): +QCCID with a hex digit, +CIMI.
- [FIPY] a Pycom FiPy (Sequans) probing script's recorded answers (code index; repository
  not named by the index): +CPINR.
- [FIELD] /work/shared/design/field-notes.md: what ModemManager sends and gets back.
"""

from __future__ import annotations

import pytest

from agent.at.errors import ResponseParseError
from agent.at.responses import (
    CrsmResult,
    FacilityLock,
    IccidRead,
    PinCode,
    PinRetry,
    iccid_from_crsm,
    parse_cgsn,
    parse_cimi,
    parse_clck,
    parse_cpin,
    parse_cpinr,
    parse_crsm,
    parse_csim,
    parse_iccid,
)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("+CPIN: SIM PIN", PinCode.SIM_PIN),  # [MM]
        ("+CPIN: SIM PUK2", PinCode.SIM_PUK2),  # [MM]
        ('+CPIN: "SIM PIN"', PinCode.SIM_PIN),  # [MM], quoted form
        ("+CPIN: PH-NET PIN", PinCode.PH_NET_PIN),  # [MM]
        ("+CPIN: READY", PinCode.READY),  # [GSMMODEM]
        ("+CPIN:READY", PinCode.READY),
        ("+CPIN: sim puk  ", PinCode.SIM_PUK),
    ],
)
def test_cpin_code_is_normalised(line: str, code: PinCode) -> None:
    assert parse_cpin([line]).code is code


def test_cpin_helpers_tell_pin_from_puk() -> None:
    pin = parse_cpin(["+CPIN: SIM PIN"])
    puk = parse_cpin(["+CPIN: SIM PUK"])
    ready = parse_cpin(["+CPIN: READY"])
    assert (pin.needs_pin, pin.needs_puk, pin.ready) == (True, False, False)
    assert (puk.needs_pin, puk.needs_puk, puk.ready) == (False, True, False)
    assert (ready.needs_pin, ready.needs_puk, ready.ready) == (False, False, True)
    assert parse_cpin(["+CPIN: PH-SIM PIN"]).device_locked
    assert not pin.device_locked


def test_cpin_skips_a_stray_urc_before_the_answer() -> None:
    assert parse_cpin(["+CREG: 1", "+CPIN: SIM PIN"]).needs_pin


@pytest.mark.parametrize(
    "lines",
    [[], ["+CREG: 1"], ["+CPIN: SIM PINN"], ["+CPIN:"], ["   SIM PUK"]],
)
def test_cpin_rejects_answers_without_a_known_code(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cpin(lines)


def test_cpinr_maps_each_code_to_its_counters() -> None:
    lines = [  # [FIPY]
        "+CPINR: SIM PIN,3,3",
        "+CPINR: SIM PUK,10,10",
        "+CPINR: SIM PIN2,3,3",
        "+CPINR: SIM PUK2,10,10",
    ]
    retries = parse_cpinr(lines)
    assert retries["SIM PIN"] == PinRetry(3, 3)
    assert retries["SIM PUK"] == PinRetry(10, 10)
    assert set(retries) == {"SIM PIN", "SIM PUK", "SIM PIN2", "SIM PUK2"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('+CPINR: "SIM PIN",1,3', PinRetry(1, 3)),
        ("+CPINR: SIM PIN,2", PinRetry(2, None)),
        ("+CPINR: SIM PIN,,3", PinRetry(None, 3)),
        ("+CPINR: sim pin , 0 , 3 ", PinRetry(0, 3)),
    ],
)
def test_cpinr_counters_may_be_quoted_spaced_or_absent(line: str, expected: PinRetry) -> None:
    assert parse_cpinr([line])["SIM PIN"] == expected


def test_cpinr_result_is_read_only() -> None:
    retries = parse_cpinr(["+CPINR: SIM PIN,3,3"])
    with pytest.raises(TypeError):
        retries["SIM PIN"] = PinRetry(9, 9)  # type: ignore[index]


@pytest.mark.parametrize(
    "lines", [[], ["+CPINR: SIM PIN,x,3"], ["+CPINR: ,3,3"], ["+CPINR: SIM PIN,1,2,3"]]
)
def test_cpinr_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cpinr(lines)


@pytest.mark.parametrize(
    ("line", "retries", "blocked", "ok"),
    [
        ('+CSIM: 4,"63C2"', 2, False, False),  # [FIELD]
        ('+CSIM:8,"000063C1"', 1, False, False),  # [MM]
        ('+CSIM:8,"000063CA"', 10, False, False),  # [MM]
        ('+CSIM: 8, "000063CF"', 15, False, False),  # [MM]
        ('+CSIM: 4, "6300"', None, False, False),  # [MM] verification failed
        ('+CSIM: 4, "6983"', 0, True, False),  # [MM] method blocked
        ('+CSIM: 4, "6984"', None, False, False),  # [MM] reference data invalidated
        ('+CSIM: 4, "6A86"', None, False, False),  # [MM]
        ('+CSIM: 4, "6A88"', None, False, False),  # [MM] reference data not found
        ('+CSIM: 4,"63C0"', 0, True, False),
        ('+CSIM: 4,"6D00"', None, False, False),
        ('+CSIM: 4,"9000"', None, False, True),
        ('+CSIM: 4,"63c3"', 3, False, False),
    ],
)
def test_csim_status_word_gives_retries_and_blocked(
    line: str, retries: int | None, blocked: bool, ok: bool
) -> None:
    word = parse_csim([line])
    assert (word.retries_left, word.blocked, word.ok) == (retries, blocked, ok)


def test_csim_keeps_response_data_before_the_status_word() -> None:
    word = parse_csim(['+CSIM:8,"000063C1"'])  # [MM]
    assert (word.sw1, word.sw2, word.data) == (0x63, 0xC1, "0000")


def test_csim_describes_its_status_word() -> None:
    assert "2 tries left" in parse_csim(['+CSIM: 4,"63C2"']).description
    assert parse_csim(['+CSIM: 4,"6983"']).description == "authentication method blocked"


@pytest.mark.parametrize(
    "line",
    [
        '+CSIM:000063CF"',  # [MM] missing length
        "+CSIM: 10, 63CF",  # length disagrees with the response
        '+CSIM: 10, "63CF"',  # [MM] accepts this; we refuse a length that lies
        '+CSIM: 2,"63"',  # no whole status word
        '+CSIM: 4,"63G2"',
        '+CSIM: 5,"63C2F"',
    ],
)
def test_csim_rejects_malformed_or_inconsistent_answers(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_csim([line])


@pytest.mark.parametrize(
    "line",
    [  # [MM] the same answer spaced, quoted and not
        "+CRSM: 144, 0, 0054485552415941FFFFFFFFFFFFFFFFFF",
        "+CRSM: 144, 0,0054485552415941FFFFFFFFFFFFFFFFFF",
        '+CRSM: 144, 0, "0054485552415941FFFFFFFFFFFFFFFFFF"',
        '+CRSM: 144, 0,"0054485552415941FFFFFFFFFFFFFFFFFF"',
    ],
)
def test_crsm_reads_status_and_data_in_every_spelling(line: str) -> None:
    assert parse_crsm([line]) == CrsmResult(144, 0, "0054485552415941FFFFFFFFFFFFFFFFFF")


def test_crsm_file_not_found_is_a_result_not_an_error() -> None:
    result = parse_crsm(['+CRSM: 106,130,""'])  # [FIELD]
    assert result.not_found
    assert not result.ok
    assert iccid_from_crsm(result) is None
    assert parse_crsm(["+CRSM: 106,130"]).not_found


def test_crsm_ef_iccid_decodes_the_swapped_bcd() -> None:
    result = parse_crsm(['+CRSM: 144,0,"98184000000000000001"'])
    assert iccid_from_crsm(result) == IccidRead("89810400000000000010", True)


def test_crsm_ef_iccid_with_padding_inside_the_number_is_malformed() -> None:
    with pytest.raises(ResponseParseError):
        iccid_from_crsm(parse_crsm(['+CRSM: 144,0,"98F84000000000000001"']))


@pytest.mark.parametrize(
    "line", ["+CRSM: 144", "+CRSM: 144,0,ABC", '+CRSM: 144,0,"XY"', "+CRSM: 300,0"]
)
def test_crsm_rejects_malformed_answers(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_crsm([line])


@pytest.mark.parametrize(
    ("lines", "iccid"),
    [
        (['"984402003576012594F9"'], "8944200053671052499"),  # [MM] swapped, quoted
        (["98231420326409614067"], "89324102234690160476"),  # [MM] swapped, bare
        (["8944200053671052499F"], "8944200053671052499"),  # [MM] F-padded
        (["8944200053671052499"], "8944200053671052499"),  # [MM]
        (['"898602F9091830030220"'], "898602F9091830030220"),  # [MM] hex digit
        (['"898602C0123456789012"'], "898602C0123456789012"),  # [MM] hex digit
        (["+QCCID: 898604B2012290748345"], "898604B2012290748345"),  # [RM500U]
        (['+CCID: "89860000000000000000"'], "89860000000000000000"),
        (['+CCID: "89148000000637720260",""'], "89148000000637720260"),  # Telit-style
        (["+ICCID: 8901260487759545390F"], "8901260487759545390"),
        (["+CICCID: 89860012345678901234"], "89860012345678901234"),
        (["^ICCID: 98231420326409614067"], "89324102234690160476"),
        (["+CREG: 1", "8944200053671052499"], "8944200053671052499"),
    ],
)
def test_iccid_forms_all_give_the_plain_iccid(lines: list[str], iccid: str) -> None:
    assert parse_iccid(lines).iccid == iccid


def test_iccid_failing_luhn_is_reported_not_rejected() -> None:
    good = parse_iccid(["89810400000000000010"])
    bad = parse_iccid(["89810400000000000011"])
    assert good.luhn_valid
    assert not bad.luhn_valid
    assert bad.iccid == "89810400000000000011"


@pytest.mark.parametrize(
    "lines",
    [
        ["982314203264096"],  # [MM] too short
        ["98231420326pl9614067"],  # [MM] invalid characters
        ["+CCID: 8986-0123"],
        ["+CCID: 89A6000000000000000"],  # hex inside the issuer prefix
        [],
    ],
)
def test_iccid_rejects_what_is_not_an_iccid(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_iccid(lines)


@pytest.mark.parametrize(
    ("lines", "value", "mcc"),
    [
        (["440801200189934"], "440801200189934", "440"),  # [MOLER]
        (["460083265908345"], "460083265908345", "460"),  # [RM500U]
        (["111111111111111"], "111111111111111", "111"),  # [GSMMODEM] (placeholder)
        (["+CIMI: 440101234567890"], "440101234567890", "440"),
        (["RING", "440801200189934 "], "440801200189934", "440"),
    ],
)
def test_cimi_reads_bare_digits_and_mcc(lines: list[str], value: str, mcc: str) -> None:
    imsi = parse_cimi(lines)
    assert (imsi.value, imsi.mcc) == (value, mcc)


@pytest.mark.parametrize("lines", [[], ["12345"], ["4408012001899341"], ["+CIMI: 44080A"]])
def test_cimi_rejects_lines_that_are_not_an_imsi(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cimi(lines)


@pytest.mark.parametrize(
    ("lines", "value", "luhn"),
    [
        (["490154203237518"], "490154203237518", True),  # [MOLER] bare
        (['+CGSN: "490154203237518"'], "490154203237518", True),  # [MOLER] CGSN=1 form
        (["111111111111111"], "111111111111111", False),  # [GSMMODEM]
        (["35209900176148"], "35209900176148", False),  # 14 digits: no check digit
        (["3520990017614823"], "3520990017614823", False),  # IMEISV
    ],
)
def test_cgsn_reads_imei_and_reports_luhn(lines: list[str], value: str, luhn: bool) -> None:
    imei = parse_cgsn(lines)
    assert (imei.value, imei.luhn_valid) == (value, luhn)


@pytest.mark.parametrize("lines", [[], ['+CGSN: "00"'], ["1234567890123"], ["+CGSN: 49015X"]])
def test_cgsn_rejects_lines_that_are_not_an_imei(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cgsn(lines)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["+CLCK: 1"], FacilityLock(True)),
        (["+CLCK: 0"], FacilityLock(False)),
        (["+CLCK: 0,1", "+CLCK: 1,4"], FacilityLock(True, (4,))),
        (["+CLCK: 1,1", "+CLCK: 1,2"], FacilityLock(True, (1, 2))),
    ],
)
def test_clck_is_enabled_when_any_class_is(lines: list[str], expected: FacilityLock) -> None:
    assert parse_clck(lines) == expected


@pytest.mark.parametrize("lines", [[], ["+CLCK: 2"], ['+CLCK: ("SC","AO","AI","PN")']])
def test_clck_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_clck(lines)
