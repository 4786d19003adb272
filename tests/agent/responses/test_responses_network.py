"""Network parsers (+CREG/+CGREG/+CEREG/+C5GREG, +COPS, +CSQ) against real answers.

Capture sources (strings are data; the code around them was not copied):
- [MM] linux-mobile-broadband/ModemManager, src/tests/test-modem-helpers.c
  (commit 9a2d5863): registration replies and URCs of Sierra, Sony Ericsson, Huawei,
  Novatel, Iridium, Ericsson, Alcatel, Samsung, Qualcomm Gobi, u-blox, Altair, Thuraya
  modules; +COPS? and +COPS=? answers.
- [MOLER] nokia/moler, moler/cmd/at/get_cell_id*.py: +CREG/+CGREG/+CEREG read answers
  with empty location fields, reject causes and PSM timers.
- [GSMMODEM] faucamp/python-gsmmodem, test/test_modem.py: +COPS?, +CSQ.
- [RM500U] a Forlinx OK3568 manual's log of a Quectel RM500U (code index; the index does not
  name its repository): +COPS?, +CEREG?.
- [V3X] stylesuxx/v3xctrl, docs/SIM.md: +COPS? of an LTE module.
"""

from __future__ import annotations

import pytest

from agent.at.errors import ResponseParseError
from agent.at.responses import (
    AccessTechnology,
    NetworkOperator,
    Operator,
    OperatorAvailability,
    OperatorFormat,
    Registration,
    RegistrationStatus,
    SignalQuality,
    parse_cops,
    parse_cops_list,
    parse_csq,
    parse_registration_read,
    parse_registration_urc,
)

S = RegistrationStatus
A = AccessTechnology

# (command, line, stat, lac/tac, ci, AcT)
READ_ANSWERS = [
    ("+CREG", "+CREG: 1,3", S.DENIED, None, None, None),  # [MM]
    ("+CREG", "+CREG: 1,1,84CD,00D30173", S.HOME, 0x84CD, 0xD30173, None),  # [MM] Sierra
    ("+CREG", '+CREG: 2,1,"CE00","01CEAD8F"', S.HOME, 0xCE00, 0x01CEAD8F, None),  # [MM] SE
    ("+CREG", "+CREG: 2,0,00,0", S.NOT_REGISTERED, 0, 0, None),  # [MM] Huawei E160G
    ("+CREG", "+CREG: 2,1,8BE3,2BAF", S.HOME, 0x8BE3, 0x2BAF, None),  # [MM] Huawei E160G
    ("+CREG", '+CREG:002,001,"18d8","ffff"', S.HOME, 0x18D8, 0xFFFF, None),  # [MM] Iridium
    ("+CREG", "+CREG:2,1,0001,0010", S.HOME, 1, 0x10, None),  # [MM]
    ("+CREG", '+CREG: 2,6,"8B37","0A265185",7', S.HOME_SMS_ONLY, 0x8B37, 0x0A265185, A.E_UTRAN),
    ("+CREG", "+CREG: 2,1,  0 5, 2715", S.HOME, 0x05, 0x2715, None),  # [MM] Gobi 1000
    ("+CREG", "+CREG: 2,1,000B,2816, B, C2816", S.HOME, 0x0B, 0x2816, None),  # [MM] Samsung
    ("+CREG", "+CREG: 2,11,003F,8FE3, B, C2816", S.RLOS_ONLY, 0x3F, 0x8FE3, None),  # [MM]
    ("+CREG", '+CREG: 2,5,"54DB","0F6B0578",7', S.ROAMING, 0x54DB, 0x0F6B0578, A.E_UTRAN),
    ("+CREG", "+CREG: 2,5,,,", S.ROAMING, None, None, None),  # [MOLER]
    ("+CGREG", "+CGREG: 1,3", S.DENIED, None, None, None),  # [MM]
    ("+CGREG", '+CGREG: 2,1,"8BE3","00002B5D",3', S.HOME, 0x8BE3, 0x2B5D, A.GSM_EGPRS),
    ("+CGREG", "+CGREG:2,10,ebbd,f025", S.ROAMING_CSFB_NOT_PREFERRED, 0xEBBD, 0xF025, None),
    ("+CGREG", '+CGREG:002,0011,"0f0d","14c3"', S.RLOS_ONLY, 0x0F0D, 0x14C3, None),  # [MM]
    ("+CGREG", '+CGREG: 2, 1, "0426", "F00F"', S.HOME, 0x0426, 0xF00F, None),  # [MM] Thuraya
    ("+CGREG", '+CGREG: 2,5,"54DB","0F6B0578",7,"f0"', S.ROAMING, 0x54DB, 0x0F6B0578, A.E_UTRAN),
    ("+CEREG", "+CEREG: 1,3", S.DENIED, None, None, None),  # [MM]
    ("+CEREG", "+CEREG: 2,1, 1F00, 79D903 ,7", S.HOME, 0x1F00, 0x79D903, A.E_UTRAN),  # [MM]
    (
        "+CEREG",
        '+CEREG: 2,10,"8d83","671f98a",7',
        S.ROAMING_CSFB_NOT_PREFERRED,
        0x8D83,
        0x671F98A,
        A.E_UTRAN,
    ),
    (
        "+CEREG",
        "+CEREG: 2,10, 2CA8, 20 ,B5583D ,7",
        S.ROAMING_CSFB_NOT_PREFERRED,
        0x2CA8,
        0xB5583D,
        A.E_UTRAN,
    ),
    ("+CEREG", "+CEREG: 2,1, 1F00, 20 ,79D903 ,7", S.HOME, 0x1F00, 0x79D903, A.E_UTRAN),  # Novatel
    ("+CEREG", '+CEREG: 2,1,"3193","08F381C5",7', S.HOME, 0x3193, 0x08F381C5, A.E_UTRAN),
    (
        "+CEREG",
        '+CEREG: 4,5,"54DB","0F6B0578",7,,,"00100100","01000111"',
        S.ROAMING,
        0x54DB,
        0x0F6B0578,
        A.E_UTRAN,
    ),
    ("+CEREG", "+CEREG: 4,5,,,,,,,", S.ROAMING, None, None, None),  # [MOLER]
    ("+C5GREG", "+C5GREG: 1,3", S.DENIED, None, None, None),  # [MM]
    ("+C5GREG", "+C5GREG: 2,1,1F00,79D903,11,6,ABCDEF", S.HOME, 0x1F00, 0x79D903, A.NR_5GCN),
]


