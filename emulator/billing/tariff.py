"""The tariff: every price and billing policy, read from TOML (service rules §1.3 Decision).

No price lives in the engine's logic. Numbers are read exactly (``5.5`` is 11/2, never a
binary float), so rounding down per line is exact. All ``[prices]`` keys of contracts §2
are required; the platform sub-option prices (``OPTIONAL_PRICE_KEYS``) are optional, and
pricing a log that needs an absent one fails naming it. ``[policy]`` keys and the
``[data_plan]`` table are optional with the defaults documented in docs/billing.md.
Unknown sections or keys are refused by name.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulator.billing.errors import TariffError

PRICE_KEYS = (
    "sim_basic",
    "line_maintenance",
    "data_per_mb",
    "gateway",
    "option_ip",
    "option_device_lock",
    "option_dns",
    "platform_basic",
    "sms_2fa",
    "sms_a2p",
)
OPTIONAL_PRICE_KEYS = ("option_service_adapter", "option_file_transfer")
"""Prices a tariff may leave out (contracts §2's example has none of them); a log that
needs one then fails with TariffError naming it, never a silent 0."""
INTEREST_DAY_RULES = ("after_due_to_before_payment", "after_due_to_payment_day")
DATA_PLAN_KINDS = ("per_volume", "fixed")
_POLICY_KEYS = (
    "timezone",
    "tax_rate",
    "late_interest_rate",
    "late_interest_year_days",
    "late_interest_days",
    "month_boundary_grace",
    "outage_credit",
    "pin_attempts",
    "puk_attempts",
)
_DATA_PLAN_KEYS = ("kind", "monthly_fee", "included_bytes")


@dataclass(frozen=True)
class DataPlan:
    """The account's data plan (001 §38): per volume, or a fixed fee covering a volume."""

    kind: str = "per_volume"
    monthly_fee: Fraction = Fraction(0)
    included_bytes: int = 0


@dataclass(frozen=True)
class Tariff:
    """Prices (yen, before tax) and billing policy."""

    prices: dict[str, Fraction]
    timezone: str = "Asia/Tokyo"
    tax_rate: Fraction = Fraction(1, 10)
    late_interest_rate: Fraction = Fraction(146, 1000)
    late_interest_year_days: int = 365
    late_interest_days: str = "after_due_to_before_payment"
    month_boundary_grace: time | None = None
    outage_credit: bool = True
    pin_attempts: int = 3
    puk_attempts: int = 10
    data_plan: DataPlan = field(default_factory=DataPlan)

    def price(self, key: str, needed_for: str = "") -> Fraction:
        """Unit price of a price key; TariffError naming ``prices.KEY`` when it is absent."""
        try:
            return self.prices[key]
        except KeyError:
            why = f"missing price (needed for {needed_for})" if needed_for else "missing price"
            raise TariffError(f"prices.{key}", why) from None

    @property
    def zone(self) -> ZoneInfo:
        """The billing time zone."""
        return ZoneInfo(self.timezone)


def _number(key: str, value: object, *, allow_zero: bool = True) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
        raise TariffError(key, f"must be a number (got {value!r})")
    # a float given in code is read as the decimal it prints as (0.1 -> 1/10)
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    if isinstance(exact, Decimal) and not exact.is_finite():
        raise TariffError(key, f"must be a finite number (got {value})")
    number = Fraction(exact)
    if number < 0 or (number == 0 and not allow_zero):
        raise TariffError(key, f"must be positive (got {value})")
    return number


def _integer(key: str, value: object, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TariffError(key, f"must be an integer >= {low} (got {value!r})")
    return value


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise TariffError(name, "must be a table")
    return table


def _refuse_unknown(prefix: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        names = ", ".join(f"{prefix}{key}" for key in unknown)
        raise TariffError(names, f"unknown tariff key{'s' if len(unknown) > 1 else ''}")


def _grace(value: object) -> time | None:
    key = "policy.month_boundary_grace"
    if not isinstance(value, str):
        raise TariffError(key, 'must be "" or "HH:MM"')
    if value == "":
        return None
    match = re.fullmatch(r"(\d{2}):(\d{2})", value)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise TariffError(key, f'must be "" or "HH:MM" (got {value!r})')
    grace = time(int(match.group(1)), int(match.group(2)))
    return None if grace == time(0) else grace


def tariff_from_dict(doc: dict[str, Any]) -> Tariff:
    """Validate a decoded TOML document (floats as Decimal) into a Tariff."""
    _refuse_unknown("", doc, ("prices", "policy", "data_plan"))
    prices_table = _table(doc, "prices")
    _refuse_unknown("prices.", prices_table, PRICE_KEYS + OPTIONAL_PRICE_KEYS)
    prices: dict[str, Fraction] = {}
    for key in PRICE_KEYS:
        if key not in prices_table:
            raise TariffError(f"prices.{key}", "missing price")
        prices[key] = _number(f"prices.{key}", prices_table[key])
    for key in OPTIONAL_PRICE_KEYS:
        if key in prices_table:
            prices[key] = _number(f"prices.{key}", prices_table[key])
    policy = _table(doc, "policy")
    _refuse_unknown("policy.", policy, _POLICY_KEYS)
    options: dict[str, Any] = {}
    if "timezone" in policy:
        try:
            ZoneInfo(str(policy["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise TariffError("policy.timezone", f"unknown zone {policy['timezone']!r}") from None
        options["timezone"] = str(policy["timezone"])
    for key in ("tax_rate", "late_interest_rate"):
        if key in policy:
            options[key] = _number(f"policy.{key}", policy[key])
    if "late_interest_year_days" in policy:
        options["late_interest_year_days"] = _integer(
            "policy.late_interest_year_days", policy["late_interest_year_days"], 1
        )
    if "late_interest_days" in policy:
        if policy["late_interest_days"] not in INTEREST_DAY_RULES:
            raise TariffError(
                "policy.late_interest_days", f"must be one of {', '.join(INTEREST_DAY_RULES)}"
            )
        options["late_interest_days"] = policy["late_interest_days"]
    if "month_boundary_grace" in policy:
        options["month_boundary_grace"] = _grace(policy["month_boundary_grace"])
    if "outage_credit" in policy:
        if not isinstance(policy["outage_credit"], bool):
            raise TariffError("policy.outage_credit", "must be true or false")
        options["outage_credit"] = policy["outage_credit"]
    for key in ("pin_attempts", "puk_attempts"):
        if key in policy:
            options[key] = _integer(f"policy.{key}", policy[key], 1)
    options["data_plan"] = _data_plan(_table(doc, "data_plan"))
    return Tariff(prices=prices, **options)


def _data_plan(table: dict[str, Any]) -> DataPlan:
    _refuse_unknown("data_plan.", table, _DATA_PLAN_KEYS)
    kind = table.get("kind", "per_volume")
    if kind not in DATA_PLAN_KINDS:
        raise TariffError("data_plan.kind", f"must be one of {', '.join(DATA_PLAN_KINDS)}")
    if kind == "per_volume":
        return DataPlan()
    for key in ("monthly_fee", "included_bytes"):
        if key not in table:
            raise TariffError(f"data_plan.{key}", "missing (required when kind = 'fixed')")
    return DataPlan(
        kind="fixed",
        monthly_fee=_number("data_plan.monthly_fee", table["monthly_fee"]),
        included_bytes=_integer("data_plan.included_bytes", table["included_bytes"]),
    )


def load_tariff(path: Path | None = None) -> Tariff:
    """Read a tariff TOML file; ``None`` loads the shipped default (example prices)."""
    try:
        if path is None:
            text = (
                resources.files("emulator.billing")
                .joinpath("default_tariff.toml")
                .read_text(encoding="utf-8")
            )
        else:
            text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TariffError("", f"cannot read tariff {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError("", f"tariff {path or 'default'} is not valid TOML: {exc}") from None
    return tariff_from_dict(doc)
