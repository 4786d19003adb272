"""001 §50.3, §56: the Mono Platform's sub-options (service adapter, file send/receive),
billed per project per month like the §40 options; their prices are optional keys."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from emulator.billing import TariffError, make_event
from tests.billing.builders import (
    DEFAULT,
    ICCID,
    PRICES,
    amounts,
    comm,
    ev,
    price,
    reg,
    tariff,
    write_jsonl,
)

PROJECT = "113000000101"
CLAUSE = "001 §50.3, §56"
OPTION_PRICES: dict[str, Any] = {"option_service_adapter": 200, "option_file_transfer": 150}


def option(kind: str, when: str, name: str, project: str = PROJECT) -> Any:
    """`option_set` / `option_cleared` of a project sub-option."""
    return ev(kind, when, option=name, subject=project)


def test_001_s56_service_adapter_fee_each_month_it_was_set() -> None:
    log = [
        ev("project_created", "2026-01-10", project=PROJECT),
        option("option_set", "2026-01-31 23:59", "service_adapter"),
        option("option_cleared", "2026-03-01 00:01", "service_adapter"),
        option("option_set", "2026-03-10", "service_adapter"),
        option("option_cleared", "2026-03-11", "service_adapter"),
    ]
    fee = {("option_service_adapter", PROJECT): 200}
    for month in ("2026-01", "2026-02", "2026-03"):  # whole months; March once, set twice
        assert amounts(price(log, month)) == fee
    assert amounts(price(log, "2026-04")) == {}
    assert amounts(price(log, "2025-12")) == {}
    [line] = price(log, "2026-03").lines
    assert (line.subject, line.quantity, line.unit_price, line.clause) == (
        PROJECT,
        1,
        Fraction(200),
        CLAUSE,
    )
    assert line.reason.startswith("set from 2026-01-31 to 2026-03-01, from 2026-03-10")
    assert line.to_json()["clause"] == CLAUSE


def test_001_s56_file_transfer_fee_cleared_by_project_deletion() -> None:
    log = [
        ev("project_created", "2026-01-05", project=PROJECT),
        option("option_set", "2026-01-06", "file_transfer"),
        option("option_set", "2026-01-06", "service_adapter"),
        ev("project_deleted", "2026-03-05", project=PROJECT),  # no option_cleared logged
        ev("project_created", "2026-04-02", project=PROJECT),  # a new project, no options
    ]
    both = {
        ("option_file_transfer", PROJECT): 150,
        ("option_service_adapter", PROJECT): 200,
    }
    for month in ("2026-01", "2026-02", "2026-03"):  # the deletion month is still charged
        assert amounts(price(log, month)) == both
    assert amounts(price(log, "2026-04")) == {}


def test_001_s56_project_options_are_per_project_and_apart_from_s40_options() -> None:
    log = [
        reg("2026-02-01"),
        comm("2026-02-02"),
        ev("option_set", "2026-02-01", option="ip", subject=ICCID),
        option("option_set", "2026-02-03", "service_adapter"),
        option("option_set", "2026-02-03", "service_adapter", project="113000000102"),
        option("option_set", "2026-02-04", "file_transfer", project="113000000102"),
    ]
    invoice = price(log, "2026-02")
    assert amounts(invoice, "option_service_adapter") == {
        ("option_service_adapter", PROJECT): 200,
        ("option_service_adapter", "113000000102"): 200,
    }
    clauses = {line.item: line.clause for line in invoice.lines}
    assert clauses["option_ip"] == "001 §40"
    assert clauses["option_file_transfer"] == clauses["option_service_adapter"] == CLAUSE
    assert [line.item for line in invoice.lines if line.item.startswith("option_")] == [
        "option_file_transfer",
        "option_ip",
        "option_service_adapter",
        "option_service_adapter",
    ]


def test_decision_s56_option_cleared_early_on_the_1st_counts_as_previous_month() -> None:
    grace = tariff({"month_boundary_grace": "09:00"}, prices={**PRICES, **OPTION_PRICES})
    log = [
        option("option_set", "2026-03-10", "service_adapter"),
        option("option_cleared", "2026-04-01 08:59", "service_adapter"),
        option("option_set", "2026-03-10", "file_transfer", project="113000000102"),
        ev("project_deleted", "2026-04-01 08:00", project="113000000102"),
    ]
    assert len(price(log, "2026-03", grace).lines) == 2
    assert price(log, "2026-04", grace).lines == ()
    # without the grace (the shipped Sakura profile) April is charged too
    assert len(price(log, "2026-04").lines) == 2


def test_decision_s56_missing_price_names_the_key(tmp_path: Path) -> None:
    contract_example = tariff()  # contracts §2's example: no platform sub-option prices
    assert "option_service_adapter" not in contract_example.prices
    plain = [
        reg("2026-03-01"),
        comm("2026-03-02"),
        ev("project_created", "2026-03-03", project=PROJECT),
    ]
    assert price(plain, "2026-03", contract_example).subtotal == 110  # sim_basic, data 0
    log = [*plain, option("option_set", "2026-01-10", "service_adapter")]
    for month in ("2026-01", "2026-03", "2026-06"):  # never a silent 0, whatever the month
        with pytest.raises(TariffError) as caught:
            price(log, month, contract_example)
        assert caught.value.key == "prices.option_service_adapter"
        assert "missing price" in str(caught.value)
        assert PROJECT in str(caught.value)
    only_file = tariff(prices={**PRICES, "option_service_adapter": 200})
    with pytest.raises(TariffError) as caught:
        price([option("option_set", "2026-01-10", "file_transfer")], "2026-01", only_file)
    assert caught.value.key == "prices.option_file_transfer"
    # `simgate bill`: exit 2 naming the key, nothing on stdout
    events = write_jsonl(
        tmp_path / "e.jsonl",
        [
            {"at": "2026-03-03T12:00:00+09:00", "type": "project_created", "project": PROJECT},
            {
                "at": "2026-03-04T12:00:00+09:00",
                "type": "option_set",
                "option": "file_transfer",
                "subject": PROJECT,
            },
        ],
    )
    default = (Path(__file__).parents[2] / "emulator/billing/default_tariff.toml").read_text()
    without = tmp_path / "t.toml"
    without.write_text(default.replace("option_file_transfer = 150", ""), encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "simgate.cli",
            "bill",
            "--events",
            str(events),
            "--month",
            "2026-03",
            "--tariff",
            str(without),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "prices.option_file_transfer: missing price" in run.stderr
    failure = json.loads(run.stdout)  # --json: the failure as one object, no invoice
    assert "prices.option_file_transfer: missing price" in failure["error"]


def test_001_s56_shipped_default_prices_both_options() -> None:
    assert {key: DEFAULT.prices[key] for key in OPTION_PRICES} == OPTION_PRICES
    log = [
        option("option_set", "2026-05-01", name) for name in ("service_adapter", "file_transfer")
    ]
    invoice = price(log, "2026-05")
    assert (invoice.subtotal, invoice.tax, invoice.total) == (350, 35, 385)


def test_001_s56_unknown_project_option_is_refused() -> None:
    with pytest.raises(ValueError, match="must be one of"):
        make_event("option_set", "2026-05-01T00:00:00Z", option="websocket", subject=PROJECT)


def test_002_s43_outage_credit_counts_project_options() -> None:
    log = [
        option("option_set", "2026-06-01", "service_adapter"),
        ev("outage", "2026-06-10 00:00", subject=PROJECT, hours=72),
    ]
    credit = amounts(price(log, "2026-06"), "outage_credit")
    assert credit == {("outage_credit", PROJECT): -20}  # floor(-200 × 3 / 30)