@pytest.mark.parametrize(("command", "line", "stat", "lac", "ci", "act"), READ_ANSWERS)
def test_registration_read_answers_give_stat_location_and_act(
    command: str,
    line: str,
    stat: RegistrationStatus,
    lac: int | None,
    ci: int | None,
    act: AccessTechnology | None,
) -> None:
    reg = parse_registration_read([line], command)
    assert (reg.stat, reg.lac_or_tac, reg.cell_id, reg.act) == (stat, lac, ci, act)
    assert reg.n is not None
    assert reg.command == command


# (line, stat, lac/tac, ci, AcT)
URCS = [
    ("+CREG: 3", S.DENIED, None, None, None),  # [MM]
    ("+CREG: 11", S.RLOS_ONLY, None, None, None),  # [MM]
    ("+CREG: 1,84CD,00D30156", S.HOME, 0x84CD, 0xD30156, None),  # [MM] Sierra
    ('+CREG: 11,"33FE","a3fb477"', S.RLOS_ONLY, 0x33FE, 0xA3FB477, None),  # [MM]
    ('+CREG: 1,"CE00","00005449"', S.HOME, 0xCE00, 0x5449, None),  # [MM] Sony Ericsson
    ("+CREG: 1,8BE3,2BAF", S.HOME, 0x8BE3, 0x2BAF, None),  # [MM] Huawei
    ("+CREG: 2,,", S.SEARCHING, None, None, None),  # [MM] Novatel XU870
    ("+CREG: 1,0001,0010,0", S.HOME, 1, 0x10, A.GSM),  # [MM]
    ('+CREG: 001,"0001","0010",000', S.HOME, 1, 0x10, A.GSM),  # [MM]
    ("+CREG: 10,0001,0010,0", S.ROAMING_CSFB_NOT_PREFERRED, 1, 0x10, A.GSM),  # [MM]
    ('+CREG: 6,"8B37","0A265185",7', S.HOME_SMS_ONLY, 0x8B37, 0x0A265185, A.E_UTRAN),  # u-blox
    ("+CGREG: 3", S.DENIED, None, None, None),  # [MM]
    ('+CGREG: 1,"8BE3","00002B5D",3', S.HOME, 0x8BE3, 0x2B5D, A.GSM_EGPRS),  # [MM] Ericsson
    ('+CGREG: 5,"0502","0404736D",2', S.ROAMING, 0x0502, 0x0404736D, A.UTRAN),  # [MM] SE MD400
    ('+CGREG: 1,"1422","00000142",3,"00"', S.HOME, 0x1422, 0x142, A.GSM_EGPRS),  # [MM] RAC
    ('+CGREG: 1, "0426", "F00F"', S.HOME, 0x0426, 0xF00F, None),  # [MM] Thuraya
    ("+CEREG: 3", S.DENIED, None, None, None),  # [MM]
    ("+CEREG: 1, 1F00, 79D903 ,7", S.HOME, 0x1F00, 0x79D903, A.E_UTRAN),  # [MM]
    ("+CEREG: 11, 78FE, 20 ,14419E ,7", S.RLOS_ONLY, 0x78FE, 0x14419E, A.E_UTRAN),  # [MM]
    ("+CEREG: 1, 1F00, 20 ,79D903 ,7", S.HOME, 0x1F00, 0x79D903, A.E_UTRAN),  # [MM] Novatel
    ("+CEREG: 2, 0001, 00000100, 7", S.SEARCHING, 1, 0x100, A.E_UTRAN),  # [MM] Altair
    ("+CEREG: 1, 2, 0001, 00000100, 7", S.SEARCHING, 1, 0x100, A.E_UTRAN),  # [MM] Altair, n
    ("+C5GREG: 3", S.DENIED, None, None, None),  # [MM]
    ("+C5GREG: 1,1F00,79D903,11,6,ABCDEF", S.HOME, 0x1F00, 0x79D903, A.NR_5GCN),  # [MM]
]


