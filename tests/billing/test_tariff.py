"""The tariff file (contracts §2): shipped default, missing prices, unknown keys."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest

from emulator.billing import TariffError, load_tariff
from emulator.billing.tariff import OPTIONAL_PRICE_KEYS, PRICE_KEYS

CONTRACT_EXAMPLE = """
[prices]            # yen, before tax
sim_basic = 110
line_maintenance = 330
data_per_mb = 5.5   # per 1,000,000 bytes
gateway = 3000
option_ip = 100
option_device_lock = 50
option_dns = 100
platform_basic = 20
sms_2fa = 8
sms_a2p = 6
[policy]
timezone = "Asia/Tokyo"
tax_rate = 0.10
late_interest_rate = 0.146   # per year, 365-day year, days after due date to day before payment
month_boundary_grace = ""    # e.g. "09:00"
pin_attempts = 3
puk_attempts = 10
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a tariff file."""
    path = tmp_path / "tariff.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_default_tariff_has_every_price_and_says_it_is_an_example() -> None:
    tariff = load_tariff()
    assert set(tariff.prices) == set(PRICE_KEYS + OPTIONAL_PRICE_KEYS)
    assert tariff.prices["data_per_mb"] == Fraction(11, 2)
    assert tariff.tax_rate == Fraction(1, 10)
    assert tariff.late_interest_rate == Fraction(146, 1000)
    assert tariff.month_boundary_grace is None
    text = (Path(__file__).parents[2] / "emulator/billing/default_tariff.toml").read_text()
    assert "NOT the" in text
    assert "price list" in text


def test_contract_s2_example_tariff_is_accepted_as_is(tmp_path: Path) -> None:
    tariff = load_tariff(write(tmp_path, CONTRACT_EXAMPLE))
    default = load_tariff()
    # the shipped default adds only the optional platform sub-option prices
    assert set(tariff.prices) == set(PRICE_KEYS)
    assert tariff.prices == {key: default.prices[key] for key in PRICE_KEYS}
    assert tariff == dataclasses.replace(default, prices=tariff.prices)


def test_optional_prices_are_read_and_checked_when_given(tmp_path: Path) -> None:
    text = CONTRACT_EXAMPLE.replace(
        "[policy]", "option_service_adapter = 250\noption_file_transfer = 120.5\n[policy]"
    )
    prices = load_tariff(write(tmp_path, text)).prices
    assert prices["option_service_adapter"] == 250
    assert prices["option_file_transfer"] == Fraction(241, 2)
    bad = text.replace("option_file_transfer = 120.5", 'option_file_transfer = "free"')
    with pytest.raises(TariffError) as caught:
        load_tariff(write(tmp_path, bad))
    assert caught.value.key == "prices.option_file_transfer"


def test_tariff_missing_price_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(TariffError) as caught:
        load_tariff(write(tmp_path, CONTRACT_EXAMPLE.replace("gateway = 3000\n", "")))
    assert caught.value.key == "prices.gateway"
    assert "missing price" in str(caught.value)


def test_tariff_unknown_keys_are_named(tmp_path: Path) -> None:
    text = CONTRACT_EXAMPLE + "sim_bsic = 1\n"  # lands in [policy]
    text = text.replace("[prices]", "[prices]\nvoice = 20")
    with pytest.raises(TariffError) as caught:
        load_tariff(write(tmp_path, text))
    assert caught.value.key == "prices.voice"
    with pytest.raises(TariffError) as caught:
        load_tariff(write(tmp_path, CONTRACT_EXAMPLE + "sim_bsic = 1\nfoo = 2\n"))
    assert caught.value.key == "policy.foo, policy.sim_bsic"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("sim_basic = 110", 'sim_basic = "110"'), "prices.sim_basic"),
        (("sim_basic = 110", "sim_basic = -1"), "prices.sim_basic"),
        (
            ('month_boundary_grace = ""', 'month_boundary_grace = "9am"'),
            "policy.month_boundary_grace",
        ),
        (('timezone = "Asia/Tokyo"', 'timezone = "Mars/Olympus"'), "policy.timezone"),
        (("tax_rate = 0.10", "tax_rate = nan"), "policy.tax_rate"),
    ],
)
def test_tariff_bad_values_name_the_key(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    with pytest.raises(TariffError) as caught:
        load_tariff(write(tmp_path, CONTRACT_EXAMPLE.replace(*change)))
    assert caught.value.key == key


def test_fixed_data_plan_needs_its_keys(tmp_path: Path) -> None:
    text = CONTRACT_EXAMPLE + '[data_plan]\nkind = "fixed"\nmonthly_fee = 1000\n'
    with pytest.raises(TariffError) as caught:
        load_tariff(write(tmp_path, text))
    assert caught.value.key == "data_plan.included_bytes"
    plan = load_tariff(write(tmp_path, text + "included_bytes = 1_000_000_000\n")).data_plan
    assert (plan.kind, plan.monthly_fee, plan.included_bytes) == ("fixed", Fraction(1000), 10**9)


def test_unreadable_or_invalid_tariff_is_a_tariff_error(tmp_path: Path) -> None:
    with pytest.raises(TariffError):
        load_tariff(tmp_path / "absent.toml")
    with pytest.raises(TariffError):
        load_tariff(write(tmp_path, "[prices\n"))
