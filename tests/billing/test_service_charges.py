"""001 §39 gateways, §40 sub-options, §55 platform base fee, §70 SMS."""

from __future__ import annotations

from tests.billing.builders import GATEWAY, ICCID, amounts, comm, delete, ev, price, quantity, reg


def test_001_s39_gateway_fee_every_month_whole_months_no_usage_exemption() -> None:
    log = [
        ev("gateway_created", "2026-01-20", gateway=GATEWAY),
        ev("gateway_deleted", "2026-03-02", gateway=GATEWAY),
    ]
    for month in ("2026-01", "2026-02", "2026-03"):
        assert amounts(price(log, month)) == {("gateway", GATEWAY): 3000}
    assert amounts(price(log, "2026-04")) == {}
    assert amounts(price(log, "2025-12")) == {}


def test_decision_s40_option_charged_each_month_it_was_set_at_any_time() -> None:
    log = [
        reg("2026-01-05"),
        ev("option_set", "2026-01-31 23:59", option="ip", subject=ICCID),
        ev("option_cleared", "2026-03-01 00:01", option="ip", subject=ICCID),
        ev("option_set", "2026-03-10", option="ip", subject=ICCID),
        ev("option_cleared", "2026-03-11", option="ip", subject=ICCID),
    ]
    assert amounts(price(log, "2026-01")) == {("option_ip", ICCID): 100}
    assert amounts(price(log, "2026-02")) == {("option_ip", ICCID): 100}
    march = price(log, "2026-03")
    assert amounts(march) == {("option_ip", ICCID): 100}  # once a month, set twice
    assert amounts(price(log, "2026-04")) == {}


def test_decision_s40_deleting_the_sim_clears_its_options_month_still_charged() -> None:
    log = [
        reg("2026-01-05"),
        ev("option_set", "2026-01-06", option="device_lock", subject=ICCID),
        ev("option_set", "2026-01-06", option="ip", subject=ICCID),
        delete("2026-02-10"),
        reg("2026-04-01"),
    ]
    assert amounts(price(log, "2026-02")) == {
        ("option_device_lock", ICCID): 50,
        ("option_ip", ICCID): 100,
    }
    assert amounts(price(log, "2026-03")) == {}
    assert amounts(price(log, "2026-04")) == {}  # re-registered: the options are gone


def test_decision_s40_dns_option_per_gateway_cleared_by_gateway_deletion() -> None:
    log = [
        ev("gateway_created", "2026-01-01", gateway=GATEWAY),
        ev("option_set", "2026-01-02", option="dns", subject=GATEWAY),
        ev("gateway_deleted", "2026-02-15", gateway=GATEWAY),
    ]
    assert amounts(price(log, "2026-02")) == {
        ("gateway", GATEWAY): 3000,
        ("option_dns", GATEWAY): 100,
    }
    assert amounts(price(log, "2026-03")) == {}


def test_001_s55_platform_fee_only_in_months_with_platform_traffic() -> None:
    log = [
        ev("project_created", "2026-01-01", project="p1"),
        ev("device_registered", "2026-01-02", iccid=ICCID, project="p1"),
        ev("platform_traffic", "2026-02-03", iccid=ICCID, project="p1", messages=5),
        ev("platform_traffic", "2026-03-03", iccid=ICCID, project="p1", messages=0),
        ev("device_unregistered", "2026-04-05", iccid=ICCID, project="p1"),
        ev("platform_traffic", "2026-05-03", iccid=ICCID, project="p1", messages=2),
    ]
    assert amounts(price(log, "2026-01")) == {}
    assert amounts(price(log, "2026-02")) == {("platform_basic", ICCID): 20}  # ICCID as ID
    assert amounts(price(log, "2026-03")) == {}  # zero messages is no traffic
    assert amounts(price(log, "2026-05")) == {}  # removed from the project


def test_001_s52_5_same_device_id_on_reregistration() -> None:
    log = [
        ev("project_created", "2026-01-01", project="p1"),
        ev("device_registered", "2026-01-02", iccid=ICCID, project="p1", device_id="dev-7"),
        ev("device_unregistered", "2026-02-01", iccid=ICCID, project="p1"),
        ev("device_registered", "2026-05-02", iccid=ICCID, project="p1", device_id="dev-7"),
        ev("platform_traffic", "2026-05-03", iccid=ICCID, project="p1", messages=1),
    ]
    assert amounts(price(log, "2026-05")) == {("platform_basic", "dev-7"): 20}


def test_001_s60_project_deletion_removes_its_devices() -> None:
    log = [
        ev("project_created", "2026-01-01", project="p1"),
        ev("device_registered", "2026-01-02", iccid=ICCID, project="p1"),
        ev("project_deleted", "2026-01-20", project="p1"),
        ev("platform_traffic", "2026-02-03", iccid=ICCID, project="p1", messages=5),
    ]
    assert amounts(price(log, "2026-02")) == {}


def test_001_s70_sms_charged_per_message_whether_delivered_or_not() -> None:
    log = [
        ev("sms_sent", "2026-03-01", kind="2fa", delivered=True),
        ev("sms_sent", "2026-03-02", kind="2fa", delivered=False),
        ev("sms_sent", "2026-03-03", kind="a2p", delivered=False, iccid=ICCID),
    ]
    march = price(log, "2026-03")
    assert amounts(march) == {("sms_2fa", "account"): 16, ("sms_a2p", ICCID): 6}
    assert quantity(march, "sms_2fa", "account") == 2
    assert "2 sent, 1 delivered" in march.lines[0].reason


def test_001_s35_1_charges_owed_without_a_usable_state() -> None:
    # a SIM with traffic logged but no gateway at all: basic and data fees all the same
    log = [reg("2026-03-01"), comm("2026-03-02", up=2_000_000, down=0)]
    assert amounts(price(log, "2026-03")) == {("data", ICCID): 11, ("sim_basic", ICCID): 110}


def test_contract_s2_lines_sorted_by_item_then_subject() -> None:
    log = [reg("2026-03-01", "89812"), reg("2026-03-01", "89811")]
    log += [comm("2026-03-02", "89812"), comm("2026-03-02", "89811")]
    log += [ev("gateway_created", "2026-03-01", gateway="g1")]
    keys = [(line.item, line.subject) for line in price(log, "2026-03").lines]
    assert keys == sorted(keys)
    assert keys[0] == ("data", "89811")
