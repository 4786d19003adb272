"""Command building: what reaches the wire, what reaches the logs, what is refused."""

from __future__ import annotations

import pytest

from agent.at import commands
from agent.at.errors import CommandInjectionError


def test_secret_parameters_are_masked_in_the_logged_form() -> None:
    command = commands.write("+CPIN", commands.secret("12345678"), commands.secret("0000"))
    assert command.line == 'AT+CPIN="12345678","0000"'
    assert command.masked == 'AT+CPIN="****","****"'
    assert str(command) == command.masked


def test_parameters_render_in_order_with_empty_positions() -> None:
    command = commands.write(
        "+CGDCONT", 1, commands.Quoted("IP"), commands.Quoted("soracom.io"), None, 0
    )
    assert command.line == 'AT+CGDCONT=1,"IP","soracom.io",,0'
    assert command.masked == command.line


@pytest.mark.parametrize(
    "value", ['a"b', "line\r", "line\nnext", "ctrl-z\x1a", "esc\x1b", "tab\there"]
)
def test_quoted_values_that_would_inject_are_refused(value: str) -> None:
    with pytest.raises(CommandInjectionError, match="may not contain"):
        commands.write("+CGDCONT", 1, commands.Quoted("IP"), commands.Quoted(value))


def test_refusal_does_not_echo_a_secret() -> None:
    with pytest.raises(CommandInjectionError) as info:
        commands.write("+CPIN", commands.secret('98"76'))
    assert "98" not in str(info.value)


@pytest.mark.parametrize("token", ["1;+CFUN=0", "a b", 'x"', "1\r"])
def test_bare_tokens_that_would_inject_are_refused(token: str) -> None:
    with pytest.raises(CommandInjectionError, match="bare parameter"):
        commands.write("+CFUN", token)


@pytest.mark.parametrize("name", ["+CPIN;+CFUN", "+CPIN\r", "CPIN X", "+"])
def test_command_names_are_checked(name: str) -> None:
    with pytest.raises(CommandInjectionError, match="not an AT command name"):
        commands.read(name)


def test_dial_strings_are_checked() -> None:
    assert commands.dial("*99***1#").line == "ATD*99***1#"
    with pytest.raises(CommandInjectionError):
        commands.dial("*99#;+CFUN=0")


def test_long_commands_get_long_timeouts() -> None:
    assert commands.read("+CSQ").timeout == commands.DEFAULT_TIMEOUT
    assert commands.supported_values("+COPS").timeout >= 120
    assert commands.write("+CGACT", 1, 1).timeout >= 120
    assert commands.dial("*99#").timeout >= 30
    assert commands.read("+CSQ", timeout=0.5).timeout == 0.5


def test_answer_prefixes_follow_the_command_name_and_known_aliases() -> None:
    assert commands.read("+cpin").response_prefixes == {"+CPIN"}
    assert "+ICCID" in commands.execute("+CCID").response_prefixes
    assert commands.read("+CSQ", prefixes=("+CESQ",)).response_prefixes == {"+CSQ", "+CESQ"}


def test_basic_commands() -> None:
    assert commands.execute("").line == "AT"
    assert commands.execute("E0").line == "ATE0"
    assert commands.execute("&C1").line == "AT&C1"
    assert commands.execute("V0").sets_numeric_results is True
    assert commands.execute("Z").sets_numeric_results is False


def test_reading_a_setting_is_quick_even_for_slow_commands() -> None:
    assert commands.read("+COPS").timeout == commands.DEFAULT_TIMEOUT
    assert commands.read("+CGACT").timeout == commands.DEFAULT_TIMEOUT
    assert commands.write("+COPS", 0).timeout >= 120