@pytest.mark.parametrize(("line", "stat", "lac", "ci", "act"), URCS)
def test_registration_urcs_give_stat_location_and_act(
    line: str,
    stat: RegistrationStatus,
    lac: int | None,
    ci: int | None,
    act: AccessTechnology | None,
) -> None:
    reg = parse_registration_urc(line)
    assert (reg.stat, reg.lac_or_tac, reg.cell_id, reg.act) == (stat, lac, ci, act)


def test_registration_read_and_urc_disagree_on_the_same_text() -> None:
    read = parse_registration_read(["+CREG: 2,1"], "+CREG")
    urc = parse_registration_urc("+CREG: 2,1")
    assert (read.n, read.stat) == (2, S.HOME)
    assert (urc.n, urc.stat, urc.lac_or_tac) == (None, S.SEARCHING, 1)
    urc_with_location = parse_registration_urc('+CREG: 1,"00C3","A1B2"')
    assert (urc_with_location.stat, urc_with_location.lac_or_tac) == (S.HOME, 0xC3)
    assert urc_with_location.cell_id == 0xA1B2


def test_registration_read_skips_a_urc_of_the_same_command() -> None:
    reg = parse_registration_read(["+CREG: 5", "+CREG: 2,1,8BE3,2BAF"], "AT+CREG?")  # [MM]
    assert (reg.n, reg.stat, reg.lac_or_tac) == (2, S.HOME, 0x8BE3)


def test_registration_read_ignores_other_commands_lines() -> None:
    reg = parse_registration_read(["+CGREG: 0", "+CREG: 0,5"], "CREG")  # [MM] mixed
    assert reg.stat is S.ROAMING


