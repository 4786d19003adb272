"""The shared MQTT schemas: strict validators that name the bad field, and round trips."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simgate_common import wire
from simgate_common.wire import (
    MAX_PAYLOAD,
    Command,
    ErrorReport,
    Leaf,
    Op,
    StateReport,
    UsageReport,
    WireError,
)

ICCID = "89811000000000000004"
USAGE: dict[str, Any] = {
    "seq": 7,
    "iccid": ICCID,
    "imei": "356938035643809",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-01T00:05:00.250Z",
    "up": 1234,
    "down": 0,
    "source": "modem",
}
STATE: dict[str, Any] = {
    "seq": 3,
    "at": "2026-01-01T00:05:00Z",
    "sim": {"state": "READY", "iccid": ICCID, "pin_retries": 3},
    "net": {"registration": "home", "rssi_dbm": -71},
    "internet": {"active": True, "cid": 1, "apn": "sakura", "ip": "10.0.0.2"},
}
COMMAND: dict[str, Any] = {"id": "c-1", "op": "internet_on", "apn": "sakura"}
ERROR: dict[str, Any] = {"topic": f"simgate/v1/devices/{ICCID}/usage", "seq": 7, "error": "x"}

Parser = Callable[[object], object]
KINDS: list[tuple[str, Parser, dict[str, Any]]] = [
    ("usage", UsageReport.from_json, USAGE),
    ("state", StateReport.from_json, STATE),
    ("command", Command.from_json, COMMAND),
    ("error", ErrorReport.from_json, ERROR),
]


def dump(doc: object) -> bytes:
    return json.dumps(doc).encode()


def with_(base: dict[str, Any], **changes: Any) -> bytes:
    return dump({**base, **changes})


def without(base: dict[str, Any], key: str) -> bytes:
    return dump({k: v for k, v in base.items() if k != key})


def field_of(parse: Parser, data: bytes) -> str:
    with pytest.raises(WireError) as caught:
        parse(data)
    assert caught.value.field in str(caught.value)
    return caught.value.field


# --- round trips --------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "parse", "doc"), KINDS, ids=[k[0] for k in KINDS])
def test_round_trip_is_exact_and_compact(kind: str, parse: Parser, doc: dict[str, Any]) -> None:
    parsed = parse(dump(doc))
    encoded = parsed.to_json()  # type: ignore[attr-defined]
    assert json.loads(encoded) == doc
    assert b", " not in encoded
    assert b": " not in encoded
    assert parse(encoded) == parsed


@pytest.mark.parametrize(
    ("start", "stored"),
    [
        ("2026-01-01T00:00:00+09:00", "2025-12-31T15:00:00Z"),
        ("2026-01-01T09:00:00.5+09:00", "2026-01-01T00:00:00.500000Z"),
        ("2026-01-01t00:00:00-00:00", "2026-01-01T00:00:00Z"),
        ("2025-12-31T22:30:00-01:30", "2026-01-01T00:00:00Z"),
    ],
)
def test_contracts_s3_times_take_any_rfc3339_offset_and_keep_utc(start: str, stored: str) -> None:
    report = UsageReport.from_json(dump(USAGE | {"start": start}))
    assert report.start == stored
    assert UsageReport.from_json(report.to_json()) == report
    state = StateReport.from_json(dump(STATE | {"at": start}))
    assert state.at == stored


def test_usage_fields_and_order() -> None:
    report = UsageReport.from_json(dump(USAGE))
    assert report.seq == 7
    assert report.up == 1234
    assert list(json.loads(report.to_json())) == list(USAGE)


def test_utf8_is_kept_not_escaped() -> None:
    error = ErrorReport("topic", None, "不正なペイロード")
    assert "不正".encode() in error.to_json()
    assert ErrorReport.from_json(error.to_json()) == error


def test_command_keeps_extra_keys_and_op_is_an_enum() -> None:
    command = Command.from_json(dump(COMMAND))
    assert command.op is Op.INTERNET_ON
    assert command.extra == {"apn": "sakura"}
    assert Command("c-2", Op.REPORT_NOW).to_json() == b'{"id":"c-2","op":"report_now"}'


def test_unknown_keys_are_ignored_for_forward_compatibility() -> None:
    assert UsageReport.from_json(with_(USAGE, future=1)) == UsageReport.from_json(dump(USAGE))


def test_usage_imei_may_be_null() -> None:
    assert UsageReport.from_json(with_(USAGE, imei=None)).imei is None


def test_error_seq_may_be_null() -> None:
    assert ErrorReport.from_json(with_(ERROR, seq=None)).seq is None


def test_status_payloads() -> None:
    assert wire.status_payload(True) == b'"online"'
    assert wire.status_payload(False) == b'"offline"'
    assert wire.parse_status(b'"online"') is True
    assert wire.parse_status(b"offline") is False
    for bad in (b'"maybe"', b"1", b"\xff", b"", "online"):
        with pytest.raises(WireError):
            wire.parse_status(bad)


# --- rejections ---------------------------------------------------------------------

USAGE_BAD = [
    ("seq", "7"),
    ("seq", 0),
    ("seq", -1),
    ("seq", True),
    ("seq", 1.5),
    ("seq", 2**63),
    ("iccid", 89811000000000000004),
    ("iccid", "8981"),
    ("iccid", "89811000000000000+04"),
    ("iccid", "89811000000000/00004"),
    ("iccid", "8981100000000000000a"),
    ("imei", 356938035643809),
    ("imei", "35693803564380X"),
    ("start", "2026-01-01 00:00:00"),
    ("start", "2026-01-01T00:00:00+24:00"),
    ("start", "2026-01-01T00:00:00+0900"),
    ("start", "0001-01-01T00:00:00+09:00"),
    ("start", "2026-02-30T00:00:00Z"),
    ("start", 1767225600),
    ("end", "2025-12-31T23:59:59Z"),
    ("up", -1),
    ("up", "1"),
    ("up", None),
    ("up", 1e3),
    ("down", -5),
    ("down", [1]),
    ("source", ""),
    ("source", "Modem"),
    ("source", 3),
]


@pytest.mark.parametrize(("key", "value"), USAGE_BAD)
def test_usage_rejects_bad_values_naming_the_field(key: str, value: object) -> None:
    assert field_of(UsageReport.from_json, with_(USAGE, **{key: value})) == key


@pytest.mark.parametrize(("kind", "parse", "doc"), KINDS, ids=[k[0] for k in KINDS])
def test_every_required_key_is_required(kind: str, parse: Parser, doc: dict[str, Any]) -> None:
    required = [k for k in doc if kind != "command" or k in ("id", "op")]
    for key in required:
        assert field_of(parse, without(doc, key)) == key


STATE_BAD = [
    ("seq", 0),
    ("at", "yesterday"),
    ("sim", None),
    ("net", []),
    ("internet", "up"),
]


@pytest.mark.parametrize(("key", "value"), STATE_BAD)
def test_state_rejects_bad_values(key: str, value: object) -> None:
    assert field_of(StateReport.from_json, with_(STATE, **{key: value})) == key


COMMAND_BAD = [
    ("id", ""),
    ("id", 5),
    ("id", "has space"),
    ("id", "x" * 65),
    ("op", "reboot"),
    ("op", None),
    ("op", ["internet_on"]),
]


@pytest.mark.parametrize(("key", "value"), COMMAND_BAD)
def test_command_rejects_bad_values(key: str, value: object) -> None:
    assert field_of(Command.from_json, with_(COMMAND, **{key: value})) == key


ERROR_BAD = [("topic", ""), ("topic", 1), ("seq", -3), ("seq", "1"), ("error", ""), ("error", {})]


@pytest.mark.parametrize(("key", "value"), ERROR_BAD)
def test_error_report_rejects_bad_values(key: str, value: object) -> None:
    assert field_of(ErrorReport.from_json, with_(ERROR, **{key: value})) == key


PAYLOAD_BAD = [
    b"",
    b"\xff\xfe{}",
    b'{"seq": 1',
    b"[]",
    b'"text"',
    b"null",
    b'{"seq": NaN}',
    b'{"seq": Infinity}',
    b'{"up": 1e999}',
    b"[" * 5000 + b"]" * 5000,
    b"1" * 5000,
    b'{"a":' + b" " * MAX_PAYLOAD + b"1}",
]


@pytest.mark.parametrize(("kind", "parse", "doc"), KINDS, ids=[k[0] for k in KINDS])
@pytest.mark.parametrize("data", PAYLOAD_BAD, ids=range(len(PAYLOAD_BAD)))
def test_bad_payloads_are_rejected_as_payload(
    kind: str, parse: Parser, doc: dict[str, Any], data: bytes
) -> None:
    assert field_of(parse, data) == "payload"


@pytest.mark.parametrize(("kind", "parse", "doc"), KINDS, ids=[k[0] for k in KINDS])
def test_non_bytes_and_oversized_payloads(kind: str, parse: Parser, doc: dict[str, Any]) -> None:
    assert field_of(parse, json.dumps(doc)) == "payload"  # type: ignore[arg-type]
    assert field_of(parse, None) == "payload"  # type: ignore[arg-type]
    padded = dump({**doc, "pad": "x" * MAX_PAYLOAD})
    with pytest.raises(WireError, match="over the 16384-byte limit"):
        parse(padded)


def test_duplicate_keys_are_rejected_naming_the_key() -> None:
    data = b'{"seq":1,"seq":2,' + dump(USAGE)[1:]
    assert field_of(UsageReport.from_json, data) == "seq"


def test_non_utf8_is_rejected_with_its_position() -> None:
    data = dump(USAGE).replace(b"modem", b"mod\xe9m")
    with pytest.raises(WireError, match=r"payload: is not UTF-8 \(byte \d+\)"):
        UsageReport.from_json(data)


def test_constructors_validate_too() -> None:
    with pytest.raises(WireError, match="down"):
        UsageReport(1, ICCID, None, USAGE["start"], USAGE["end"], 1, -1, "modem")
    with pytest.raises(WireError, match="payload"):
        StateReport(1, STATE["at"], {"blob": "x" * MAX_PAYLOAD}, {}, {}).to_json()
    with pytest.raises(WireError, match="id"):
        Command("c", Op.REPORT_NOW, {"id": "again"})


# --- topics and times ---------------------------------------------------------------


def test_topics() -> None:
    assert wire.topic_root(ICCID) == f"simgate/v1/devices/{ICCID}"
    assert wire.usage_topic(ICCID) == f"simgate/v1/devices/{ICCID}/usage"
    assert wire.state_topic(ICCID).endswith("/state")
    assert wire.status_topic(ICCID).endswith("/status")
    assert wire.commands_topic(ICCID).endswith("/commands")
    assert wire.errors_topic(ICCID).endswith("/errors")
    assert wire.parse_topic(wire.usage_topic(ICCID)) == (ICCID, Leaf.USAGE)
    assert wire.DEVICE_WILDCARD == "simgate/v1/devices/+/+"


@pytest.mark.parametrize(
    "name",
    [
        "simgate/v1/devices/89811000000000000004",
        "simgate/v1/devices/89811000000000000004/usage/x",
        "simgate/v2/devices/89811000000000000004/usage",
        "simgate/v1/devices/+/usage",
        "simgate/v1/devices/89811000000000000004/reboot",
        "",
    ],
)
def test_parse_topic_rejects_other_topics(name: str) -> None:
    assert field_of(wire.parse_topic, name) == "topic"  # type: ignore[arg-type]


@pytest.mark.parametrize("iccid", ["8981/", "+", "#", "", "8981100000000000000400000"])
def test_topic_root_refuses_unsafe_iccids(iccid: str) -> None:
    with pytest.raises(WireError, match="iccid"):
        wire.topic_root(iccid)


def test_times() -> None:
    moment = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert wire.format_time(moment) == "2026-01-31T23:59:59Z"
    tokyo = moment.astimezone(timezone(timedelta(hours=9)))
    assert wire.format_time(tokyo) == "2026-01-31T23:59:59Z"
    precise = moment.replace(microsecond=5)
    assert wire.parse_time(wire.format_time(precise)) == precise
    assert wire.parse_time("2026-01-31T23:59:59+00:00") == moment
    with pytest.raises(WireError, match="timezone-aware"):
        wire.format_time(datetime(2026, 1, 1))


# --- properties ---------------------------------------------------------------------

PARSERS: list[Parser] = [
    UsageReport.from_json,
    StateReport.from_json,
    Command.from_json,
    ErrorReport.from_json,
    wire.parse_status,
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_wire_error(data: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(WireError):
            parse(data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={key: st.just(value) | _JSON for key, value in base.items()},
    )


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(KINDS).flatmap(lambda k: st.tuples(st.just(k), _mutations(k[2]))))
def test_mutated_documents_parse_and_round_trip_or_raise_wire_error(
    case: tuple[tuple[str, Parser, dict[str, Any]], dict[str, Any]],
) -> None:
    (_, parse, _), doc = case
    try:
        data = json.dumps(doc).encode()
    except ValueError:
        return
    try:
        parsed = parse(data)
    except WireError:
        return
    assert parse(parsed.to_json()) == parsed  # type: ignore[attr-defined]
