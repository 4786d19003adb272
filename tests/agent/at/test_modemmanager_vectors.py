"""The engine's final results and the ICCID parser held to ModemManager's facts.

Final results: what `src/mm-serial-parsers.c` accepts (27.007's and the vendor words),
each fed split at every byte. ICCIDs: the inputs and outputs of ModemManager's
`src/tests/test-modem-helpers.c` (`test_iccid_parse_*`). Retry counters: `AT+CSIM` VERIFY
and UNBLOCK with no data, as ModemManager's generic modem reads them, on a stub module
that knows neither `+CPINR` nor a vendor command.
"""

from __future__ import annotations

from types import MappingProxyType

import pytest

from agent.at import commands
from agent.at.commands import Command
from agent.at.engine import AtEngine, Event, FinalResult, Response, ResultKind, Urc
from agent.at.errors import ResponseParseError
from agent.at.iccid import validate_iccid
from agent.at.responses import parse_iccid
from agent.dialects import GENERIC
from agent.dialects.sim_reads import SimReads
from agent.modem.client import Modem
from firmware_stubs import StubModem
from firmware_stubs.at_syntax import CommandError
from firmware_stubs.dialects import Dialect
from firmware_stubs.replies import CommandSpec
from tests.agent.conftest import Bench


def every_split(wire: bytes, command: Command) -> list[list[Event]]:
    """The events of `wire` fed in two pieces, cut at every position."""
    runs = []
    for cut in range(len(wire) + 1):
        engine = AtEngine()
        engine.send(command)
        runs.append([*engine.receive_data(wire[:cut]), *engine.receive_data(wire[cut:])])
    return runs


FINALS = [
    (b"\r\nOK\r\n", FinalResult(ResultKind.OK)),
    (b"\r\nERROR\r\n", FinalResult(ResultKind.ERROR)),
    (b"\r\n+CME ERROR: 10\r\n", FinalResult(ResultKind.CME_ERROR, 10)),
    (
        b"\r\n+CME ERROR: SIM not inserted\r\n",
        FinalResult(ResultKind.CME_ERROR, 10, "SIM not inserted"),
    ),
    (b"\r\n+CMS ERROR: 322\r\n", FinalResult(ResultKind.CMS_ERROR, 322)),
    (b"\r\nNO CARRIER\r\n", FinalResult(ResultKind.NO_CARRIER)),
    (b"\r\nBUSY\r\n", FinalResult(ResultKind.BUSY)),
    (b"\r\nNO ANSWER\r\n", FinalResult(ResultKind.NO_ANSWER)),
    (b"\r\nNO DIALTONE\r\n", FinalResult(ResultKind.NO_DIALTONE)),
    # vendor words of mm-serial-parsers.c
    (b"\r\nCOMMAND NOT SUPPORT\r\n", FinalResult(ResultKind.ERROR, text="COMMAND NOT SUPPORT")),
    (b"\r\nMODEM ERROR: 2\r\n", FinalResult(ResultKind.CME_ERROR, 100, "MODEM ERROR: 2")),
    (b"\r\nNA\r\n", FinalResult(ResultKind.CME_ERROR, 3, "NA")),
    (b"\r\nERROR: 5\r\n", FinalResult(ResultKind.ERROR, text="5")),
]


@pytest.mark.parametrize(("wire", "expected"), FINALS)
def test_modemmanager_final_results_end_the_command(wire: bytes, expected: FinalResult) -> None:
    line = b"\r\n+CSQ: 20,99\r\n" + wire
    for events in every_split(line, commands.execute("+CSQ")):
        (response,) = events
        assert isinstance(response, Response)
        assert response.lines == ("+CSQ: 20,99",)
        assert response.result == expected


@pytest.mark.parametrize("word", ["ABORTED", "NOT SUPPORTED", "SIM ERROR: 7", "FAIL"])
def test_an_unknown_final_word_ends_a_command_instead_of_its_timeout(word: str) -> None:
    wire = f"\r\n{word}\r\n".encode()
    for events in every_split(wire, commands.execute("+CPINR")):
        (response,) = events
        assert isinstance(response, Response)
        assert response.result == FinalResult(ResultKind.ERROR, text=word)
        assert not response.result.ok


def test_bare_answers_and_known_bare_urcs_are_not_taken_for_final_words() -> None:
    wire = b"\r\nSIMCOM INCORPORATED\r\n\r\nOK\r\n"
    for events in every_split(wire, commands.execute("+CGMI")):
        (response,) = events
        assert isinstance(response, Response)
        assert response.lines == ("SIMCOM INCORPORATED",)
    wire = b"\r\nSMS DONE\r\n\r\n+CSQ: 9,99\r\n\r\nOK\r\n"
    for events in every_split(wire, commands.execute("+CSQ")):
        assert events[0] == Urc("SMS DONE")
        assert isinstance(events[1], Response)
        assert events[1].result.ok


MM_ICCIDS = [
    ('"984402003576012594F9"', "8944200053671052499"),
    ("98231420326409614067", "89324102234690160476"),
    ("8944200053671052499F", "8944200053671052499"),
    ("8944200053671052499", "8944200053671052499"),
    ('"89324102234690160476"', "89324102234690160476"),
    ('"898602F9091830030220"', "898602F9091830030220"),
    ('"898602C0123456789012"', "898602C0123456789012"),
]
MM_BAD_ICCIDS = [
    "982314203264096",
    "98231420326pl9614067",
    '"0044200053671052499"',
    "0044200053671052499",
]


@pytest.mark.parametrize(("raw", "iccid"), MM_ICCIDS)
def test_modemmanager_iccid_vectors(raw: str, iccid: str) -> None:
    assert validate_iccid(raw) == iccid
    assert parse_iccid([f"+CCID: {raw}"]).iccid == iccid


@pytest.mark.parametrize("raw", MM_BAD_ICCIDS)
def test_modemmanager_refuses_these_iccids(raw: str) -> None:
    with pytest.raises(ValueError, match=r"ICCID|issuer"):
        validate_iccid(raw)
    with pytest.raises(ResponseParseError):
        parse_iccid([f"+ICCID: {raw}"])


def test_a_non_telecom_issuer_is_refused_not_reported_as_the_iccid() -> None:
    with pytest.raises(ResponseParseError, match="not a telecom one"):
        parse_iccid(["+QCCID: 1234567890123456789"])


def _unknown(state: object, cmd: object) -> object:
    raise CommandError("unknown command")


NO_CPINR = Dialect(
    name="nocpinr",
    manufacturer="simgate",
    model="Stub without +CPINR",
    revision="1",
    imei="490154203237518",
    commands=MappingProxyType({"+CPINR": CommandSpec(_unknown)}),  # type: ignore[arg-type]
)


@pytest.mark.asyncio
async def test_retries_come_from_csim_when_there_is_no_cpinr(bench: Bench) -> None:
    bench.write_card(pin_retries=2, puk_retries=9)
    with StubModem(card_path=bench.card_path, dialect=NO_CPINR) as stub:
        async with await Modem.open(stub.device_path) as modem:
            sent: list[str] = []

            async def run(command: Command) -> Response:
                sent.append(command.masked)
                return await modem.command(command)

            assert await SimReads(run, GENERIC).retries() == (2, 9)
    assert sent == ["AT+CPINR", 'AT+CSIM=10,"0020000100"', 'AT+CSIM=10,"002C000100"']
