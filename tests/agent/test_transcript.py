"""Transcripts: record the agent against the stub in each dialect, replay, same results."""

from __future__ import annotations

import json

import pytest

from agent.at import commands
from agent.at.engine import FinalResult, ResultKind
from agent.cli import main as agent_main
from agent.modem.client import Modem
from agent.transcript import ECHO, scrub, secrets_of, wire_result
from firmware_stubs import NetworkProfile, StubModem
from firmware_stubs.replay import ReplayModem, TranscriptMismatch, replay_stub
from tests.agent.conftest import PIN, Bench
from tests.stub.test_stub_replay import record_by_hand

APN = "iot.example"
SESSION = [
    ["sim", "status", "--json"],
    ["sim", "unlock", "--json"],
    ["internet", "on", "--apn", APN, "--json"],
    ["internet", "status", "--json"],
    ["internet", "off", "--json"],
    ["net", "status", "--json"],
]


def run_session(port: str, capsys: pytest.CaptureFixture[str], *extra: str) -> list[object]:
    outputs: list[object] = []
    for argv in SESSION:
        code = agent_main(["--port", port, *extra, *argv])
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs.append(json.loads(out))
    return outputs


@pytest.mark.parametrize("dialect", ["generic", "quectel", "simcom", "ublox"])
def test_record_then_replay_gives_the_same_results(
    bench: Bench,
    dialect: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIMGATE_PIN", PIN)
    transcript = bench.tmp / "bench.jsonl"
    network = NetworkProfile(register_delay=0.0)
    with StubModem(card_path=bench.card_path, dialect=dialect, network=network) as stub:
        recorded = run_session(stub.device_path, capsys, "--record", str(transcript))
    text = transcript.read_text()
    assert PIN not in text
    assert 'AT+CPIN=\\"****\\"' in text
    assert oct(transcript.stat().st_mode & 0o777) == "0o600"
    assert text.count('"transcript": "simgate"') == len(SESSION)  # a header per run
    with replay_stub(transcript, speed=0.0) as replay:
        replayed = run_session(replay.device_path, capsys)
        assert isinstance(replay.device, ReplayModem)
        assert replay.device.remaining == 0
    assert replayed == recorded
    assert recorded[1]["state"] == "READY"  # type: ignore[index]


@pytest.mark.asyncio
async def test_a_command_the_transcript_lacks_is_an_error(bench: Bench) -> None:
    transcript = bench.tmp / "t.jsonl"
    record_by_hand(transcript)
    serving = replay_stub(transcript)
    replay = serving.__enter__()
    try:
        async with await Modem.open(replay.device_path) as modem:
            wrong = await modem.command(commands.execute("+CSQ"))
            assert wrong.result.kind is ResultKind.ERROR
            right = await modem.command(commands.read("+CPIN"))  # still next in line
            assert right.lines == ("+CPIN: SIM PIN",)
            after = await modem.command(commands.execute(""))
            assert after.result.kind is ResultKind.ERROR  # the transcript has ended
    finally:
        with pytest.raises(
            TranscriptMismatch, match=r"AT\+CSQ where the transcript has AT\+CPIN\?"
        ):
            serving.__exit__(None, None, None)


def test_transcript_scrubbing() -> None:
    pin = commands.write("+CPIN", commands.secret("2468"), commands.secret("13572468"))
    assert secrets_of(pin) == ["2468", "13572468"]
    assert secrets_of(commands.write("+CSIM", 10, commands.Quoted("0020000100"))) == []
    assert scrub('AT+CPIN="2468"', ["2468"]) == ECHO
    assert scrub("+XYZ: 2468,1", ["2468"]) == "+XYZ: ****,1"
    assert wire_result(FinalResult(ResultKind.CME_ERROR, 16)) == "+CME ERROR: 16"
    assert wire_result(FinalResult(ResultKind.CONNECT, text="150000000")) == "CONNECT 150000000"
    assert wire_result(FinalResult(ResultKind.OK)) == "OK"
