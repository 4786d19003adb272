"""Outage credit (002 §43; Decision, service rules §4), from ``outage`` events (an addition).

Liability arises only after 24 consecutive hours of total unavailability and counts whole
24-hour blocks; the credit is floor(monthly fee × whole days / days in the month), capped at
the monthly fee. The "monthly fee" of a subject is the sum of its recurring lines on the
same invoice; the subject ``account`` means every recurring line. The credit is on the
invoice of the month in which the outage began.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import timedelta
from fractions import Fraction

from emulator.billing.events import parse_timestamp
from emulator.billing.invoice import Line
from emulator.billing.ledger import Books
from emulator.billing.months import Month, days_in_month

MONTHLY_ITEMS = frozenset(
    {
        "sim_basic",
        "gateway",
        "option_ip",
        "option_device_lock",
        "option_dns",
        "option_service_adapter",
        "option_file_transfer",
        "platform_basic",
        "data_plan",
    }
)
"""Recurring monthly fees an outage credit is measured against."""
ACCOUNT = "account"


def _whole_days(at_hours: float | None, duration: timedelta | None) -> int:
    if duration is not None:
        return duration // timedelta(days=1)
    assert at_hours is not None
    return math.floor(Fraction(at_hours) / 24)


def outage_lines(books: Books, month: Month, lines: Iterable[Line]) -> Iterator[Line]:
    """Credit lines (negative amounts) for the outages that began in the month."""
    if not books.tariff.outage_credit:
        return
    cal = books.calendar
    days: dict[str, int] = {}
    notes: dict[str, list[str]] = {}
    # In time order (whole fields break ties), so the reason reads the same for any log order.
    in_order = sorted(books.outages, key=lambda e: (e.at, json.dumps(e.fields, sort_keys=True)))
    for outage in in_order:
        if cal.month_of(outage.at) != month:
            continue
        fields = outage.fields
        if "end" in fields:
            whole = _whole_days(None, parse_timestamp(fields["end"]) - outage.at)
        else:
            whole = _whole_days(fields["hours"], None)
        subject = fields["subject"]
        days[subject] = days.get(subject, 0) + whole
        notes.setdefault(subject, []).append(
            f"{cal.local(outage.at):%Y-%m-%d %H:%M}: {whole} day(s)"
        )
    if not days:
        return
    recurring = [line for line in lines if line.item in MONTHLY_ITEMS]
    in_month = days_in_month(month)
    for subject in sorted(days):
        counted = min(days[subject], in_month)
        fee = sum(line.amount for line in recurring if subject in (ACCOUNT, line.subject))
        credit = math.floor(Fraction(fee * counted, in_month))
        if counted == 0 or credit == 0:
            continue
        reason = (
            f"outage from {', '.join(notes[subject])} in whole 24 h blocks; "
            f"monthly fee {fee:,} × {counted}/{in_month} days"
        )
        yield Line(
            "outage_credit", subject, counted, -Fraction(fee, in_month), -credit, "002 §43", reason
        )
