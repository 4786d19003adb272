"""Contract state per service (001 §34 + §49, §53 + §60, §68 + §74), as of a month's end.

- Secure Mobile Connect forms at the earlier of the first SIM registration and the first
  gateway creation (§34.1); Mono Platform at the first project (§53.1). Each runs a year
  from its formation and extends by a year at each end, unless full deletion (every SIM and
  gateway; every project) ends it at the end of the month of that deletion (§49, §60). A
  creation later in that same month withdraws the deletion; a later one forms a new
  contract.
- SMS is applied for per kind (§68): a contract per kind, formed (in this log) at its first
  message; a cancellation notice on the 1st-20th ends it at the end of that month, on the
  21st or later at the end of the next month (§74).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from emulator.billing.events import SMS_KINDS
from emulator.billing.ledger import Books
from emulator.billing.months import Calendar, Month, anniversary, last_day, month_str
from emulator.billing.periods import Schedule


@dataclass(frozen=True)
class Contract:
    """One contract of one service, as seen at the end of the invoice month."""

    service: str
    clause: str
    formed: datetime
    status: str
    ends_on: date | None
    term_start: date | None
    term_end: date | None
    renews_on: date | None
    reason: str

    def to_json(self) -> dict[str, object]:
        """JSON form (dates as ISO text)."""

        def iso(day: date | None) -> str | None:
            return None if day is None else day.isoformat()

        return {
            "service": self.service,
            "clause": self.clause,
            "formed": self.formed.isoformat(),
            "status": self.status,
            "term_start": iso(self.term_start),
            "term_end": iso(self.term_end),
            "renews_on": iso(self.renews_on),
            "ends_on": iso(self.ends_on),
            "reason": self.reason,
        }


@dataclass
class _Span:
    formed: datetime
    by: str
    end: Month | None = None
    ended_at: datetime | None = None


_SMC = {
    "sim_registered": ("iccid", True),
    "sim_deleted": ("iccid", False),
    "gateway_created": ("gateway", True),
    "gateway_deleted": ("gateway", False),
}
_WHAT = {
    "sim_registered": "the registration of SIM",
    "gateway_created": "the creation of gateway",
    "project_created": "the creation of project",
}
_PLATFORM = {"project_created": ("project", True), "project_deleted": ("project", False)}


def _full_deletion_spans(
    schedule: Schedule, month: Month, kinds: dict[str, tuple[str, bool]]
) -> list[_Span]:
    spans: list[_Span] = []
    live: set[str] = set()
    pending: tuple[Month, datetime] | None = None
    for item in schedule.timeline:
        if item.month > month:
            break
        kind = item.event.type
        if kind not in kinds:
            continue
        name, creates = kinds[kind]
        key = f"{name}:{item.event.fields[name]}"
        if creates:
            if pending is not None and item.month > pending[0]:
                spans[-1].end, spans[-1].ended_at = pending
            pending = None
            if not spans or spans[-1].end is not None:
                spans.append(_Span(item.at, f"{_WHAT[kind]} {item.event.fields[name]}"))
            live.add(key)
        elif key in live:
            live.discard(key)
            if not live:
                pending = (item.month, item.at)
    if pending is not None:
        spans[-1].end, spans[-1].ended_at = pending
    return spans


def _term(formed: date, until: date) -> tuple[date, date]:
    years = max(0, until.year - formed.year - 1)
    while anniversary(formed, years + 1) <= until:
        years += 1
    start = anniversary(formed, years)
    end = anniversary(formed, years + 1)
    return start, date.fromordinal(end.toordinal() - 1)


def _renewing(
    service: str, clause: str, what: str, spans: list[_Span], month: Month, cal: Calendar
) -> list[Contract]:
    result = []
    for span in spans:
        formed = cal.local(span.formed)
        if span.end is not None and span.ended_at is not None:
            ends_on = last_day(span.end)
            deleted = cal.local_date(span.ended_at)
            start, end = _term(formed.date(), ends_on)
            reason = (
                f"formed by {span.by} on {formed.date()}; full deletion ({what}) on {deleted}: "
                f"ends at the end of {month_str(span.end)}"
            )
            result.append(
                Contract(service, clause, formed, "ended", ends_on, start, end, None, reason)
            )
            continue
        start, end = _term(formed.date(), last_day(month))
        renews = date.fromordinal(end.toordinal() + 1)
        reason = (
            f"formed by {span.by} on {formed.date()}; extends by a year on {renews} "
            f"unless full deletion ({what}) by then"
        )
        result.append(Contract(service, clause, formed, "active", None, start, end, renews, reason))
    return result


def _sms(kind: str, books: Books, schedule: Schedule, month: Month) -> list[Contract]:
    cal = books.calendar
    moments: list[tuple[datetime, int, Month]] = []
    for sent_month, table in books.sms.items():
        if sent_month <= month:
            firsts = [usage[2] for (k, _), usage in table.items() if k == kind]
            if firsts:
                moments.append((min(firsts), 0, sent_month))
    for item in schedule.timeline:
        event = item.event
        if item.month <= month and event.type == "sms_cancelled" and event.fields["kind"] == kind:
            moments.append((item.at, 1, item.month))
    moments.sort()
    spans: list[_Span] = []
    for at, is_notice, at_month in moments:
        current = spans[-1] if spans else None
        if not is_notice:
            if current is None or (current.end is not None and at_month > current.end):
                spans.append(_Span(at, "its first message"))
        elif current is not None and current.end is None:
            day = cal.local_date(at)
            current.end = at_month if day.day <= 20 else at_month + 1
            current.ended_at = at
    result = []
    for span in spans:
        formed = cal.local(span.formed)
        clause = "001 §68, §70, §74"
        if span.end is None or span.ended_at is None:
            reason = f"formed by its first message on {formed.date()}; no cancellation notice"
            result.append(
                Contract(f"sms_{kind}", clause, formed, "active", None, None, None, None, reason)
            )
            continue
        status = "ended" if span.end <= month else "ending"
        notice = cal.local_date(span.ended_at)
        reason = (
            f"cancellation notice on {notice} (day {notice.day}): "
            f"ends at the end of {month_str(span.end)}"
        )
        result.append(
            Contract(
                f"sms_{kind}", clause, formed, status, last_day(span.end), None, None, None, reason
            )
        )
    return result


def contracts_as_of(books: Books, schedule: Schedule, month: Month) -> tuple[Contract, ...]:
    """Every contract formed by the end of the month, with its state at that time."""
    cal = books.calendar
    result = _renewing(
        "secure_mobile_connect",
        "001 §34, §49",
        "every SIM and gateway",
        _full_deletion_spans(schedule, month, _SMC),
        month,
        cal,
    )
    result += _renewing(
        "mono_platform",
        "001 §53, §60",
        "every project",
        _full_deletion_spans(schedule, month, _PLATFORM),
        month,
        cal,
    )
    for kind in SMS_KINDS:
        result += _sms(kind, books, schedule, month)
    return tuple(result)
