"""Contract state (001 §34, §49, §53, §60, §68, §74), shown beside the invoice."""

from __future__ import annotations

from typing import Any

from tests.billing.builders import GATEWAY, ICCID2, delete, ev, price, reg


def contracts(log: list[Any], month: str) -> dict[str, dict[str, Any]]:
    """service -> the JSON of its latest contract as of the month's end."""
    result: dict[str, dict[str, Any]] = {}
    for contract in price(log, month).to_json()["contracts"]:  # type: ignore[attr-defined]
        result[contract["service"]] = contract
    return result


def test_001_s34_1_contract_forms_at_first_sim_registration_or_gateway_creation() -> None:
    log = [ev("gateway_created", "2026-02-10", gateway=GATEWAY), reg("2026-03-01")]
    smc = contracts(log, "2026-03")["secure_mobile_connect"]
    assert smc["formed"] == "2026-02-10T12:00:00+09:00"
    assert smc["status"] == "active"
    assert "creation of gateway 113000000001" in smc["reason"]
    assert contracts(log, "2026-01") == {}


def test_001_s49_1_contract_extends_by_a_year_unless_full_deletion() -> None:
    log = [reg("2026-01-15"), ev("gateway_created", "2026-02-01", gateway=GATEWAY)]
    first = contracts(log, "2026-12")["secure_mobile_connect"]
    assert (first["term_start"], first["term_end"], first["renews_on"]) == (
        "2026-01-15",
        "2027-01-14",
        "2027-01-15",
    )
    second = contracts(log, "2027-01")["secure_mobile_connect"]
    assert (second["term_start"], second["term_end"], second["renews_on"]) == (
        "2027-01-15",
        "2028-01-14",
        "2028-01-15",
    )


def test_001_s49_2_full_deletion_ends_the_contract_at_the_end_of_that_month() -> None:
    log = [
        reg("2026-01-15"),
        reg("2026-01-16", ICCID2),
        ev("gateway_created", "2026-02-01", gateway=GATEWAY),
        delete("2026-06-01"),
        ev("gateway_deleted", "2026-06-02", gateway=GATEWAY),
    ]
    assert contracts(log, "2026-06")["secure_mobile_connect"]["status"] == "active"
    log.append(delete("2026-06-05", ICCID2))
    smc = contracts(log, "2026-06")["secure_mobile_connect"]
    assert (smc["status"], smc["ends_on"], smc["renews_on"]) == ("ended", "2026-06-30", None)
    assert contracts(log, "2026-05")["secure_mobile_connect"]["status"] == "active"


def test_001_s49_creation_in_the_same_month_withdraws_full_deletion_later_forms_new() -> None:
    log = [reg("2026-01-15"), delete("2026-06-05"), reg("2026-06-20")]
    assert contracts(log, "2026-06")["secure_mobile_connect"]["status"] == "active"
    log = [reg("2026-01-15"), delete("2026-06-05"), reg("2026-08-20")]
    shown = price(log, "2026-08").to_json()["contracts"]
    assert [(c["status"], c["formed"][:10]) for c in shown] == [  # type: ignore[attr-defined]
        ("ended", "2026-01-15"),
        ("active", "2026-08-20"),
    ]


def test_001_s53_s60_platform_contract_forms_at_first_project_ends_with_all_deleted() -> None:
    log = [ev("project_created", "2026-03-03", project="p1")]
    assert contracts(log, "2026-03")["mono_platform"]["formed"].startswith("2026-03-03")
    log.append(ev("project_deleted", "2026-04-09", project="p1"))
    platform = contracts(log, "2026-04")["mono_platform"]
    assert (platform["status"], platform["ends_on"]) == ("ended", "2026-04-30")


def test_001_s74_sms_cancellation_on_the_20th_ends_this_month() -> None:
    log = [ev("sms_sent", "2026-03-01", kind="2fa", delivered=True)]
    log.append(ev("sms_cancelled", "2026-03-20 23:59", kind="2fa"))
    sms = contracts(log, "2026-03")["sms_2fa"]
    assert (sms["status"], sms["ends_on"]) == ("ended", "2026-03-31")


def test_001_s74_sms_cancellation_on_the_21st_ends_next_month() -> None:
    log = [ev("sms_sent", "2026-03-01", kind="a2p", delivered=True)]
    log.append(ev("sms_cancelled", "2026-03-21 00:00", kind="a2p"))
    sms = contracts(log, "2026-03")["sms_a2p"]
    assert (sms["status"], sms["ends_on"]) == ("ending", "2026-04-30")
    assert contracts(log, "2026-04")["sms_a2p"]["status"] == "ended"


def test_001_s68_sms_contract_per_kind() -> None:
    log = [ev("sms_sent", "2026-03-01", kind="a2p", delivered=True)]
    assert set(contracts(log, "2026-03")) == {"sms_a2p"}


def test_contracts_key_beside_the_invoice_keys() -> None:
    document = price([reg("2026-01-15")], "2026-02").to_json()
    assert list(document) == [
        "month",
        "currency",
        "lines",
        "subtotal",
        "tax",
        "total",
        "due_date",
        "contracts",
    ]
