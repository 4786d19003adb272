"""Service rules §5: every worked example, with the shipped example tariff."""

from __future__ import annotations

from emulator.billing import Books, Pricer
from emulator.billing.months import parse_month
from tests.billing.builders import (
    DEFAULT,
    GATEWAY,
    ICCID,
    amounts,
    comm,
    delete,
    ev,
    line_fee_months,
    price,
    quantity,
    reg,
)


def test_sec5_example1_basic_fee_only_in_months_with_communication() -> None:
    log = [reg("2026-03-10"), comm("2026-03-11"), comm("2026-05-02"), delete("2026-05-20")]
    assert quantity(price(log, "2026-03"), "sim_basic") == 1
    assert quantity(price(log, "2026-04"), "sim_basic") == 0
    assert quantity(price(log, "2026-05"), "sim_basic") == 1
    assert line_fee_months(log, "2026-03", "2028-12") == []


def test_sec5_example2_never_used_sim_line_fee_in_2026_12_and_2027_12() -> None:
    log = [reg("2026-01-15")]
    assert line_fee_months(log, "2026-01", "2028-06") == ["2026-12", "2027-12"]
    december = price(log, "2026-12")
    assert amounts(december) == {("line_maintenance", ICCID): 330}
    assert december.due_date.isoformat() == "2027-01-10"
    pricer = Pricer(Books(DEFAULT).add_all(log))
    for month in range(parse_month("2026-01"), parse_month("2028-06") + 1):
        assert quantity(pricer.invoice(month), "sim_basic") == 0


def test_sec5_example3_quiet_from_march_fee_in_2027_02() -> None:
    log = [reg("2025-06-01"), comm("2026-02-03")]
    assert line_fee_months(log, "2026-02", "2027-03") == ["2027-02"]
    # ... unless it communicates or is deleted before the end of 2027-02
    assert line_fee_months([*log, comm("2027-02-27")], "2026-02", "2027-03") == []
    assert line_fee_months([*log, delete("2027-02-28 23:59")], "2026-02", "2027-03") == []


def test_sec5_example4_reregistered_same_month_two_fees() -> None:
    log = [
        reg("2026-01-05"),
        delete("2026-06-05"),
        reg("2026-06-20"),
        comm("2026-06-21"),
    ]
    june = price(log, "2026-06")
    assert quantity(june, "sim_basic") == 2
    assert amounts(june, "sim_basic") == {("sim_basic", ICCID): 220}
    assert "registered twice this month" in june.lines[-1].reason


def test_sec5_example5_gateway_two_whole_months() -> None:
    log = [
        ev("gateway_created", "2026-04-30T23:00:00+09:00", gateway=GATEWAY),
        ev("gateway_deleted", "2026-05-01T00:30:00+09:00", gateway=GATEWAY),
    ]
    assert amounts(price(log, "2026-04")) == {("gateway", GATEWAY): 3000}
    assert amounts(price(log, "2026-05")) == {("gateway", GATEWAY): 3000}
    assert amounts(price(log, "2026-06")) == {}


def test_sec5_example6_communication_at_2026_03_31T16_30Z_counts_for_april() -> None:
    log = [reg("2026-03-01"), comm("2026-03-31T16:30:00Z")]
    assert quantity(price(log, "2026-03"), "sim_basic") == 0
    assert quantity(price(log, "2026-04"), "sim_basic") == 1
    assert quantity(price(log, "2026-04"), "data") == 2000


def test_sec5_example7_device_reregistered_to_another_project_two_platform_fees() -> None:
    log = [
        ev("project_created", "2026-03-01", project="p1"),
        ev("project_created", "2026-03-01", project="p2"),
        ev("device_registered", "2026-03-02", iccid=ICCID, project="p1", device_id="dev-1"),
        ev("device_unregistered", "2026-03-10", iccid=ICCID, project="p1"),
        ev("device_registered", "2026-03-11", iccid=ICCID, project="p2", device_id="dev-1"),
        ev("platform_traffic", "2026-03-12", iccid=ICCID, project="p2", messages=3),
    ]
    march = price(log, "2026-03")
    assert amounts(march) == {("platform_basic", "dev-1"): 40}
    assert quantity(march, "platform_basic", "dev-1") == 2
    # no traffic through the platform in April: nothing
    assert amounts(price(log, "2026-04")) == {}


def test_sec5_example8_puk_blocked_sim_owes_basic_in_january_then_line_fees() -> None:
    # 001 §43.5: a permanently blocked SIM keeps incurring fees until it is deleted; the
    # block itself is not a billing event (nothing is logged for it).
    log = [reg("2025-11-01"), comm("2026-01-10")]
    assert quantity(price(log, "2026-01"), "sim_basic") == 1
    for month in ("2026-02", "2026-06", "2027-01"):
        assert quantity(price(log, month), "sim_basic") == 0
    assert line_fee_months(log, "2026-01", "2028-06") == ["2027-01", "2028-01"]
