"""The command-line grammar, secret masking, and robustness to garbage."""

from __future__ import annotations

import logging
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_stubs import Interpreter, new_card
from firmware_stubs.at_syntax import (
    AtSyntaxError,
    Command,
    CommandKind,
    Param,
    mask_secrets,
    parse_command_line,
)
from firmware_stubs.testing import ManualClock, exchange

# A final result code at the end of an answer, verbose (V1) or numeric (V0).
FINAL = re.compile(r"((OK|ERROR|CONNECT 150000000|NO CARRIER|\+CME ERROR: [^\r]+)\r\n|\d\r)$")


def test_bare_at_has_no_commands() -> None:
    assert parse_command_line("") == []


def test_basic_and_extended_commands() -> None:
    assert parse_command_line('E0V1&C1+CPIN="0000";+CSQ;+CREG?;+COPS=?') == [
        Command("E", value="0"),
        Command("V", value="1"),
        Command("&C", value="1"),
        Command("+CPIN", CommandKind.SET, (Param("0000", quoted=True),)),
        Command("+CSQ"),
        Command("+CREG", CommandKind.READ),
        Command("+COPS", CommandKind.TEST),
    ]


def test_parameters_keep_quoted_text_and_omitted_ones() -> None:
    (command,) = parse_command_line('+CGDCONT=1, "IP" ,"Apn,With;Odd",,0')
    assert command.params == (
        Param("1"),
        Param("IP", quoted=True),
        Param("Apn,With;Odd", quoted=True),
        Param(""),
        Param("0"),
    )
    assert command.params[3].empty


def test_dial_takes_the_rest_of_the_line() -> None:
    assert parse_command_line("D*99***1#") == [Command("D", value="*99***1#")]


def test_s_registers() -> None:
    assert parse_command_line("S0=0S7?") == [
        Command("S0", CommandKind.SET, value="0"),
        Command("S7", CommandKind.READ),
    ]


@pytest.mark.parametrize("body", ['+CPIN="0000', "+", "+CSQ+CSQ", "!", "+CPIN=1 2", "S", '+X=1"'])
def test_broken_lines_raise(body: str) -> None:
    with pytest.raises(AtSyntaxError):
        parse_command_line(body)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ('AT+CPIN="1234"', 'AT+CPIN="****"'),
        ('AT+CPIN="12345678","4321"', 'AT+CPIN="****","****"'),
        ("at+cpin=1234", "at+cpin=****"),
        ('AT+CLCK="SC",0,"1234"', 'AT+CLCK="SC",0,"****"'),
        ('AT+CPWD="SC","1234","5678"', 'AT+CPWD="SC","****","****"'),
        ('AT+CSIM=26,"002000010831323334FFFFFFFF"', 'AT+CSIM=26,"****"'),
        ('AT+CPIN="12', "AT+CPIN=****"),
        ("AT+CPIN?", "AT+CPIN?"),
        ('AT+CMEE=1;+CPIN="1234";+CSQ', 'AT+CMEE=1;+CPIN="****";+CSQ'),
    ],
)
def test_secrets_are_masked(line: str, masked: str) -> None:
    assert mask_secrets(line) == masked


def test_logs_never_show_the_pin(caplog: pytest.LogCaptureFixture) -> None:
    interp = Interpreter(new_card(random.Random(1)), clock=ManualClock())
    with caplog.at_level(logging.DEBUG, logger="firmware_stubs"):
        exchange(interp, 'AT+CPIN="0000"')
        exchange(interp, 'AT+CPWD="SC","0000","8642"')
        exchange(interp, 'AT+CLCK="SC",0,"8642"')
    assert 'AT+CPIN="****"' in caplog.text
    assert "0000" not in caplog.text
    assert "8642" not in caplog.text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_garbage_never_crashes_the_interpreter(chunks: list[bytes]) -> None:
    interp = Interpreter(new_card(random.Random(2)), clock=ManualClock())
    for chunk in chunks:
        interp.receive_data(chunk)
        interp.poll()
    interp.host_closed()
    assert interp.receive_data(b"\rAT\r").endswith(b"\r\nOK\r\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='AT+CPINREGMS=?;,"0123456789&EVQIZXDH*# ', max_size=40))
def test_command_like_lines_get_a_final_result(line: str) -> None:
    interp = Interpreter(new_card(random.Random(3)), clock=ManualClock())
    exchange(interp, "ATE0")
    answer = exchange(interp, "AT" + line)
    assert FINAL.search(answer), answer
