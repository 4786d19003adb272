"""`simgate agent sms` through the console entry point, against the stub on a real pty."""

from __future__ import annotations

import datetime as dt
import json

from agent.at import commands
from agent.at.engine import AtEngine, Event, Response
from agent.sms.store import join_parts, parse_cmgl
from firmware_stubs.sms_pdu import encode_deliver
from tests.agent.conftest import Bench
from tests.agent.sim.test_cli import simgate

JST = dt.timezone(dt.timedelta(hours=9))
WHEN = dt.datetime(2026, 3, 10, 9, 0, tzinfo=JST)
LONG = "A long message that needs two parts. " * 6


def records() -> list[dict[str, object] | None]:
    slots: list[dict[str, object] | None] = [None] * 20
    hello = encode_deliver("+819011112222", "Hello [world] €5", WHEN)[0]
    slots[0] = {"stat": 1, "pdu": hello.pdu.hex().upper()}
    first, second = encode_deliver("+819033334444", LONG, WHEN, reference=42)
    slots[4] = {"stat": 0, "pdu": second.pdu.hex().upper()}  # stored out of order
    slots[2] = {"stat": 0, "pdu": first.pdu.hex().upper()}
    japanese = encode_deliver("SIMGATE", "こんにちは、世界", WHEN)[0]
    slots[7] = {"stat": 0, "pdu": japanese.pdu.hex().upper()}
    return slots


def test_list_read_delete_json(bench: Bench) -> None:
    bench.write_card(pin_enabled=False, sms=records())
    with bench.stub() as stub:
        port = ("agent", "--port", stub.device_path, "sms")
        listed = simgate(*port, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        messages = json.loads(listed.stdout)
        assert [m["id"] for m in messages] == [1, 3, 8]
        assert all(set(m) == {"id", "from", "at", "text", "parts", "status"} for m in messages)
        assert messages[0]["text"] == "Hello [world] €5"
        assert messages[0]["status"] == "read"
        assert (messages[1]["text"], messages[1]["parts"]) == (LONG, 2)
        assert messages[1]["status"] == "unread"
        assert messages[1]["at"] == "2026-03-10T09:00:00+09:00"
        assert (messages[2]["from"], messages[2]["text"]) == ("SIMGATE", "こんにちは、世界")
        read = simgate(*port, "read", "3", "--json")
        assert json.loads(read.stdout)["text"] == LONG
        deleted = simgate(*port, "delete", "3", "--json")
        assert deleted.returncode == 0, deleted.stderr
        again = json.loads(simgate(*port, "list", "--json").stdout)
        assert [m["id"] for m in again] == [1, 8]
    card = bench.card()
    assert isinstance(card["sms"], list)
    assert card["sms"][2] is None
    assert card["sms"][4] is None


def test_unknown_id_exits_4_and_bad_id_exits_2(bench: Bench) -> None:
    bench.write_card(pin_enabled=False)
    with bench.stub() as stub:
        port = ("agent", "--port", stub.device_path, "sms")
        missing = simgate(*port, "read", "5")
        bad = simgate(*port, "delete", "five")
        empty = simgate(*port, "list")
    assert missing.returncode == 4
    assert "no stored message has id 5" in missing.stderr
    assert bad.returncode == 2
    assert (empty.returncode, empty.stdout.strip()) == (0, "no messages")


def test_locked_sim_is_a_cms_error_exit_4(bench: Bench) -> None:
    with bench.stub() as stub:
        done = simgate("agent", "--port", stub.device_path, "sms", "list", "--json")
    assert done.returncode == 4
    assert "+CMS ERROR: 311" in done.stderr


def _cmgl_capture() -> bytes:
    lines = []
    for index, slot in enumerate(records(), 1):
        if slot is not None:
            pdu = str(slot["pdu"])
            lines.append(f"+CMGL: {index},{slot['stat']},,{len(pdu) // 2 - 8}")
            lines.append(pdu)
    body = "".join(f"\r\n{line}\r\n" for line in lines)
    return (body + '\r\n+CMTI: "SM",9\r\n\r\nOK\r\n').encode()


def test_cmgl_answer_split_at_every_byte_gives_the_same_messages() -> None:
    wire = _cmgl_capture()
    expected = None
    for cut in range(len(wire) + 1):
        engine = AtEngine()
        engine.send(commands.write("+CMGL", 4))
        events: list[Event] = [*engine.receive_data(wire[:cut]), *engine.receive_data(wire[cut:])]
        (response,) = [e for e in events if isinstance(e, Response)]
        assert response.result.ok
        texts = [m.text for m in join_parts(parse_cmgl(response.lines))]
        expected = expected or texts
        assert texts == expected
    assert expected is not None
    assert LONG in expected
