"""The engine after things go wrong: late answers, late CONNECT, prompts, overlong lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.at import commands
from agent.at.engine import (
    AtEngine,
    FinalResult,
    Garbage,
    LateResult,
    Prompt,
    Response,
    ResultKind,
)
from agent.at.errors import EngineStateError


def test_a_late_answer_split_across_reads_is_swallowed_whole() -> None:
    engine = AtEngine()
    engine.send(commands.read("+CREG"))
    engine.receive_data(b"\r\n+CREG: 0,1\r\n\r\n+CME ERR")  # then the timeout
    engine.abandon()
    engine.send(commands.execute("+CSQ"))
    events = engine.receive_data(b"OR: 16\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert events[0] == LateResult(FinalResult(ResultKind.CME_ERROR, 16))
    assert events[1] == Response(
        commands.execute("+CSQ"), ("+CSQ: 20,99",), FinalResult(ResultKind.OK)
    )


def test_information_lines_of_an_abandoned_command_are_not_the_next_ones() -> None:
    engine = AtEngine()
    engine.send(commands.execute("+CIMI"))
    engine.abandon()
    engine.send(commands.execute("+CGSN"))
    events = engine.receive_data(b"440101234567890\r\nOK\r\n350000010000012\r\nOK\r\n")
    assert events[-1] == Response(
        commands.execute("+CGSN"), ("350000010000012",), FinalResult(ResultKind.OK)
    )


def test_a_late_connect_puts_the_engine_in_data_mode() -> None:
    engine = AtEngine()
    engine.send(commands.dial("*99***1#"))
    engine.abandon()
    engine.send(commands.execute(""))
    events = engine.receive_data(b"\r\nCONNECT 150000000\r\n~\x7d")
    assert events[0] == LateResult(FinalResult(ResultKind.CONNECT, text="150000000"))
    assert engine.in_data_mode
    assert engine.pending is None


def test_a_write_that_never_happened_owes_nothing() -> None:
    engine = AtEngine()
    engine.send(commands.execute("+CSQ"))
    engine.abandon(owes_result=False)
    engine.send(commands.execute(""))
    assert engine.receive_data(b"\r\nOK\r\n")[0] == Response(
        commands.execute(""), (), FinalResult(ResultKind.OK)
    )


def test_a_terminated_overlong_line_is_garbage_not_an_answer() -> None:
    engine = AtEngine(max_line=64)
    engine.send(commands.execute("+CSQ"))
    events = engine.receive_data(b"x" * 1000 + b"\r\n+CSQ: 1,2\r\nOK\r\n")
    assert events[0] == Garbage(b"x" * 64)
    assert events[1] == Response(
        commands.execute("+CSQ"), ("+CSQ: 1,2",), FinalResult(ResultKind.OK)
    )


def test_prompt_followed_by_a_line_end_is_still_the_prompt() -> None:
    engine = AtEngine()
    engine.send(commands.write("+CMGS", 12, expects_prompt=True))
    assert engine.receive_data(b"\r\n> \r\n+CEREG: 1\r\n")[0] == Prompt()


def test_connect_while_at_the_prompt_does_not_raise() -> None:
    engine = AtEngine()
    engine.send(commands.write("+CMGS", 12, expects_prompt=True))
    engine.receive_data(b"\r\n> ")
    engine.receive_data(b"\r\nCONNECT\r\n")
    assert engine.in_data_mode


def test_a_garbled_echo_is_not_an_answer_line() -> None:
    engine = AtEngine()
    engine.send(commands.read("+CPIN"))
    events = engine.receive_data(
        b"AT+CP\xc9N?\r\r\n+CPIN: READY\r\n\r\nOK\r\n".replace(b"\xc9", b"x")
    )
    assert events == [
        Response(commands.read("+CPIN"), ("+CPIN: READY",), FinalResult(ResultKind.OK))
    ]


def test_a_non_ascii_command_is_refused_before_the_engine_waits() -> None:
    engine = AtEngine()
    command = commands.Command(line='AT+CPIN="١٢٣٤"', masked='AT+CPIN="****"')
    with pytest.raises(EngineStateError, match=r'AT\+CPIN="\*\*\*\*" is not ASCII') as info:
        engine.send(command)
    assert "١٢٣٤" not in str(info.value)
    assert engine.pending is None
    engine.send(commands.execute(""))  # still usable


def test_reprs_never_show_a_secret() -> None:
    command = commands.write("+CPIN", commands.secret("2468"))
    response = Response(command, (), FinalResult(ResultKind.OK))
    assert "2468" not in repr(response)
    assert "2468" not in repr(commands.secret("2468"))


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=200), max_size=40),
    pending=st.sampled_from(["none", "read", "prompt", "dial"]),
)
def test_random_bytes_never_raise_in_any_state(chunks: list[bytes], pending: str) -> None:
    engine = AtEngine(max_line=256)
    command = {
        "read": commands.read("+CREG"),
        "prompt": commands.write("+CMGS", 3, expects_prompt=True),
        "dial": commands.dial("*99#"),
    }.get(pending)
    if command is not None:
        engine.send(command)
    for chunk in chunks:
        engine.receive_data(chunk + b"\r\nCONNECT\r\n" if chunk[:1] == b"C" else chunk)
        assert len(engine._buffer) <= 256 + 200 + 11
