"""Billing months and the local calendar (service rules §0, §4).

A month is kept as one integer, ``year * 12 + (month - 1)``, so that "12 months later" is
``m + 12``. Every stored instant is UTC; the zone (Asia/Tokyo by default) is used only to
assign an instant to its billing month, and the month-boundary grace (004 §13) moves
*ending* events stamped early on the 1st back into the previous month.
"""

from __future__ import annotations

import calendar as _calendar
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

Month = int
"""A billing month as ``year * 12 + (month - 1)``."""

_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR = 1970
LAST_YEAR = 8999
"""The years the books support (the emulator's clock has the same range), so that month
arithmetic (due dates, late interest, the grace) stays far from datetime's year 9999."""
_ONE_MICROSECOND = timedelta(microseconds=1)


def parse_month(text: str) -> Month:
    """``"2026-03"`` -> month number; raises ValueError on anything else."""
    match = _MONTH_RE.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    if not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise ValueError(f"month {text!r} is outside the supported years {FIRST_YEAR}-{LAST_YEAR}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_str(month: Month) -> str:
    """Month number -> ``"YYYY-MM"``."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def month_of_date(day: date) -> Month:
    """The month a calendar date falls in."""
    return day.year * 12 + day.month - 1


def first_day(month: Month) -> date:
    """The 1st of the month."""
    return date(month // 12, month % 12 + 1, 1)


def last_day(month: Month) -> date:
    """The last calendar day of the month."""
    return first_day(month + 1) - timedelta(days=1)


def days_in_month(month: Month) -> int:
    """Number of days of the month (28-31)."""
    return _calendar.monthrange(month // 12, month % 12 + 1)[1]


def due_date(month: Month) -> date:
    """Charges of a month are payable by the 10th of the next month (001 §4.1, §37.3)."""
    return first_day(month + 1).replace(day=10)


def anniversary(start: date, years: int) -> date:
    """``start`` plus whole years; 29 February becomes 1 March in common years."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def _as_utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()}: billing instants need an offset")
    return at.astimezone(UTC)


class Calendar:
    """Assigns UTC instants to local billing months, with a per-day cache.

    ``grace`` is the tariff's ``month_boundary_grace``: when set, an ending event stamped
    on the 1st before that local time counts as the last instant of the previous month.
    """

    def __init__(self, zone: tzinfo, grace: time | None = None) -> None:
        self.zone = zone
        self.grace = grace
        # UTC proleptic ordinal -> month when the whole UTC day lies in one local month,
        # else -1 (a boundary day: decided per instant).
        self.day_month: dict[int, Month] = {}

    def local(self, at: datetime) -> datetime:
        """The instant in the billing zone."""
        return at.astimezone(self.zone)

    def local_date(self, at: datetime) -> date:
        """The local calendar date of an instant."""
        return at.astimezone(self.zone).date()

    def month_of(self, at: datetime) -> Month:
        """The billing month of an instant (the hot path: cached per UTC day)."""
        if at.tzinfo is not UTC:
            at = _as_utc(at)
        day = at.toordinal()
        month = self.day_month.get(day)
        if month is None:
            month = self._classify_day(day)
        if month >= 0:
            return month
        local = at.astimezone(self.zone)
        return local.year * 12 + local.month - 1

    def _classify_day(self, day: int) -> Month:
        start = datetime.fromordinal(day).replace(tzinfo=UTC)
        end = start + timedelta(days=1) - _ONE_MICROSECOND
        first = self.local(start)
        last = self.local(end)
        month = first.year * 12 + first.month - 1
        if last.year * 12 + last.month - 1 != month:
            month = -1
        self.day_month[day] = month
        return month

    def month_start(self, month: Month) -> datetime:
        """The first instant of a local month, in UTC."""
        local = datetime.combine(first_day(month), time(0), tzinfo=self.zone)
        return local.astimezone(UTC)

    def ending(self, at: datetime) -> tuple[datetime, Month]:
        """Effective instant and month of an *ending* event, after the grace rule."""
        if self.grace is not None:
            local = self.local(at)
            if local.day == 1 and local.time() < self.grace:
                month = local.year * 12 + local.month - 1 - 1
                return self.month_start(month + 1) - _ONE_MICROSECOND, month
        return at, self.month_of(at)
