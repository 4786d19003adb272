"""The `sms` payload (contracts §3): strict both ways, like the other wire payloads."""

from __future__ import annotations

import json

import pytest

from simgate_common import wire
from simgate_common.wire import MAX_SMS_TEXT, SmsReport, WireError

ICCID = "89811000000000000004"
GOOD = {
    "seq": 1,
    "from": "+819011112222",
    "at": "2026-03-10T09:00:00+09:00",
    "text": "hi",
    "parts": 1,
}


def test_round_trip_keeps_contract_order_and_utc() -> None:
    report = SmsReport.from_json(json.dumps(GOOD).encode())
    assert report.at == "2026-03-10T00:00:00Z"
    assert list(json.loads(report.to_json())) == ["seq", "from", "at", "text", "parts"]
    assert SmsReport.from_json(report.to_json()) == report
    assert wire.parse_topic(wire.sms_topic(ICCID)) == (ICCID, wire.Leaf.SMS)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"from": ""}, "from"),
        ({"from": "x" * 33}, "from"),
        ({"from": "a\nb"}, "from"),
        ({"at": "yesterday"}, "at"),
        ({"at": "2026-03-10T09:00:00"}, "at"),
        ({"text": None}, "text"),
        ({"text": "x" * (MAX_SMS_TEXT + 1)}, "text"),
        ({"parts": 0}, "parts"),
        ({"parts": 256}, "parts"),
        ({"parts": "1"}, "parts"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(WireError) as caught:
        SmsReport.from_json(json.dumps({**GOOD, **change}).encode())
    assert caught.value.field == field


@pytest.mark.parametrize("missing", ["seq", "from", "at", "text", "parts"])
def test_a_missing_key_is_named(missing: str) -> None:
    doc = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(WireError, match=missing):
        SmsReport.from_json(json.dumps(doc).encode())


def test_duplicate_keys_and_non_json_are_refused() -> None:
    with pytest.raises(WireError):
        SmsReport.from_json(
            b'{"seq":1,"seq":2,"from":"x","at":"2026-03-10T00:00:00Z","text":"","parts":1}'
        )
    with pytest.raises(WireError):
        SmsReport.from_json(b"\xff")
    assert SmsReport(1, "x", "2026-03-10T00:00:00Z", "", 1).text == ""  # an empty SMS is one
