"""Service rules §4: due date, rounding, tax, late interest, outage credit, month grace."""

from __future__ import annotations

from emulator.billing import Books, Event, Pricer
from emulator.billing.months import parse_month
from tests.billing.builders import (
    GATEWAY,
    ICCID,
    ICCID2,
    amounts,
    comm,
    delete,
    ev,
    line_fee_months,
    price,
    quantity,
    reg,
    tariff,
)

# A March invoice of exactly 3,000 + 300 tax = 3,300 (the gateway is gone by April).
MARCH_3300 = [
    ev("gateway_created", "2026-03-01", gateway=GATEWAY),
    ev("gateway_deleted", "2026-03-31", gateway=GATEWAY),
]


def pay(when: str, month: str, amount: int) -> Event:
    """A payment event."""
    return ev("payment", when, invoice_month=month, amount=amount)


def test_001_s4_1_due_on_the_10th_of_the_next_month() -> None:
    assert price([], "2026-03").due_date.isoformat() == "2026-04-10"
    assert price([], "2026-12").due_date.isoformat() == "2027-01-10"


def test_002_s27_fractions_rounded_down_per_line() -> None:
    log = [reg("2026-03-01"), reg("2026-03-01", ICCID2)]
    log += [comm("2026-03-02", up=100_000, down=0), comm("2026-03-02", ICCID2, up=100_000, down=0)]
    march = price(log, "2026-03")
    # 0.55 yen each, rounded down per line: 0 + 0, not floor(1.1) = 1
    assert amounts(march, "data") == {("data", ICCID): 0, ("data", ICCID2): 0}
    assert march.subtotal == 220


def test_decision_tax_once_per_invoice_on_the_taxable_subtotal_rounded_down() -> None:
    log = [reg("2026-03-01"), comm("2026-03-02", up=3_500_000, down=0)]
    log.append(ev("sms_sent", "2026-03-05", kind="2fa", delivered=False))
    march = price(log, "2026-03")
    assert (march.subtotal, march.tax, march.total) == (110 + 19 + 8, 13, 150)


def test_002_s26_late_interest_from_day_after_due_to_day_before_payment() -> None:
    log = [*MARCH_3300, pay("2026-05-20", "2026-03", 3300)]
    may = price(log, "2026-05")
    (line,) = may.lines
    # 2026-04-11 .. 2026-05-19 = 39 days; 3300 × 0.146 × 39 / 365 = 51.48
    assert (line.item, line.subject, line.quantity, line.amount) == (
        "late_interest",
        "2026-03",
        39,
        51,
    )
    assert line.clause == "002 §26"
    assert (may.subtotal, may.tax, may.total) == (51, 0, 51)


def test_003_s24_late_interest_up_to_and_including_payment_day_as_a_setting() -> None:
    inclusive = tariff(
        {"late_interest_rate": 0.145, "late_interest_days": "after_due_to_payment_day"}
    )
    log = [*MARCH_3300, pay("2026-05-20", "2026-03", 3300)]
    (line,) = price(log, "2026-05", inclusive).lines
    assert (line.quantity, line.amount) == (40, 52)  # 3300 × 0.145 × 40 / 365 = 52.44


def test_decision_no_interest_when_paid_by_the_due_date_or_the_day_after() -> None:
    assert price([*MARCH_3300, pay("2026-04-10", "2026-03", 3300)], "2026-04").lines == ()
    # paid 04-11: no day lies between the day after the due date and the day before payment
    assert price([*MARCH_3300, pay("2026-04-11", "2026-03", 3300)], "2026-04").lines == ()


def test_decision_late_interest_on_unpaid_part_charged_in_month_of_each_payment() -> None:
    log = [*MARCH_3300, pay("2026-04-30", "2026-03", 1300), pay("2026-05-20", "2026-03", 5000)]
    # 1300 × 0.146 × 19 / 365 = 9.88 on April's invoice
    assert amounts(price(log, "2026-04")) == {("late_interest", "2026-03"): 9}
    # only the 2000 still unpaid runs to 05-20: 2000 × 0.146 × 39 / 365 = 31.2
    may = price(log, "2026-05")
    assert amounts(may) == {("late_interest", "2026-03"): 31}
    assert "2,000 yen paid on 2026-05-20, 39 days late" in may.lines[0].reason


def test_decision_late_interest_outside_consumption_tax() -> None:
    log = [*MARCH_3300, ev("gateway_created", "2026-05-01", gateway="g2")]
    log.append(pay("2026-05-20", "2026-03", 3300))
    may = price(log, "2026-05")
    assert may.subtotal == 3000 + 51
    assert may.tax == 300
    assert may.total == 3351


def test_decision_late_interest_uses_the_earlier_invoice_total_memoised() -> None:
    # April's own total includes the interest charged in April; pricing June prices April,
    # which prices March: each once.
    log = [*MARCH_3300, ev("gateway_created", "2026-04-01", gateway="g2")]
    log += [ev("gateway_deleted", "2026-04-30", gateway="g2")]
    log += [pay("2026-04-30", "2026-03", 3300), pay("2026-06-30", "2026-04", 10_000)]
    pricer = Pricer(Books(tariff()).add_all(log))
    june = pricer.invoice(parse_month("2026-06"))
    april = pricer.invoice(parse_month("2026-04"))
    assert amounts(april) == {("gateway", "g2"): 3000, ("late_interest", "2026-03"): 25}
    assert april.total == 3000 + 25 + 300
    (line,) = june.lines
    assert f"total {april.total:,}" in line.reason
    # 3325 × 0.146 × 50 / 365 = 66.5 (2026-05-11 .. 2026-06-29)
    assert (line.subject, line.quantity, line.amount) == ("2026-04", 50, 66)


