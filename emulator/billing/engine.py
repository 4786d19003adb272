"""The pricer: books + tariff -> invoices for any month, memoised per month.

Late interest needs the total of an earlier invoice, so pricing one month may price
earlier months too; each month is priced once per Pricer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from emulator.billing.contracts import contracts_as_of
from emulator.billing.events import Event
from emulator.billing.interest import interest_lines, payments_by_invoice
from emulator.billing.invoice import Invoice, Line, assemble
from emulator.billing.ledger import Books
from emulator.billing.months import Month, due_date, month_str, parse_month
from emulator.billing.outage import outage_lines
from emulator.billing.periods import build_schedule
from emulator.billing.services import gateway_lines, option_lines, platform_lines, sms_lines
from emulator.billing.sims import SimCharges, communication_months, describe_window, silent_window
from emulator.billing.tariff import Tariff


@dataclass(frozen=True)
class Alert:
    """A SIM that will owe a line maintenance fee in ``month`` unless it communicates or is
    deleted before that month ends."""

    iccid: str
    month: str
    due_date: date
    fee: Fraction
    silent_since: str
    reason: str

    def to_json(self) -> dict[str, object]:
        """JSON form."""
        fee = int(self.fee) if self.fee.denominator == 1 else float(self.fee)
        return {
            "iccid": self.iccid,
            "month": self.month,
            "due_date": self.due_date.isoformat(),
            "fee": fee,
            "silent_since": self.silent_since,
            "reason": self.reason,
        }


class Pricer:
    """Prices the months of one set of books."""

    def __init__(self, books: Books) -> None:
        books.use_device_usage()
        self.books = books
        self.tariff = books.tariff
        self.schedule = build_schedule(books.lifecycle, books.calendar)
        self._check_option_prices()
        self.comm = communication_months(books)
        self.sims = SimCharges(books, self.schedule, self.comm)
        self.payments = payments_by_invoice(books)
        self._memo: dict[Month, Invoice] = {}

    def _check_option_prices(self) -> None:
        """Every option the log sets has a price (optional keys may be absent): else
        TariffError naming the key, for every month alike, never a silent 0."""
        for option, subject in sorted(self.schedule.options):
            self.tariff.price(f"option_{option}", f"option {option!r} set for {subject}")

    def invoice(self, month: Month) -> Invoice:
        """The invoice of a month (memoised).

        Late interest needs earlier invoices' totals: those months are priced first, oldest
        first, so the memo answers every lookup and no recursion grows with the log.
        """
        cached = self._memo.get(month)
        if cached is not None:
            return cached
        for needed in sorted(self._needed(month)):
            self._memo[needed] = self._price(needed)
        return self._memo[month]

    def _needed(self, month: Month) -> set[Month]:
        """The month and every earlier month whose total its late interest may need."""
        month_of = self.books.calendar.month_of
        needed: set[Month] = set()
        todo = [month]
        while todo:
            current = todo.pop()
            if current in needed or current in self._memo:
                continue
            needed.add(current)
            for invoice_month, payments in self.payments.items():
                if invoice_month < current and any(month_of(p.at) == current for p in payments):
                    todo.append(invoice_month)
        return needed

    def _price(self, month: Month) -> Invoice:
        books, schedule = self.books, self.schedule
        lines: list[Line] = [
            *self.sims.lines(month),
            *gateway_lines(books, schedule, month),
            *option_lines(books, schedule, month),
            *platform_lines(books, schedule, month),
            *sms_lines(books, month),
        ]
        lines += outage_lines(books, month, lines)
        lines += interest_lines(books, self.payments, month, self._total)
        contracts = contracts_as_of(books, schedule, month)
        return assemble(month, lines, self.tariff, contracts)

    def _total(self, month: Month) -> int:
        return self.invoice(month).total

    def alerts(self, as_of: Month) -> list[Alert]:
        """SIMs that owe a line maintenance fee next month if nothing happens after ``as_of``."""
        upcoming = as_of + 1
        fee = self.tariff.prices["line_maintenance"]
        result = []
        for iccid, periods in sorted(self.schedule.sims.items()):
            for period in periods:
                if not period.open_after(as_of):
                    continue
                window = silent_window(self.books, iccid, period, self.comm.get(iccid, []), as_of)
                number = window.fee_number(upcoming)
                if number:
                    why = describe_window(self.books, iccid, period, window)
                    reason = (
                        f"{why}; month {12 * number} of silence since {month_str(window.start)} "
                        f"is {month_str(upcoming)}: communicate or delete it before "
                        f"{month_str(upcoming)} ends"
                    )
                    result.append(
                        Alert(
                            iccid,
                            month_str(upcoming),
                            due_date(upcoming),
                            fee,
                            month_str(window.start),
                            reason,
                        )
                    )
        return result


def price_month(events: Iterable[Event], month: str, tariff: Tariff) -> Invoice:
    """Price one JST month ("YYYY-MM") of an event log; events may come in any order."""
    target = parse_month(month)
    return Pricer(Books(tariff).add_all(events)).invoice(target)


@dataclass(frozen=True)
class Forecast:
    """Invoices of a range of months and the line maintenance alerts for the month after."""

    invoices: tuple[Invoice, ...]
    alerts: tuple[Alert, ...]
    alert_month: str

    def to_json(self) -> dict[str, object]:
        """JSON form: ``invoices``, ``total`` over the range, ``line_maintenance_alerts``."""
        return {
            "from": self.invoices[0].month,
            "to": self.invoices[-1].month,
            "currency": "JPY",
            "invoices": [invoice.to_json() for invoice in self.invoices],
            "total": sum(invoice.total for invoice in self.invoices),
            "line_maintenance_alerts": {
                "month": self.alert_month,
                "sims": [alert.to_json() for alert in self.alerts],
            },
        }


def price_range(events: Iterable[Event], first: str, last: str, tariff: Tariff) -> Forecast:
    """Price every month from ``first`` to ``last`` and list next month's line-fee alerts."""
    start, end = parse_month(first), parse_month(last)
    if end < start:
        raise ValueError(f"--to {last} is before --from {first}")
    pricer = Pricer(Books(tariff).add_all(events))
    invoices = tuple(pricer.invoice(month) for month in range(start, end + 1))
    return Forecast(invoices, tuple(pricer.alerts(end)), month_str(end + 1))
