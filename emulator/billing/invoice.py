"""Invoice lines and invoices (contracts §2), with the rounding rules of 002 §27.

Amounts are exact fractions until a line is made: ``quantity × unit price`` is rounded
down once per line (Decision, §4). Tax is computed once per invoice on the taxable
subtotal (everything but late interest) and rounded down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from emulator.billing.contracts import Contract
from emulator.billing.months import Month, due_date, month_str
from emulator.billing.tariff import Tariff

UNTAXED_ITEMS = frozenset({"late_interest"})
"""Items outside consumption tax (002 §26 interest is not a fee for a service)."""


def json_number(value: Fraction) -> int | float:
    """An exact amount for JSON: an integer when whole, else a float (4 decimals at most)."""
    if value.denominator == 1:
        return int(value)
    return float(round(value, 4))


@dataclass(frozen=True)
class Line:
    """One invoice line: what, for whom, how many, at what price, why."""

    item: str
    subject: str
    quantity: int
    unit_price: Fraction
    amount: int
    clause: str
    reason: str
    estimated: bool = False
    """True when the quantity comes from device reports, not the network's measurement."""

    def to_json(self) -> dict[str, object]:
        """The contract's line object, plus ``reason`` (and ``estimated: true`` if so)."""
        doc: dict[str, object] = {
            "item": self.item,
            "subject": self.subject,
            "quantity": self.quantity,
            "unit_price": json_number(self.unit_price),
            "amount": self.amount,
            "clause": self.clause,
            "reason": self.reason,
        }
        if self.estimated:
            doc["estimated"] = True
        return doc


def make_line(
    item: str,
    subject: str,
    quantity: int,
    unit_price: Fraction,
    clause: str,
    reason: str,
    *,
    per: int = 1,
    estimated: bool = False,
) -> Line:
    """A line whose amount is floor(quantity × unit_price / per), rounded once."""
    amount = math.floor(quantity * unit_price / per)
    return Line(item, subject, quantity, unit_price, amount, clause, reason, estimated)


@dataclass(frozen=True)
class Invoice:
    """One month's invoice."""

    month: str
    lines: tuple[Line, ...]
    subtotal: int
    tax: int
    total: int
    due_date: date
    tax_rate: Fraction = Fraction(1, 10)
    currency: str = "JPY"
    contracts: tuple[Contract, ...] = field(default=())

    @property
    def late_interest(self) -> int:
        """Sum of the untaxed late-interest lines."""
        return sum(line.amount for line in self.lines if line.item in UNTAXED_ITEMS)

    def to_json(self) -> dict[str, object]:
        """The contract's invoice JSON, with a ``contracts`` section beside it."""
        return {
            "month": self.month,
            "currency": self.currency,
            "lines": [line.to_json() for line in self.lines],
            "subtotal": self.subtotal,
            "tax": self.tax,
            "total": self.total,
            "due_date": self.due_date.isoformat(),
            "contracts": [contract.to_json() for contract in self.contracts],
        }


def assemble(
    month: Month, lines: Iterable[Line], tariff: Tariff, contracts: tuple[Contract, ...] = ()
) -> Invoice:
    """Sort the lines (item, then subject), drop quantity-0 lines, add up, tax."""
    kept = sorted(
        (line for line in lines if line.quantity != 0), key=lambda line: (line.item, line.subject)
    )
    subtotal = sum(line.amount for line in kept)
    taxable = sum(line.amount for line in kept if line.item not in UNTAXED_ITEMS)
    tax = math.floor(max(taxable, 0) * tariff.tax_rate)
    return Invoice(
        month=month_str(month),
        lines=tuple(kept),
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        due_date=due_date(month),
        tax_rate=tariff.tax_rate,
        contracts=contracts,
    )
