"""Packet-data and mode parsers (+CGACT?, +CGDCONT?, +CGPADDR, +CGATT?, +CFUN?, +CMEE?).

Capture sources (strings are data; the code around them was not copied):
- [MM] linux-mobile-broadband/ModemManager, src/tests/test-modem-helpers.c
  (commit 9a2d5863): +CGACT?, +CGDCONT? and +CFUN? answers.
- [MOLER] nokia/moler, moler/cmd/at/get_apns.py, get_ip.py, get_attach_state.py,
  get_functionality_level.py.
- [V3X] stylesuxx/v3xctrl, docs/SIM.md: +CGDCONT? of an LTE module with the address field.
- [GSMMODEM] faucamp/python-gsmmodem, test/fakemodems.py: +CFUN?.
"""

from __future__ import annotations

import pytest

from agent.at.errors import ResponseParseError
from agent.at.responses import (
    AttachState,
    PdpAddress,
    PdpContext,
    PdpContextState,
    parse_cfun,
    parse_cgact,
    parse_cgatt,
    parse_cgdcont,
    parse_cgpaddr,
    parse_cmee,
)


def test_cgact_lists_each_context_state() -> None:
    lines = ["+CGACT: 1,0", "+CGACT: 4,1", "+CGACT: 5,0"]  # [MM]
    assert parse_cgact(lines) == (
        PdpContextState(1, False),
        PdpContextState(4, True),
        PdpContextState(5, False),
    )


def test_cgact_with_no_context_defined_is_empty() -> None:
    assert parse_cgact([]) == ()


@pytest.mark.parametrize("line", ["+CGACT: 1,2", "+CGACT: 1", "+CGACT: (1-16),(0,1)"])
def test_cgact_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_cgact([line])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [  # [MM]
                '+CGDCONT: 1,"IP","nate.sktelecom.com","",0,0',
                '+CGDCONT: 2,"IP","epc.tmobile.com","",0,0',
                '+CGDCONT: 3,"IP","MAXROAM.com","",0,0',
            ],
            (
                PdpContext(1, "IP", "nate.sktelecom.com"),
                PdpContext(2, "IP", "epc.tmobile.com"),
                PdpContext(3, "IP", "MAXROAM.com"),
            ),
        ),
        (['+CGDCONT: 1,"IP","nate.sktelecom.com"'], (PdpContext(1, "IP", "nate.sktelecom.com"),)),
        (['+CGDCONT: 1,"IP",,,0,0'], (PdpContext(1, "IP", ""),)),  # [MM]
        (
            [  # [MOLER]
                '+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0',
                '+CGDCONT: 4,"IP","site.server.com","0.0.0.0",0,0,0,0,,,,,,,,,"",,,,0',
            ],
            (PdpContext(1, "IP", ""), PdpContext(4, "IP", "site.server.com")),
        ),
        (
            [  # [V3X]
                '+CGDCONT: 1,"IPV4V6","ctnet","IPV4:10.0.28.161    IPV62001:4BB8:02CC:18F7:'
                '0000:0000:E33A:AA8E",,,,0,,,,,,1,,'
            ],
            (PdpContext(1, "IPV4V6", "ctnet"),),
        ),
        (
            ['+CGDCONT: 1,"IP","magenta","10.145.10.20",,,,,,,,,,,,'],
            (PdpContext(1, "IP", "magenta"),),
        ),
    ],
)
def test_cgdcont_read_gives_cid_type_and_apn(
    lines: list[str], expected: tuple[PdpContext, ...]
) -> None:
    assert parse_cgdcont(lines) == expected


@pytest.mark.parametrize(
    "line", ['+CGDCONT: (1-10),"IP",,,(0,1),(0,1)', "+CGDCONT: 1", '+CGDCONT: 1,""']
)
def test_cgdcont_rejects_test_form_and_malformed_lines(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_cgdcont([line])


@pytest.mark.parametrize(
    ("line", "expected", "has_address"),
    [
        ('+CGPADDR: 1,"40.1.1.105"', PdpAddress(1, ("40.1.1.105",)), True),  # [MOLER]
        (
            "+CGPADDR: 1,0.0.0.0,0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",  # [MOLER]
            PdpAddress(1, ("0.0.0.0", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0")),
            False,
        ),
        ("+CGPADDR: 1", PdpAddress(1), False),
        ('+CGPADDR: 2,""', PdpAddress(2), False),
    ],
)
def test_cgpaddr_gives_addresses_and_whether_one_is_set(
    line: str, expected: PdpAddress, has_address: bool
) -> None:
    (found,) = parse_cgpaddr([line])
    assert found == expected
    assert found.has_address is has_address


@pytest.mark.parametrize("line", ['+CGPADDR: x,"1.2.3.4"', "+CGPADDR: 1,a,b,c"])
def test_cgpaddr_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_cgpaddr([line])


@pytest.mark.parametrize(
    ("line", "attached"), [("+CGATT: 1", True), ("+CGATT: 0", False), ("+CGATT:1", True)]
)
def test_cgatt_gives_attach_state(line: str, attached: bool) -> None:
    assert parse_cgatt([line]) == AttachState(attached)  # [MOLER]


@pytest.mark.parametrize("lines", [[], ["+CGATT: 2"], ["+CGATT: on"]])
def test_cgatt_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cgatt(lines)


@pytest.mark.parametrize(
    ("line", "level", "full", "radio_off"),
    [
        ("+CFUN: 1", 1, True, False),  # [MM] [MOLER] [GSMMODEM]
        ("+CFUN: 1,0", 1, True, False),  # [MM]
        ("+CFUN: 0", 0, False, True),  # [MM]
        ("+CFUN: 4,0", 4, False, True),  # [MM]
        ("+CFUN: 19", 19, False, False),  # [MM] vendor level
    ],
)
def test_cfun_gives_level(line: str, level: int, full: bool, radio_off: bool) -> None:
    fun = parse_cfun([line])
    assert (fun.level, fun.full, fun.radio_off) == (level, full, radio_off)


@pytest.mark.parametrize("lines", [[], ["+CFUN: x"]])
def test_cfun_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cfun(lines)


@pytest.mark.parametrize(
    ("line", "numeric", "verbose"),
    [("+CMEE: 0", False, False), ("+CMEE: 1", True, False), ("+CMEE: 2", False, True)],
)
def test_cmee_gives_reporting_mode(line: str, numeric: bool, verbose: bool) -> None:
    mode = parse_cmee([line])
    assert (mode.numeric, mode.verbose) == (numeric, verbose)


@pytest.mark.parametrize("lines", [[], ["+CMEE: 3"], ["+CMEE: (0-2)"]])
def test_cmee_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cmee(lines)