def test_registration_reject_cause_is_read_where_the_standard_puts_it() -> None:
    creg = parse_registration_read(['+CREG: 3,5,"54DB","0F6B0578",15,1,2'], "+CREG")  # [MOLER]
    assert (creg.act, creg.cause_type, creg.reject_cause) == (None, 1, 2)
    cgreg = parse_registration_read(['+CGREG: 3,5,"54DB","0F6B0578",15,"f0",1,2'], "+CGREG")
    assert (cgreg.cause_type, cgreg.reject_cause) == (1, 2)
    cereg = parse_registration_read(["+CEREG: 3,5,,,,1,2"], "+CEREG")  # [MOLER]
    assert (cereg.lac_or_tac, cereg.cause_type, cereg.reject_cause) == (None, 1, 2)


@pytest.mark.parametrize(
    ("stat", "cli"),
    [
        (S.NOT_REGISTERED, "not_registered"),
        (S.HOME, "home"),
        (S.SEARCHING, "searching"),
        (S.DENIED, "denied"),
        (S.UNKNOWN, "unknown"),
        (S.ROAMING, "roaming"),
        (S.HOME_SMS_ONLY, "home"),
        (S.ROAMING_SMS_ONLY, "roaming"),
        (S.EMERGENCY_ONLY, "not_registered"),
        (S.HOME_CSFB_NOT_PREFERRED, "home"),
        (S.ROAMING_CSFB_NOT_PREFERRED, "roaming"),
        (S.RLOS_ONLY, "not_registered"),
    ],
)
def test_registration_status_maps_to_the_cli_words(stat: RegistrationStatus, cli: str) -> None:
    assert stat.cli_name == cli
    assert stat.registered == (cli in ("home", "roaming"))
    assert Registration("+CREG", stat).cli_name == cli


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["+CGREG: 2,1"],  # other command only
        ["+CREG: 2,12"],  # stat outside 27.007
        ["+CREG: x,1"],
        ["+CREG: 2,1,ZZZZ,0001"],  # lac not hex
        ['+CREG: 2,1,"8BE3'],  # unterminated quote
    ],
)
def test_registration_read_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_registration_read(lines, "+CREG")


@pytest.mark.parametrize("line", ["+CSQ: 20,99", "+CREG:", "+CREG: ,1", "CREG: 1"])
def test_registration_urc_rejects_non_registration_lines(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_registration_urc(line)


def test_registration_read_refuses_a_command_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="not a registration command"):
        parse_registration_read(["+CSQ: 1,2"], "+CSQ")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("+COPS: 0", Operator(0)),
        (
            '+COPS: 1,0,"CHINA MOBILE"',
            Operator(1, OperatorFormat.LONG_ALPHANUMERIC, "CHINA MOBILE"),
        ),
        (
            '+COPS: 1,0,"CHINA MOBILE",7',
            Operator(1, OperatorFormat.LONG_ALPHANUMERIC, "CHINA MOBILE", A.E_UTRAN),
        ),
        ('+COPS: 1,2,"46000"', Operator(1, OperatorFormat.NUMERIC, "46000")),  # [MM]
        ('+COPS: 0,0,"MTN",2', Operator(0, OperatorFormat.LONG_ALPHANUMERIC, "MTN", A.UTRAN)),
        ('+COPS: 0,0,"I OMNITEL"', Operator(0, OperatorFormat.LONG_ALPHANUMERIC, "I OMNITEL")),
        ('+COPS: 0,1,"CMCC",7', Operator(0, OperatorFormat.SHORT_ALPHANUMERIC, "CMCC", A.E_UTRAN)),
        ('+COPS: 0,2,"23201",7', Operator(0, OperatorFormat.NUMERIC, "23201", A.E_UTRAN)),
    ],
)
def test_cops_read_gives_mode_format_name_and_act(line: str, expected: Operator) -> None:
    assert parse_cops([line]) == expected


