"""The sans-I/O engine against captured exchanges, each fed whole, in halves, byte by byte."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.at import commands
from agent.at.commands import Command
from agent.at.engine import (
    AtEngine,
    Data,
    Event,
    FinalResult,
    Garbage,
    LateResult,
    Prompt,
    Reboot,
    Response,
    ResultKind,
    State,
    Urc,
)
from agent.at.errors import EngineStateError


def whole(data: bytes) -> Iterator[bytes]:
    yield data


def halves(data: bytes) -> Iterator[bytes]:
    middle = len(data) // 2
    yield data[:middle]
    yield data[middle:]


def bytewise(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


SPLITS = [whole, halves, bytewise]
Splitter = Callable[[bytes], Iterator[bytes]]


def run(
    command: Command | None, wire: bytes, split: Splitter, engine: AtEngine | None = None
) -> list[Event]:
    engine = engine or AtEngine()
    if command is not None:
        engine.send(command)
    events: list[Event] = []
    for chunk in split(wire):
        events += engine.receive_data(chunk)
    return events


def only_response(events: list[Event]) -> Response:
    responses = [e for e in events if isinstance(e, Response)]
    assert len(responses) == 1, events
    return responses[0]


@pytest.mark.parametrize("split", SPLITS)
def test_echo_on_answer_is_a_response_without_the_echo(split: Splitter) -> None:
    events = run(commands.read("+CPIN"), b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n", split)
    response = only_response(events)
    assert response.lines == ("+CPIN: READY",)
    assert response.result == FinalResult(ResultKind.OK)
    assert events == [response]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "wire",
    [
        b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n",  # echo off, \r\n
        b"+CSQ: 20,99\r\r\nOK\r\r\n",  # \r\r\n endings (seen on some Telit firmware)
        b"+CSQ: 20,99\nOK\n",  # bare \n
    ],
)
def test_line_endings_all_give_the_same_answer(wire: bytes, split: Splitter) -> None:
    response = only_response(run(commands.execute("+CSQ"), wire, split))
    assert response.lines == ("+CSQ: 20,99",)
    assert response.result.ok


@pytest.mark.parametrize("split", SPLITS)
def test_same_prefix_is_response_while_pending_and_urc_when_idle(split: Splitter) -> None:
    engine = AtEngine()
    assert run(None, b'\r\n+CREG: 1,"00C3","A1B2"\r\n', split, engine) == [
        Urc('+CREG: 1,"00C3","A1B2"')
    ]
    events = run(
        commands.read("+CREG"), b'\r\n+CREG: 2,1,"00C3","A1B2"\r\n\r\nOK\r\n', split, engine
    )
    assert only_response(events).lines == ('+CREG: 2,1,"00C3","A1B2"',)
    assert not [e for e in events if isinstance(e, Urc)]


@pytest.mark.parametrize("split", SPLITS)
def test_urc_between_answer_and_ok_stays_a_urc(split: Splitter) -> None:
    wire = b"\r\n+CPIN: READY\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n"
    events = run(commands.read("+CPIN"), wire, split)
    assert events[0] == Urc("+CEREG: 1")
    assert only_response(events).lines == ("+CPIN: READY",)


@pytest.mark.parametrize("split", SPLITS)
def test_bare_lines_belong_to_the_command(split: Splitter) -> None:
    wire = b"ATI\r\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n"
    response = only_response(run(commands.execute("I"), wire, split))
    assert response.lines == ("Quectel", "EC25", "Revision: EC25EFAR06A06M4G")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("+CME ERROR: 16", FinalResult(ResultKind.CME_ERROR, 16)),
        (
            "+CME ERROR: incorrect password",
            FinalResult(ResultKind.CME_ERROR, 16, "incorrect password"),
        ),
        ("+CME ERROR: SIM PIN required", FinalResult(ResultKind.CME_ERROR, 11, "SIM PIN required")),
        ("+CMS ERROR: 500", FinalResult(ResultKind.CMS_ERROR, 500)),
        ("ERROR", FinalResult(ResultKind.ERROR)),
        ("NO CARRIER", FinalResult(ResultKind.NO_CARRIER)),
        ("BUSY", FinalResult(ResultKind.BUSY)),
        ("NO ANSWER", FinalResult(ResultKind.NO_ANSWER)),
        ("NO DIALTONE", FinalResult(ResultKind.NO_DIALTONE)),
    ],
)
@pytest.mark.parametrize("split", SPLITS)
def test_final_results(line: str, expected: FinalResult, split: Splitter) -> None:
    wire = b"\r\n" + line.encode() + b"\r\n"
    response = only_response(run(commands.write("+CPIN", commands.secret("1111")), wire, split))
    assert response.result == expected
    assert response.lines == ()
    assert not response.result.ok


def test_unknown_verbose_cme_text_keeps_its_text() -> None:
    result = only_response(
        run(commands.read("+CPIN"), b"\r\n+CME ERROR: frobnicated\r\n", whole)
    ).result
    assert result == FinalResult(ResultKind.CME_ERROR, None, "frobnicated")


@pytest.mark.parametrize("split", SPLITS)
def test_connect_enters_data_mode_and_passes_bytes_through(split: Splitter) -> None:
    engine = AtEngine()
    wire = b"\r\nCONNECT 150000000\r\n~\x7d\x23\xc0\x21OK\r\n"
    events = run(commands.dial("*99***1#"), wire, split, engine)
    response = only_response(events)
    assert response.result == FinalResult(ResultKind.CONNECT, text="150000000")
    assert response.result.ok
    assert engine.in_data_mode
    assert b"".join(e.data for e in events if isinstance(e, Data)) == b"~\x7d\x23\xc0\x21OK\r\n"
    engine.leave_data_mode()
    assert not engine.in_data_mode
    assert engine.pending is None


@pytest.mark.parametrize("split", SPLITS)
def test_prompt_then_payload_then_result(split: Splitter) -> None:
    engine = AtEngine()
    command = commands.write("+CMGS", 12, expects_prompt=True)
    events = run(command, b"\r\n> ", split, engine)
    assert events == [Prompt()]
    assert engine.send_payload(b"0011") == b"0011\x1a"
    response = only_response(run(None, b"\r\n+CMGS: 7\r\n\r\nOK\r\n", split, engine))
    assert response.lines == ("+CMGS: 7",)


@pytest.mark.parametrize("split", SPLITS)
def test_reboot_banner_mid_command_abandons_it(split: Splitter) -> None:
    engine = AtEngine()
    command = commands.read("+COPS")
    events = run(command, b"AT+COPS?\r\r\n\r\nRDY\r\n\r\n+CPIN: SIM PIN\r\n", split, engine)
    assert events == [Reboot("RDY", command), Urc("+CPIN: SIM PIN")]
    assert engine.state is State.IDLE
    assert engine.pending is None


def test_numeric_result_codes_after_atv0() -> None:
    engine = AtEngine()
    assert only_response(run(commands.execute("V0"), b"ATV0\r0\r", whole, engine)).result.ok
    response = only_response(run(commands.execute("+CSQ"), b"+CSQ: 9,99\r\n4\r", whole, engine))
    assert response.result.kind is ResultKind.ERROR
    assert response.lines == ("+CSQ: 9,99",)
    assert only_response(run(commands.execute("V1"), b"\r\nOK\r\n", whole, engine)).result.ok
    # verbose again: a bare "0" line is now an information line, not OK
    response = only_response(run(commands.execute("+CGATT"), b"0\r\nOK\r\n", whole, engine))
    assert response.lines == ("0",)


@pytest.mark.parametrize("split", SPLITS)
def test_garbage_and_non_utf8_lines_are_reported_not_raised(split: Splitter) -> None:
    wire = b"\xff\xfe\x80junk\r\n\x01\x02\r\n+CSQ: 20,99\r\nOK\r\n"
    events = run(commands.execute("+CSQ"), wire, split)
    assert [e for e in events if isinstance(e, Garbage)] == [
        Garbage(b"\xff\xfe\x80junk"),
        Garbage(b"\x01\x02"),
    ]
    assert only_response(events).lines == ("+CSQ: 20,99",)


def test_overlong_line_is_dropped_whole_and_memory_stays_bounded() -> None:
    engine = AtEngine(max_line=64)
    engine.send(commands.execute("+CSQ"))
    events: list[Event] = []
    for _ in range(1000):
        events += engine.receive_data(b"x" * 50)
        assert len(engine._buffer) <= 64 + 50
    events += engine.receive_data(b"tail\r\n+CSQ: 1,2\r\nOK\r\n")
    assert [type(e) for e in events] == [Garbage, Response]
    assert only_response(events).lines == ("+CSQ: 1,2",)


def test_one_command_in_flight() -> None:
    engine = AtEngine()
    engine.send(commands.read("+CPIN"))
    with pytest.raises(EngineStateError, match=r"cannot send while awaiting \(AT\+CPIN\?\)"):
        engine.send(commands.read("+CSQ"))


def test_abandoned_command_owes_a_final_result_that_is_not_the_next_ones() -> None:
    engine = AtEngine()
    engine.send(commands.read("+COPS"))
    engine.receive_data(b'\r\n+COPS: 0,0,"NTT DOC')
    assert engine.abandon() == commands.read("+COPS")
    engine.send(commands.execute(""))
    # the fragment was dropped; the late OK belongs to +COPS?, the next one to AT
    assert engine.receive_data(b"\r\nOK\r\n") == [LateResult(FinalResult(ResultKind.OK))]
    assert only_response(engine.receive_data(b"\r\nOK\r\n")).command == commands.execute("")


def test_forgive_stops_waiting_for_an_answer_that_never_came() -> None:
    engine = AtEngine()
    engine.send(commands.read("+CSQ"))
    engine.abandon()
    engine.forgive()
    engine.send(commands.execute(""))
    assert only_response(engine.receive_data(b"\r\nOK\r\n")).result.ok


def test_reboot_cancels_what_abandoned_commands_owed() -> None:
    engine = AtEngine()
    engine.send(commands.read("+CSQ"))
    engine.abandon()
    assert engine.receive_data(b"\r\nRDY\r\n") == [Reboot("RDY", None)]
    engine.send(commands.execute(""))
    assert only_response(engine.receive_data(b"\r\nOK\r\n")).result.ok


def test_echo_of_a_secret_is_dropped() -> None:
    response = only_response(
        run(commands.write("+CPIN", commands.secret("1234")), b'AT+CPIN="1234"\r\r\nOK\r\n', whole)
    )
    assert response.lines == ()


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=200), max_size=40),
    pending=st.booleans(),
)
def test_random_bytes_never_raise_and_stay_bounded(chunks: list[bytes], pending: bool) -> None:
    engine = AtEngine(max_line=256)
    if pending:
        engine.send(commands.read("+CREG"))
    for chunk in chunks:
        engine.receive_data(chunk)
        assert len(engine._buffer) <= 256 + 200


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.sampled_from(
            ["+CREG: 1", "+CSQ: 20,99", "RING", "+CPIN: READY", "Quectel", "+QIND: SMS DONE"]
        ),
        max_size=6,
    ),
    cut=st.integers(min_value=0, max_value=400),
)
def test_any_split_point_gives_the_same_events(lines: list[str], cut: int) -> None:
    wire = b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines) + b"\r\nOK\r\n"
    cut = min(cut, len(wire))
    a = run(commands.read("+CPIN"), wire, whole)
    b = run(commands.read("+CPIN"), wire, lambda d: iter((d[:cut], d[cut:])))
    assert a == b


@pytest.mark.parametrize("urc", ["RING", "Call Ready", "SMS Ready", "SMS DONE", "PB DONE"])
def test_bare_urcs_while_a_command_is_pending_are_not_its_answer(urc: str) -> None:
    wire = b"\r\n" + urc.encode() + b"\r\n\r\n440101234567890\r\n\r\nOK\r\n"
    events = run(commands.execute("+CIMI"), wire, whole)
    assert events[0] == Urc(urc)
    assert only_response(events).lines == ("440101234567890",)
