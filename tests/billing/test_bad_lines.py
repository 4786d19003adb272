"""`simgate bill` on hostile event logs (issue 13, contracts §2): every bad line is exit 2
naming the line, never a traceback; quantities are bounded as the emulator bounds them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.billing import parse_event_lines
from emulator.billing.errors import EventLogError
from emulator.billing.events import MAX_AMOUNT, MAX_BYTES, MAX_COUNT
from tests.billing.test_cli import bill

ICCID = "8981100000000000010"
GOOD = {"at": "2026-03-11T10:00:00+09:00", "type": "sim_registered", "iccid": ICCID}


def traffic(**fields: object) -> dict[str, object]:
    return {"at": "2026-03-11T10:00:00+09:00", "type": "traffic", "iccid": ICCID,
            "up": 1, "down": 2, **fields}  # fmt: skip


BAD_LINES = {
    "year_9999_at": json.dumps({**GOOD, "at": "9999-12-31T23:59:59-09:00"}),
    "year_9999_at_utc": json.dumps({**GOOD, "at": "9999-12-31T23:59:59Z"}),
    "year_0001_at": json.dumps({**GOOD, "at": "0001-01-01T00:00:00+09:00"}),
    "year_9999_traffic_fast_path": json.dumps(traffic(at="9999-12-31T23:59:59Z")),
    "deeply_nested": "[" * 100_000 + "]" * 100_000,
    "deeply_nested_object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "bytes_beyond_2_63": json.dumps(traffic(up=2**64)),
    "bytes_over_the_network_bound": json.dumps(traffic(down=MAX_BYTES + 1)),
    "device_usage_beyond_2_63": json.dumps({**traffic(up=MAX_COUNT + 1), "type": "device_usage"}),
    "payment_over_the_bound": json.dumps(
        {
            "at": "2026-03-11T10:00:00+09:00",
            "type": "payment",
            "invoice_month": "2026-02",
            "amount": MAX_AMOUNT + 1,
        }
    ),
    "payment_for_month_9999": json.dumps(
        {
            "at": "2026-03-11T10:00:00+09:00",
            "type": "payment",
            "invoice_month": "9999-12",
            "amount": 1,
        }
    ),
    "outage_hours_nan": '{"at": "2026-03-11T10:00:00+09:00", "type": "outage", '
    '"subject": "x", "hours": NaN}',
    "outage_hours_infinite": '{"at": "2026-03-11T10:00:00+09:00", "type": "outage", '
    '"subject": "x", "hours": Infinity}',
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bill_bad_line_is_exit_2_naming_the_line(tmp_path: Path, case: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(GOOD) + "\n" + BAD_LINES[case] + "\n")
    done = bill("--events", events, "--month", "2026-03", "--json")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "line 2" in done.stderr, done.stderr


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_names_the_line_in_the_library_too(case: str) -> None:
    with pytest.raises(EventLogError) as caught:
        list(parse_event_lines([json.dumps(GOOD), BAD_LINES[case]]))
    assert caught.value.line_number == 2


@pytest.mark.parametrize("month", ["0000-01", "9999-12"])
def test_bill_month_outside_the_supported_years_is_exit_2(tmp_path: Path, month: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(GOOD) + "\n")
    done = bill("--events", events, "--month", month)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert month in done.stderr


def test_bytes_at_the_bound_are_priced(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = [GOOD, traffic(up=MAX_BYTES, down=0)]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = bill("--events", events, "--month", "2026-03", "--json")
    assert done.returncode == 0, done.stderr
    data = [x for x in json.loads(done.stdout)["lines"] if x["item"] == "data"]
    assert data[0]["quantity"] == MAX_BYTES