@pytest.mark.parametrize("lines", [[], ["+COPS: 0,0"], ['+COPS: 0,5,"X"'], ["+COPS: a"]])
def test_cops_read_rejects_malformed_answers(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_cops(lines)


def test_cops_list_stops_at_the_mode_and_format_lists() -> None:
    line = (  # [MM]
        '+COPS: (2,"T-Mobile","TMO","31026",0),(1,"AT&T","AT&T","310410",2),'
        '(1,"AT&T","AT&T","310410",0),,(0,1,2,3,4),(0,1,2)'
    )
    found = parse_cops_list([line])
    assert [(o.numeric, o.act) for o in found] == [
        ("31026", A.GSM),
        ("310410", A.UTRAN),
        ("310410", A.GSM),
    ]
    assert found[0] == NetworkOperator(OperatorAvailability.CURRENT, "T-Mobile", "TMO", "31026",
                                       A.GSM)  # fmt: skip


def test_cops_list_without_act_and_with_empty_names() -> None:
    found = parse_cops_list(  # [MM]
        ['+COPS: (2,"T - Mobile",,"31026"),(1,"Einstein PCS",,"31064"),,(0,1,3),(0,2)']
    )
    assert [(o.long_name, o.short_name, o.act) for o in found] == [
        ("T - Mobile", "", None),
        ("Einstein PCS", "", None),
    ]


def test_cops_list_one_network_per_line_and_continuation_lines() -> None:
    per_line = parse_cops_list(  # [MM]
        [
            '+COPS: (0,"AT&T MicroCell","AT&T MicroCell","310410",2)',
            '+COPS: (1,"AT&T MicroCell","AT&T MicroCell","310410",0)',
            '+COPS: (1,"T-Mobile","TMO","31026",0)',
        ]
    )
    assert [o.stat for o in per_line] == [
        OperatorAvailability.UNKNOWN,
        OperatorAvailability.AVAILABLE,
        OperatorAvailability.AVAILABLE,
    ]
    continued = parse_cops_list(  # [MM]
        ['+COPS: (2,"T - Mobile",,"31026",0),', '(1,"AT&T",,"310410",0),,(0,1,3),(0,2)']
    )
    assert [o.numeric for o in continued] == ["31026", "310410"]


def test_cops_list_of_forbidden_networks() -> None:
    found = parse_cops_list(  # [MM]
        ['+COPS: (2,"blau","","26203"),(3,"","","26201"),(3,"","","26202")']
    )
    assert [o.stat for o in found] == [
        OperatorAvailability.CURRENT,
        OperatorAvailability.FORBIDDEN,
        OperatorAvailability.FORBIDDEN,
    ]


@pytest.mark.parametrize(
    "line",
    [
        '+COPS: (2,"AT&T","AT&T","310410"),2)',  # [MM] broken parenthesis
        '+COPS: (7,"AT&T","AT&T","310410",0)',
        '+COPS: 2,"AT&T"',
    ],
)
def test_cops_list_rejects_broken_lists(line: str) -> None:
    with pytest.raises(ResponseParseError):
        parse_cops_list([line])


@pytest.mark.parametrize(
    ("line", "expected", "dbm"),
    [
        ("+CSQ: 18,99", SignalQuality(18, 99), -77),  # [GSMMODEM]
        ("+CSQ:4,0", SignalQuality(4, 0), -105),  # [GSMMODEM]
        ("+CSQ: 99,99", SignalQuality(99, 99), None),  # [GSMMODEM]
        ("+CSQ: 0,99", SignalQuality(0, 99), -113),
        ("+CSQ: 31,7", SignalQuality(31, 7), -51),
        ("+CSQ: 100,99", SignalQuality(100, 99), -116),
        ("+CSQ: 191,99", SignalQuality(191, 99), -25),
    ],
)
def test_csq_gives_rssi_in_dbm(line: str, expected: SignalQuality, dbm: int | None) -> None:
    quality = parse_csq([line])
    assert quality == expected
    assert quality.rssi_dbm == dbm


def test_csq_ber_unknown_is_99() -> None:
    assert not parse_csq(["+CSQ: 18,99"]).ber_known
    assert parse_csq(["+CSQ: 18,3"]).ber_known


@pytest.mark.parametrize(
    "lines", [[], ["+CSQ: 32,99"], ["+CSQ: 20,8"], ["+CSQ: 20"], ["+CSQ: -1,0"]]
)
def test_csq_rejects_values_outside_27007(lines: list[str]) -> None:
    with pytest.raises(ResponseParseError):
        parse_csq(lines)
