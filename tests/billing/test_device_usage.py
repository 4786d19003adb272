"""The estimated data fee: `device_usage` events (device reports over MQTT) bill a SIM-month
only when the network measured nothing for it (service rules §1.3.3), marked estimated."""

from __future__ import annotations

import pytest

from emulator.billing import Event, EventLogError, Invoice, parse_event_lines
from emulator.billing.render import invoice_table
from tests.billing.builders import ICCID, ICCID2, amounts, comm, ev, price, reg, tariff


def dev(when: str, iccid: str = ICCID, up: int = 1_000_000, down: int = 1_000_000) -> Event:
    """A device-reported usage record."""
    return ev("device_usage", when, iccid=iccid, up=up, down=down, seq=1)


def line(invoice: Invoice, item: str, subject: str = ICCID) -> dict[str, object]:
    lines = invoice.to_json()["lines"]
    assert isinstance(lines, list)
    found = [x for x in lines if x["item"] == item and x["subject"] == subject]
    assert len(found) == 1, lines
    result: dict[str, object] = found[0]
    return result


def test_001_s38_1_data_fee_from_device_reports_is_estimated() -> None:
    invoice = price([reg("2026-03-01"), dev("2026-03-10"), dev("2026-03-20")], "2026-03")
    data = line(invoice, "data")
    assert data["quantity"] == 4_000_000
    assert data["amount"] == 22  # 4 MB x 5.5 yen
    assert data["estimated"] is True
    assert "reported by the device" in str(data["reason"])
    assert "estimated" in str(data["reason"])
    basic = line(invoice, "sim_basic")
    assert basic["estimated"] is True
    assert "estimated" in str(basic["reason"])


def test_001_s38_1_network_measurement_wins_over_device_reports() -> None:
    events = [reg("2026-03-01"), comm("2026-03-05", up=500, down=500), dev("2026-03-10")]
    invoice = price(events, "2026-03")
    data = line(invoice, "data")
    assert data["quantity"] == 1000
    assert "estimated" not in data
    assert "measured by the network" in str(data["reason"])
    assert "estimated" not in line(invoice, "sim_basic")


def test_001_s38_1_estimate_is_per_sim_and_month() -> None:
    events = [
        reg("2026-03-01"),
        reg("2026-03-01", ICCID2),
        comm("2026-03-05"),
        dev("2026-03-06"),  # ignored: the network measured ICCID in March
        dev("2026-03-07", ICCID2),
        dev("2026-04-07"),  # April has no network traffic for ICCID: estimated
    ]
    march = price(events, "2026-03")
    assert "estimated" not in line(march, "data", ICCID)
    assert line(march, "data", ICCID2)["estimated"] is True
    april = price(events, "2026-04")
    assert line(april, "data", ICCID)["estimated"] is True
    assert ("data", ICCID2) not in amounts(april)


def test_001_s38_1_device_report_month_is_jst() -> None:
    events = [reg("2026-03-01"), dev("2026-03-31T20:00:00Z")]  # 05:00 JST on April 1st
    assert ("data", ICCID) not in amounts(price(events, "2026-03"))
    assert line(price(events, "2026-04"), "data")["estimated"] is True


def test_001_s36_zero_byte_device_report_is_not_a_communication() -> None:
    invoice = price([reg("2026-03-01"), dev("2026-03-10", up=0, down=0)], "2026-03")
    assert amounts(invoice) == {}


def test_001_s37_device_reported_communication_restarts_the_silent_window() -> None:
    # Registered 2025-01, silent: the line fee would arise in 2025-12; a device-reported
    # communication in 2025-06 moves it to 2026-06.
    events = [reg("2025-01-15"), dev("2025-06-10")]
    assert ("line_maintenance", ICCID) not in amounts(price(events, "2025-12"))
    assert ("line_maintenance", ICCID) in amounts(price(events, "2026-06"))


def test_001_s38_2_fixed_plan_overage_from_device_reports_is_estimated() -> None:
    fixed = tariff(data_plan={"kind": "fixed", "monthly_fee": 1000, "included_bytes": 1_000_000})
    invoice = price([reg("2026-03-01"), dev("2026-03-10")], "2026-03", fixed)
    overage = line(invoice, "data", "overage")
    assert overage["quantity"] == 1_000_000
    assert overage["estimated"] is True
    assert "estimated" not in line(invoice, "data_plan", "account")


def test_device_usage_lines_are_validated() -> None:
    good = '{"at":"2026-03-10T00:00:00Z","type":"device_usage","iccid":"1","up":1,"down":2}'
    assert [e.type for e in parse_event_lines([good])] == ["device_usage"]
    for bad, why in [
        ('{"at":"2026-03-10T00:00:00Z","type":"device_usage","iccid":"1","up":1}', "down"),
        ('{"at":"2026-03-10T00:00:00Z","type":"device_usage","iccid":"1","up":-1,"down":0}', "up"),
        (
            '{"at":"2026-03-10T00:00:00Z","type":"device_usage","iccid":"1","up":1,"down":1,'
            '"end":"yesterday"}',
            "end",
        ),
    ]:
        with pytest.raises(EventLogError, match=why):
            list(parse_event_lines([good, bad]))


def test_estimated_lines_say_so_in_the_table() -> None:
    table = invoice_table(price([reg("2026-03-01"), dev("2026-03-10")], "2026-03"))
    assert "reported by the device" in table
    assert "estimated" in table
