"""001 §35-§38: SIM basic fee, line maintenance fee, data fee."""

from __future__ import annotations

from fractions import Fraction

from tests.billing.builders import (
    ICCID,
    ICCID2,
    amounts,
    comm,
    delete,
    line_fee_months,
    price,
    quantity,
    reg,
    tariff,
)


def test_sec0_jst_month_assignment() -> None:
    # 2026-03-31T20:00Z is 2026-04-01 05:00 JST: April.
    log = [reg("2026-01-01"), comm("2026-03-31T20:00:00Z")]
    assert quantity(price(log, "2026-04"), "sim_basic") == 1
    assert quantity(price(log, "2026-03"), "sim_basic") == 0
    # and the last JST instant of March is still March
    log = [reg("2026-01-01"), comm("2026-03-31T14:59:59Z")]
    assert quantity(price(log, "2026-03"), "sim_basic") == 1


def test_sec0_offsets_other_than_jst_are_converted() -> None:
    log = [reg("2026-01-01"), comm("2026-03-31T10:30:00-05:00")]  # 2026-04-01 00:30 JST
    assert quantity(price(log, "2026-04"), "sim_basic") == 1


def test_001_s36_2_month_without_communication_is_free() -> None:
    log = [reg("2026-03-10"), comm("2026-03-11")]
    assert amounts(price(log, "2026-04")) == {}


def test_001_s36_2_registration_and_deletion_months_are_whole_months() -> None:
    log = [reg("2026-03-31 23:00"), comm("2026-03-31 23:30"), comm("2026-04-01 00:10")]
    log += [delete("2026-04-01 00:20")]
    assert amounts(price(log, "2026-03"), "sim_basic") == {("sim_basic", ICCID): 110}
    assert amounts(price(log, "2026-04"), "sim_basic") == {("sim_basic", ICCID): 110}


def test_001_s36_3_each_registration_in_a_month_is_charged() -> None:
    log = [reg("2026-06-01"), delete("2026-06-02"), reg("2026-06-03"), delete("2026-06-04")]
    log += [reg("2026-06-05"), comm("2026-06-06")]
    june = price(log, "2026-06")
    assert quantity(june, "sim_basic") == 3
    assert amounts(june, "sim_basic") == {("sim_basic", ICCID): 330}
    assert "registered 3 times this month" in next(
        line.reason for line in june.lines if line.item == "sim_basic"
    )


def test_decision_s36_periods_overlapping_month_times_price_only_if_communicated() -> None:
    # registered from May, deleted 06-05, registered again 06-20; no traffic in June
    log = [reg("2026-05-01"), comm("2026-05-02"), delete("2026-06-05"), reg("2026-06-20")]
    assert quantity(price(log, "2026-06"), "sim_basic") == 0
    assert quantity(price([*log, comm("2026-06-03")], "2026-06"), "sim_basic") == 2


def test_001_s36_basic_fee_reason_explains_itself() -> None:
    line = price([reg("2026-03-10"), comm("2026-03-11")], "2026-03").lines[-1]
    assert (line.item, line.clause, line.reason) == (
        "sim_basic",
        "001 §36",
        "communicated on 2026-03-11",
    )


def test_001_s37_1_1_line_fee_twelve_months_from_registration_month() -> None:
    assert line_fee_months([reg("2025-01-15")], "2025-01", "2025-12") == ["2025-12"]


def test_001_s37_1_2_line_fee_twelve_months_after_last_communication() -> None:
    log = [reg("2025-01-15"), comm("2025-05-31 23:59")]
    assert line_fee_months(log, "2025-01", "2026-12") == ["2026-05"]


def test_001_s37_1_again_every_further_twelve_months() -> None:
    log = [reg("2020-03-03"), comm("2023-04-01")]
    assert line_fee_months(log, "2023-01", "2027-12") == [
        "2024-04",
        "2025-04",
        "2026-04",
        "2027-04",
    ]


def test_decision_s37_fee_needs_sim_registered_at_end_of_twelfth_month() -> None:
    log = [reg("2025-01-15"), delete("2025-12-31 23:59")]
    assert line_fee_months(log, "2025-01", "2026-12") == []
    log = [reg("2025-01-15"), delete("2026-01-01 00:00")]
    assert line_fee_months(log, "2025-01", "2026-12") == ["2025-12"]


def test_decision_s37_communication_restarts_the_count_deletion_stops_it() -> None:
    log = [reg("2025-01-15"), comm("2025-11-30")]
    assert line_fee_months(log, "2025-01", "2026-12") == ["2026-11"]
    log = [reg("2025-01-15"), delete("2025-06-01"), reg("2025-09-01")]
    assert line_fee_months(log, "2025-01", "2026-12") == ["2026-08"]


