"""Charges of gateways (001 §39), sub-options (§40; the platform's §50.3, §56), the
platform (§55) and SMS (§70)."""

from __future__ import annotations

from collections.abc import Iterator

from emulator.billing.invoice import Line, make_line
from emulator.billing.ledger import Books
from emulator.billing.months import Month, month_str
from emulator.billing.periods import PROJECT_OPTIONS, Period, Schedule


def _span(books: Books, period: Period) -> str:
    local = books.calendar.local_date
    text = f"from {local(period.start)}"
    if period.end is not None:
        text += f" to {local(period.end)}"
        if period.end_month is not None and period.end_month != books.calendar.month_of(period.end):
            text += f" (counted in {month_str(period.end_month)}: month-boundary grace)"
    return text


def _count_phrase(count: int) -> str:
    return "" if count == 1 else f"; {count} periods overlap this month"


def gateway_lines(books: Books, schedule: Schedule, month: Month) -> Iterator[Line]:
    """Per gateway per month from creation to deletion, whole months, no exemption."""
    price = books.tariff.prices["gateway"]
    for gateway, periods in schedule.gateways.items():
        touching = [p for p in periods if p.overlaps(month)]
        if touching:
            spans = ", ".join(_span(books, p) for p in touching)
            reason = f"existed {spans}; whole months{_count_phrase(len(touching))}"
            yield make_line("gateway", gateway, len(touching), price, "001 §39", reason)


def option_clause(option: str) -> str:
    """The clause of a sub-option's fee: §40 (SIM, gateway) or §50.3 + §56 (project)."""
    return "001 §50.3, §56" if option in PROJECT_OPTIONS else "001 §40"


def option_lines(books: Books, schedule: Schedule, month: Month) -> Iterator[Line]:
    """One monthly fee per option and subject for every month it was set at any time."""
    for (option, subject), periods in schedule.options.items():
        touching = [p for p in periods if p.overlaps(month)]
        if touching:
            item = f"option_{option}"
            spans = ", ".join(_span(books, p) for p in touching)
            reason = f"set {spans}; whole months"
            price = books.tariff.price(item)
            yield make_line(item, subject, 1, price, option_clause(option), reason)


def platform_lines(books: Books, schedule: Schedule, month: Month) -> Iterator[Line]:
    """Per device ID per issue overlapping a month in which it carried platform traffic."""
    price = books.tariff.prices["platform_basic"]
    traffic = books.platform.get(month, {})
    local = books.calendar.local_date
    for iccid, periods in schedule.devices.items():
        usage = traffic.get(iccid)
        if usage is None:
            continue
        touching = [p for p in periods if p.overlaps(month)]
        if not touching:
            continue
        device = schedule.device_ids.get(iccid, iccid)
        reason = f"{usage[0]:,} platform message(s), first on {local(usage[1])}"
        if len(touching) > 1:
            projects = ", ".join(p.project for p in touching)
            reason += f"; device ID issued {len(touching)} times this month ({projects})"
        yield make_line("platform_basic", device, len(touching), price, "001 §55", reason)


def sms_lines(books: Books, month: Month) -> Iterator[Line]:
    """Per message sent in the month, delivered or not."""
    for (kind, subject), usage in sorted(books.sms.get(month, {}).items()):
        item = f"sms_{kind}"
        sent, delivered = usage[0], usage[1]
        reason = f"{sent:,} sent, {delivered:,} delivered; charged whether delivered or not"
        yield make_line(item, subject, sent, books.tariff.prices[item], "001 §70", reason)
