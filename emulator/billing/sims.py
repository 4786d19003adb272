"""Charges per SIM: basic fee (001 §36), line maintenance fee (§37), data fee (§38).

Decisions (service rules §1.3):
- basic fee in month M = (registration periods overlapping M) × price, if the ICCID
  communicated at any time in M; else nothing.
- a SIM-month with no network-measured traffic but with device reports (`device_usage`)
  is billed from those reports, and its lines are marked estimated (`Books.estimated`).
- line maintenance fee arises in the 12th month of a silent window, if the SIM is still
  registered at the end of that month; the window starts at the registration month, or at
  the month after the last communication; a further fee every 12 more silent months. A SIM
  registered before 2022-08-01 counts its first window from 2022-08 (supplementary §2).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from emulator.billing.invoice import Line, make_line
from emulator.billing.ledger import Books, Usage
from emulator.billing.months import Month, month_str
from emulator.billing.periods import Period, Schedule

TRANSITION_MONTH: Month = 2022 * 12 + 7
"""2022-08: SIMs registered before it count their first silent window from it."""
BYTES_PER_MB = 1_000_000
ESTIMATED = "estimated: no network measurement this month, so the device's own reports count"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def communication_months(books: Books) -> dict[str, list[Month]]:
    """ICCID -> sorted months in which it communicated."""
    months: dict[str, list[Month]] = {}
    for month in sorted(books.traffic):
        for iccid in books.traffic[month]:
            months.setdefault(iccid, []).append(month)
    return months


@dataclass(frozen=True)
class SilentWindow:
    """The silence running at the end of a month within one registration period."""

    start: Month
    last_communication: Month | None
    transitional: bool

    def fee_number(self, month: Month) -> int:
        """Which fee (1st, 2nd, ...) arises in ``month``, or 0 if none does."""
        elapsed = month - self.start + 1
        if elapsed >= 12 and elapsed % 12 == 0:
            return elapsed // 12
        return 0


def silent_window(
    books: Books, iccid: str, period: Period, months: list[Month], upto: Month
) -> SilentWindow:
    """The silent window of ``period`` as it stands at the end of ``upto``."""
    low = bisect_left(months, period.start_month)
    high = bisect_right(months, upto)
    last: Month | None = None
    if high > low:
        candidate = months[high - 1]
        if candidate != period.start_month or books.traffic[candidate][iccid][2] >= period.start:
            last = candidate
    start = period.start_month if last is None else last + 1
    transitional = period.start_month < TRANSITION_MONTH and start < TRANSITION_MONTH
    if transitional:
        start = TRANSITION_MONTH
    return SilentWindow(start, last, transitional)


def describe_window(books: Books, iccid: str, period: Period, window: SilentWindow) -> str:
    """Why a silent window started where it did."""
    local = books.calendar.local_date
    if window.transitional:
        return f"registered {local(period.start)}, before 2022-08-01: counted from 2022-08"
    if window.last_communication is None:
        return f"registered {local(period.start)}, never communicated since"
    last_at = books.traffic[window.last_communication][iccid][2]
    return f"last communicated on {local(last_at)}"


class SimCharges:
    """Prices the SIM-level items of one month."""

    def __init__(self, books: Books, schedule: Schedule, comm: dict[str, list[Month]]) -> None:
        self.books = books
        self.schedule = schedule
        self.comm = comm
        self.prices = books.tariff.prices

    def lines(self, month: Month) -> Iterator[Line]:
        """All SIM basic, line maintenance and data lines of the month."""
        traffic = self.books.traffic.get(month, {})
        yield from self._basic(month, traffic)
        yield from self._line_maintenance(month)
        yield from self._data(month, traffic)

    def _basic(self, month: Month, traffic: dict[str, Usage]) -> Iterator[Line]:
        price = self.prices["sim_basic"]
        local = self.books.calendar.local_date
        for iccid, periods in self.schedule.sims.items():
            usage = traffic.get(iccid)
            if usage is None:
                continue
            count = sum(1 for period in periods if period.overlaps(month))
            if count:
                estimated = (month, iccid) in self.books.estimated
                reason = f"communicated on {local(usage[1])}"
                if estimated:
                    reason += f" ({ESTIMATED})"
                if count > 1:
                    reason += f"; registered {_times(count)} this month"
                yield make_line(
                    "sim_basic", iccid, count, price, "001 §36", reason, estimated=estimated
                )

    def _line_maintenance(self, month: Month) -> Iterator[Line]:
        price = self.prices["line_maintenance"]
        for iccid, periods in self.schedule.sims.items():
            reasons = []
            transitional = False
            for period in periods:
                if not period.open_after(month):
                    continue
                window = silent_window(self.books, iccid, period, self.comm.get(iccid, []), month)
                number = window.fee_number(month)
                if number:
                    why = describe_window(self.books, iccid, period, window)
                    transitional |= window.transitional
                    reasons.append(
                        f"{why}; {12 * number} silent months {month_str(window.start)}.."
                        f"{month_str(month)}, still registered"
                    )
            if reasons:
                clause = "001 §37, supplementary §2" if transitional else "001 §37"
                reason = "; ".join(reasons) + f"; due on the 10th of {month_str(month + 1)}"
                yield make_line("line_maintenance", iccid, len(reasons), price, clause, reason)

    def _data(self, month: Month, traffic: dict[str, Usage]) -> Iterator[Line]:
        price = self.prices["data_per_mb"]
        plan = self.books.tariff.data_plan
        when = month_str(month)
        estimated = {iccid for iccid in traffic if (month, iccid) in self.books.estimated}
        if plan.kind == "per_volume":
            for iccid, usage in traffic.items():
                volume: int = usage[0]
                if iccid in estimated:
                    reason = f"{volume:,} bytes up + down reported by the device in {when}; "
                    reason += ESTIMATED
                else:
                    reason = f"{volume:,} bytes up + down measured by the network in {when}"
                yield make_line(
                    "data",
                    iccid,
                    volume,
                    price,
                    "001 §38.1",
                    reason,
                    per=BYTES_PER_MB,
                    estimated=iccid in estimated,
                )
            return
        total: int = sum(usage[0] for usage in traffic.values())
        if any(p.overlaps(month) for ps in self.schedule.sims.values() for p in ps):
            reason = (
                f"fixed data plan: {plan.included_bytes:,} bytes included; "
                f"{total:,} bytes used by {len(traffic)} SIM(s) in {when}"
            )
            yield make_line("data_plan", "account", 1, plan.monthly_fee, "001 §38.2", reason)
        over = max(0, total - plan.included_bytes)
        reason = f"{over:,} bytes over the plan's {plan.included_bytes:,} included bytes"
        if estimated:
            reason += f"; {len(estimated)} SIM(s) counted from device reports: {ESTIMATED}"
        yield make_line(
            "data",
            "overage",
            over,
            price,
            "001 §38.2",
            reason,
            per=BYTES_PER_MB,
            estimated=bool(estimated),
        )