def test_002_s43_outage_credit_in_whole_24h_blocks() -> None:
    log = [ev("gateway_created", "2026-03-01", gateway=GATEWAY)]
    log.append(ev("outage", "2026-03-10", subject=GATEWAY, hours=50))
    march = price(log, "2026-03")
    # floor(3000 × 2 / 31) = 193
    assert amounts(march) == {("gateway", GATEWAY): 3000, ("outage_credit", GATEWAY): -193}
    assert quantity(march, "outage_credit", GATEWAY) == 2
    assert (march.subtotal, march.tax) == (2807, 280)


def test_002_s43_no_credit_under_24_consecutive_hours() -> None:
    log = [ev("gateway_created", "2026-03-01", gateway=GATEWAY)]
    log.append(ev("outage", "2026-03-10", subject=GATEWAY, end="2026-03-11T11:59:00+09:00"))
    assert amounts(price(log, "2026-03"), "outage_credit") == {}


def test_002_s43_credit_capped_at_the_monthly_fee() -> None:
    log = [ev("gateway_created", "2026-02-01", gateway=GATEWAY)]
    log.append(ev("outage", "2026-02-01 00:00", subject=GATEWAY, hours=24 * 40))
    assert amounts(price(log, "2026-02"), "outage_credit") == {("outage_credit", GATEWAY): -3000}


def test_decision_outage_credit_for_the_account_and_switchable_off() -> None:
    log = [ev("gateway_created", "2026-03-01", gateway=GATEWAY), reg("2026-03-01")]
    log += [comm("2026-03-02"), ev("outage", "2026-03-10", subject="account", hours=24)]
    # recurring fees: 3000 + 110 = 3110; floor(3110 × 1 / 31) = 100
    assert amounts(price(log, "2026-03"), "outage_credit") == {("outage_credit", "account"): -100}
    off = tariff({"outage_credit": False})
    assert amounts(price(log, "2026-03", off), "outage_credit") == {}


def test_decision_month_boundary_grace_moves_ending_events_only() -> None:
    grace = tariff({"month_boundary_grace": "09:00"})
    gateway = [
        ev("gateway_created", "2026-04-30 23:00", gateway=GATEWAY),
        ev("gateway_deleted", "2026-05-01 00:30", gateway=GATEWAY),
    ]
    assert amounts(price(gateway, "2026-04", grace)) == {("gateway", GATEWAY): 3000}
    assert amounts(price(gateway, "2026-05", grace)) == {}
    # creations and traffic at the same hour stay in May
    log = [reg("2026-05-01 05:00"), comm("2026-05-01 05:10")]
    assert quantity(price(log, "2026-05", grace), "sim_basic") == 1
    # at 09:00 exactly the grace is over
    late = [gateway[0], ev("gateway_deleted", "2026-05-01 09:00", gateway=GATEWAY)]
    assert amounts(price(late, "2026-05", grace)) == {("gateway", GATEWAY): 3000}


def test_004_s13_deletion_early_on_the_1st_counts_as_previous_month() -> None:
    # never used since 2025-05: the 12th silent month is 2026-04; deleted 2026-05-01 08:59
    log = [reg("2025-05-15"), delete("2026-05-01 08:59")]
    assert line_fee_months(log, "2026-04", "2026-04") == ["2026-04"]  # Sakura: no grace
    grace = tariff({"month_boundary_grace": "09:00"})
    assert amounts(price(log, "2026-04", grace)) == {}


def test_decision_payments_are_never_moved_by_the_grace() -> None:
    grace = tariff({"month_boundary_grace": "09:00"})
    log = [*MARCH_3300, pay("2026-06-01 05:00", "2026-03", 3300)]
    assert amounts(price(log, "2026-06", grace), "late_interest") != {}
    assert amounts(price(log, "2026-05", grace), "late_interest") == {}


def test_contract_s2_quantity_zero_lines_left_out() -> None:
    log = [
        reg("2026-03-01"),
        delete("2026-03-02", ICCID),
        ev("sms_sent", "2026-04-01", kind="a2p", delivered=True),
    ]
    assert [line.item for line in price(log, "2026-04").lines] == ["sms_a2p"]
    assert all(line.quantity for line in price(log, "2026-03").lines)


def test_decision_late_interest_chain_over_decades_needs_no_deep_recursion() -> None:
    # every invoice paid on the 20th of the month after its due month, for 40 years: each
    # month's interest needs an earlier total, priced oldest first instead of recursively
    log: list[Event] = [ev("gateway_created", "1990-01-01", gateway=GATEWAY)]
    for year in range(1990, 2030):
        for month in range(1, 13):
            paid = f"{year + (month + 1) // 12}-{(month + 1) % 12 + 1:02d}-20"
            log.append(pay(paid, f"{year}-{month:02d}", 3300))
    invoice = price(log, "2029-12")
    # 2029-10 paid 2029-12-20, due 2029-11-10: 39 days; 3300 × 0.146 × 39 / 365 = 51.48
    assert amounts(invoice, "late_interest") == {("late_interest", "2029-10"): 51}