def test_001_s37_1_unusable_state_still_counts() -> None:
    # no gateway, never in a usable state (§32): the fee arises all the same
    assert line_fee_months([reg("2026-01-15")], "2026-01", "2026-12") == ["2026-12"]


def test_001_s37_3_line_fee_due_on_10th_of_next_month() -> None:
    invoice = price([reg("2026-01-15")], "2026-12")
    assert invoice.due_date.isoformat() == "2027-01-10"
    assert "due on the 10th of 2027-01" in invoice.lines[0].reason
    assert invoice.lines[0].clause == "001 §37"


def test_001_s37_traffic_before_reregistration_in_its_month_does_not_count() -> None:
    # Traffic of the old registration on 06-03; the new one starts 06-20 and stays silent:
    # its window counts from June (registration month), so the fee arises in 2027-05.
    log = [reg("2026-01-05"), comm("2026-06-03"), delete("2026-06-05"), reg("2026-06-20")]
    assert line_fee_months(log, "2026-06", "2027-12") == ["2027-05"]
    log.append(comm("2026-06-25"))
    assert line_fee_months(log, "2026-06", "2027-12") == ["2027-06"]


def test_001_supplementary_s2_sim_registered_before_2022_08_counts_from_2022_08() -> None:
    log = [reg("2021-03-01")]
    assert line_fee_months(log, "2021-03", "2024-12") == ["2023-07", "2024-07"]
    line = price(log, "2023-07").lines[0]
    assert line.clause == "001 §37, supplementary §2"


def test_001_supplementary_s2_old_silence_before_2022_08_is_not_counted() -> None:
    log = [reg("2020-01-01"), comm("2022-02-10")]
    assert line_fee_months(log, "2022-01", "2023-12") == ["2023-07"]
    # a SIM registered on or after 2022-08-01 follows §37 as is
    assert line_fee_months([reg("2022-08-01")], "2022-08", "2023-12") == ["2023-07"]
    assert line_fee_months([reg("2022-09-01")], "2022-08", "2023-12") == ["2023-08"]


def test_001_s38_1_data_fee_per_volume_up_plus_down() -> None:
    log = [reg("2026-03-01"), comm("2026-03-02", up=1_000_000, down=2_000_000)]
    log.append(comm("2026-03-20", up=500_000, down=500_000))
    march = price(log, "2026-03")
    assert quantity(march, "data") == 4_000_000
    assert amounts(march, "data") == {("data", ICCID): 22}  # 4 MB × 5.5


def test_decision_s38_zero_byte_traffic_is_not_communication() -> None:
    log = [reg("2026-03-01"), comm("2026-03-02", up=0, down=0)]
    assert amounts(price(log, "2026-03")) == {}


def test_decision_s38_fixed_plan_includes_a_volume_then_per_volume() -> None:
    plan = {"kind": "fixed", "monthly_fee": 1000, "included_bytes": 10_000_000}
    fixed = tariff(data_plan=plan)
    log = [reg("2026-03-01"), reg("2026-03-01", ICCID2)]
    log += [
        comm("2026-03-02", up=4_000_000, down=0),
        comm("2026-03-02", ICCID2, up=5_000_000, down=0),
    ]
    under = price(log, "2026-03", fixed)
    assert amounts(under, "data_plan") == {("data_plan", "account"): 1000}
    assert amounts(under, "data") == {}
    over = price([*log, comm("2026-03-05", ICCID2, up=3_000_000, down=0)], "2026-03", fixed)
    assert quantity(over, "data", "overage") == 2_000_000
    assert amounts(over, "data") == {("data", "overage"): 11}
    # the plan's fee is owed in a month with a registered SIM even without traffic
    assert amounts(price(log, "2026-04", fixed)) == {("data_plan", "account"): 1000}


def test_decision_s1_3_prices_live_in_the_tariff() -> None:
    doubled = tariff()
    doubled.prices.update({k: v * 2 for k, v in doubled.prices.items()})
    log = [reg("2026-03-01"), comm("2026-03-02", up=1_000_000, down=0)]
    assert amounts(price(log, "2026-03", doubled)) == {
        ("data", ICCID): 11,
        ("sim_basic", ICCID): 220,
    }
    custom = tariff()
    custom.prices["data_per_mb"] = Fraction(2, 5)
    assert amounts(price(log, "2026-03", custom), "data") == {("data", ICCID): 0}


def test_001_s36_deleting_unregistered_or_reregistering_is_ignored() -> None:
    log = [delete("2026-02-01"), reg("2026-03-01"), reg("2026-03-05"), comm("2026-03-06")]
    assert quantity(price(log, "2026-03"), "sim_basic") == 1
