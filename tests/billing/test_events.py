"""Contracts §2: the event log's format, and every kind of bad line (exit 2 material)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from emulator.billing import EventLogError, parse_event_lines

GOOD = {"at": "2026-03-11T10:00:00+09:00", "type": "traffic", "iccid": "8981", "up": 1, "down": 2}


def lines(*rows: object) -> list[str]:
    """JSON-encode dicts; keep strings as raw lines."""
    return [row if isinstance(row, str) else json.dumps(row) for row in rows]


def error_of(*rows: object) -> EventLogError:
    """The error parsing these lines raises."""
    with pytest.raises(EventLogError) as caught:
        list(parse_event_lines(lines(*rows)))
    return caught.value


def test_contract_s2_timestamps_become_utc_whatever_the_offset() -> None:
    rows = [
        GOOD,
        {**GOOD, "at": "2026-03-11T01:00:00Z"},
        {**GOOD, "at": "2026-03-11T01:00:00.123456789+00:00"},
        {**GOOD, "at": "2026-03-10T20:00:00-05:00"},
        {**GOOD, "at": "2026-03-11 10:00:00+09:00"},
    ]
    events = list(parse_event_lines(lines(*rows)))
    assert {event.at.replace(microsecond=0) for event in events} == {
        datetime(2026, 3, 11, 1, tzinfo=UTC)
    }
    assert all(event.at.tzinfo is UTC for event in events)


def test_contract_s2_blank_lines_and_extra_fields_are_accepted() -> None:
    events = list(parse_event_lines(["\n", json.dumps({**GOOD, "note": "x"}) + "\n", "  \n"]))
    assert len(events) == 1
    assert events[0].type == "traffic"


def test_contract_s2_identifiers_may_be_numbers() -> None:
    row = {"at": GOOD["at"], "type": "gateway_created", "gateway": 113000000001}
    (event,) = parse_event_lines(lines(row))
    assert event.fields["gateway"] == "113000000001"


def test_contract_s2_bad_json_names_the_line() -> None:
    error = error_of(GOOD, "{not json")
    assert error.line_number == 2
    assert "bad JSON" in str(error)
    assert str(error).startswith("line 2:")


def test_contract_s2_unknown_type_names_the_line_and_type() -> None:
    error = error_of(GOOD, GOOD, {**GOOD, "type": "teleport"})
    assert (error.line_number, error.why) == (3, "unknown event type 'teleport'")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({k: v for k, v in GOOD.items() if k != "iccid"}, "traffic: missing field 'iccid'"),
        ({k: v for k, v in GOOD.items() if k != "at"}, "missing field 'at'"),
        ({k: v for k, v in GOOD.items() if k != "type"}, "missing field 'type'"),
        ({**GOOD, "up": -1}, "traffic: field 'up' must not be negative (got -1)"),
        ({**GOOD, "down": 1.5}, "traffic: field 'down' must be a non-negative integer"),
        ({**GOOD, "down": True}, "traffic: field 'down' must be a non-negative integer"),
        ({**GOOD, "at": "2026-02-30T10:00:00+09:00"}, "impossible timestamp"),
        ({**GOOD, "at": "2026-03-11T25:00:00Z"}, "impossible timestamp"),
        ({**GOOD, "at": "2026-03-11T10:00:00"}, "has no UTC offset"),
        ({**GOOD, "at": "yesterday"}, "is not an RFC 3339 timestamp"),
        ({**GOOD, "at": 1773187200}, "must be an RFC 3339 timestamp string"),
        ([1, 2], "not a JSON object"),
        ({"at": GOOD["at"], "type": "option_set", "option": "vpn", "subject": "x"}, "one of"),
        ({"at": GOOD["at"], "type": "sms_sent", "kind": "2fa"}, "missing field 'delivered'"),
        ({"at": GOOD["at"], "type": "payment", "invoice_month": "2026-13", "amount": 5}, "month"),
        ({"at": GOOD["at"], "type": "outage", "subject": "g"}, "exactly one of 'hours' or 'end'"),
        (
            {"at": GOOD["at"], "type": "outage", "subject": "g", "end": "2026-03-01T00:00:00Z"},
            "before",
        ),
    ],
)
def test_contract_s2_bad_fields_name_the_line_and_the_field(row: object, expected: str) -> None:
    error = error_of(GOOD, row)
    assert error.line_number == 2
    assert expected in error.why


def test_contract_s2_parsing_is_lazy_and_stops_at_the_bad_line() -> None:
    stream = parse_event_lines(lines(GOOD, "oops", GOOD))
    assert next(stream).type == "traffic"
    with pytest.raises(EventLogError):
        next(stream)
