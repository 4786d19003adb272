"""Parsers of vendor answers, fed answers captured from real modules.

Sources of the captures (facts only, no code taken):
- u-blox `+UPINCNT` and `+UGCNTRD`: linux-mobile-broadband/ModemManager,
  src/plugins/ublox/tests/test-modem-helpers-ublox.c (answers of TOBY-L2/SARA modules).
- Quectel `+QPINC` (one line per facility, "SC" and "P2") and SIMCom `+SPIC`
  (PIN1, PUK1, PIN2, PUK2): sailfishos-native/ofono-mirror, drivers/atmodem/sim.c
  (`at_qpinc_cb`, `simcom_spic_cb`); the numbers are the Quectel EC2x and SIMCom
  SIM7500/SIM7600 AT manuals' examples.
- Quectel `+QGDCNT`: the Quectel EC2x/EG2x TCP/IP AT manual, `+QGDCNT: <bytes_sent>,
  <bytes_recv>`; the values are a capture from an EM12 published in a user's notes.
- `+QCCID` with its `F` filler and SIMCom `+ICCID` with hex digits: the vendors' manuals'
  examples (`AT+QCCID`, `AT+CICCID`).
"""

from __future__ import annotations

import pytest

from agent.at.errors import ResponseParseError
from agent.at.responses import (
    ContextCounters,
    DataCounters,
    RetryCounts,
    parse_iccid,
    parse_qgdcnt,
    parse_qpinc,
    parse_spic,
    parse_ugcntrd,
    parse_upincnt,
)
from agent.at.responses.vendor import qgdcnt_up_down, ugcntrd_up_down


def test_qpinc_reads_both_facilities() -> None:
    lines = ['+QPINC: "SC",3,10', '+QPINC: "P2",3,10']
    assert parse_qpinc(lines) == RetryCounts(3, 10, 3, 10)


def test_qpinc_with_only_the_sim_facility_and_a_urc_in_between() -> None:
    lines = ['+QPINC: "SC",1,9', "+QIND: SMS DONE"]
    assert parse_qpinc(lines) == RetryCounts(1, 9, None, None)


@pytest.mark.parametrize(
    "lines",
    [[], ["+QPINC: 3,10"], ['+QPINC: "SC",x,10'], ["+CPINR: SIM PIN,3,3"]],
)
def test_qpinc_refuses_what_it_cannot_read(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_qpinc(lines)


def test_spic_is_pin1_puk1_pin2_puk2() -> None:
    assert parse_spic(["+SPIC: 3,10,0,10"]) == RetryCounts(3, 10, 0, 10)


def test_spic_of_older_firmware_gives_pin1_only() -> None:
    assert parse_spic(["+SPIC: 1"]) == RetryCounts(1, None)


@pytest.mark.parametrize("line", ["+SPIC: 3,10", "+SPIC: 3,10,0,10,5", "+SPIC: a,10,0,10"])
def test_spic_refuses_other_shapes(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_spic([line])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("+UPINCNT: 3,3,10,10", RetryCounts(3, 10, 3, 10)),
        ("+UPINCNT: 0,3,5,5", RetryCounts(0, 5, 3, 5)),
        ("+UPINCNT: 0,0,0,0", RetryCounts(0, 0, 0, 0)),
    ],
)
def test_upincnt_is_pin1_pin2_puk1_puk2(line: str, expected: RetryCounts) -> None:
    assert parse_upincnt([line]) == expected


def test_qgdcnt_is_sent_then_received() -> None:
    assert parse_qgdcnt(["+QGDCNT: 237505722,614994307"]) == DataCounters(237505722, 614994307)
    assert qgdcnt_up_down(["+QGDCNT: 7555,39379"]) == (7555, 39379)


def test_ugcntrd_one_line_per_context_with_spaces_and_64_bit_totals() -> None:
    lines = [
        "+UGCNTRD: 1, 100, 0, 100, 0",
        "+UGCNTRD: 31,2704,1819,2724,1839",
        "+UGCNTRD: 2,1397316870,113728263578,1397316870,113728263578",
    ]
    contexts = parse_ugcntrd(lines)
    assert contexts[1] == ContextCounters(31, 2704, 1819, 2724, 1839)
    assert contexts[2].received_total == 113728263578
    assert ugcntrd_up_down(lines) == (100 + 2724 + 1397316870, 0 + 1839 + 113728263578)


@pytest.mark.parametrize("lines", [[], ["+UGCNTRD: 1,2,3,4"], ["+QGDCNT: 1,2"]])
def test_ugcntrd_refuses_what_it_cannot_read(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_ugcntrd(lines)


@pytest.mark.parametrize("line", ["+QGDCNT: 1", "+QGDCNT: 1,2,3", "+QGDCNT: -1,2"])
def test_qgdcnt_refuses_other_shapes(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_qgdcnt([line])


@pytest.mark.parametrize(
    ("line", "iccid"),
    [
        ("+QCCID: 8901260886258128535F", "8901260886258128535"),
        ("+QCCID: 89860436101892671308", "89860436101892671308"),
        ("+ICCID: 898600700907A6019125", "898600700907A6019125"),
        ("+CCID: 8939104160000392116", "8939104160000392116"),
    ],
)
def test_vendor_iccid_answers(line: str, iccid: str) -> None:
    assert parse_iccid([line]).iccid == iccid
