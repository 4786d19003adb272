"""Late interest (002 §26; Decision, service rules §4).

Interest runs on the unpaid part of an invoice's total (tax included) from the day after
its due date to the day before payment (002's convention; 003 §24's "up to and including
the payment day" is a tariff setting), at the tariff's yearly rate over a 365-day year. It
is charged on the invoice of the month the late payment is made, outside consumption tax.
Each payment settles the oldest unpaid yen of its invoice, so partial payments are charged
for exactly the days their part stayed unpaid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction

from emulator.billing.events import Event
from emulator.billing.invoice import Line
from emulator.billing.ledger import Books
from emulator.billing.months import Month, due_date, month_str, parse_month


def payments_by_invoice(books: Books) -> dict[Month, list[Event]]:
    """Payments grouped by the invoice month they pay, each group in time order."""
    groups: dict[Month, list[Event]] = {}
    for payment in books.payments:
        groups.setdefault(parse_month(payment.fields["invoice_month"]), []).append(payment)
    for payments in groups.values():
        payments.sort(key=lambda p: (p.at, p.fields["amount"]))
    return groups


def interest_lines(
    books: Books,
    payments: dict[Month, list[Event]],
    month: Month,
    total_of: Callable[[Month], int],
) -> Iterator[Line]:
    """Late-interest lines of the invoice of ``month``, one per overdue invoice month."""
    tariff = books.tariff
    cal = books.calendar
    inclusive = tariff.late_interest_days == "after_due_to_payment_day"
    rate = tariff.late_interest_rate
    year = tariff.late_interest_year_days
    for invoice_month in sorted(payments):
        due = due_date(invoice_month)
        paid_before = 0
        total: int | None = None
        parts: list[tuple[int, int, str]] = []
        for payment in payments[invoice_month]:
            paid_month = cal.month_of(payment.at)
            if paid_month > month:
                break
            amount: int = payment.fields["amount"]
            if paid_month == month:
                paid_on = cal.local_date(payment.at)
                days = (paid_on - due).days - (0 if inclusive else 1)
                if days > 0:
                    if total is None:
                        total = total_of(invoice_month)
                    principal = min(amount, max(0, total - paid_before))
                    if principal > 0:
                        parts.append((principal, days, paid_on.isoformat()))
            paid_before += amount
        if not parts:
            continue
        exact = sum(
            (Fraction(principal * days) * rate / year for principal, days, _ in parts), Fraction(0)
        )
        daily = sum((Fraction(principal) * rate / year for principal, _, _ in parts), Fraction(0))
        span = "day before payment" if not inclusive else "payment day"
        paid = "; ".join(f"{p:,} yen paid on {on}, {d} days late" for p, d, on in parts)
        reason = (
            f"invoice {month_str(invoice_month)} (total {total:,}, due {due}): {paid}; "
            f"{float(rate * 100):g} %/year over {year} days, counted from the day after the due "
            f"date to the {span}; outside consumption tax"
        )
        yield Line(
            "late_interest",
            month_str(invoice_month),
            max(days for _, days, _ in parts),
            daily,
            math.floor(exact),
            "002 §26",
            reason,
        )
