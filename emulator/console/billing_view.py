"""Invoices and line maintenance alerts for the console, from the billing engine itself.

Nothing here prices anything: the invoice is `Pricer.invoice` and the alerts are
`Pricer.alerts` (001 §37 as the engine reads it), over the account's event log and the
tariff given to `serve --tariff`, exactly as `GET /_emulator/invoices/{month}` does.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from emulator.billing import Books, Invoice, Pricer, Tariff, load_tariff, parse_event_lines
from emulator.billing.invoice import json_number
from emulator.billing.months import due_date, month_str, parse_month
from emulator.errors import Conflict
from emulator.store import Store

ALERT_HORIZON = 12
"""Months ahead the alerts may look (every silent SIM owes its next fee within 12)."""
DEFAULT_HORIZON = 3
"""Months the alerts page looks at unless asked: this month and the next two."""

_lock = threading.Lock()


def tariff_of(state: Any) -> Tariff:
    """The app's tariff (`serve --tariff`, else the shipped example), read once."""
    with _lock:
        if getattr(state, "tariff", None) is None:
            state.tariff = load_tariff(state.tariff_path)
        tariff: Tariff = state.tariff
        return tariff


def pricer_of(state: Any, store: Store) -> Pricer:
    """A Pricer over the event log as it stands, kept while the log does not change."""
    with store.transaction() as db:
        row = db.one("SELECT max(seq) AS n, count(*) AS c FROM events")
        key = (None, 0) if row is None else (row["n"], row["c"])
        cached = getattr(state, "console_pricer", None)
        if cached is not None and cached[0] == key:
            pricer: Pricer = cached[1]
            return pricer
        lines = [str(r["line"]) for r in db.all("SELECT line FROM events ORDER BY seq")]
    try:
        pricer = Pricer(Books(tariff_of(state)).add_all(parse_event_lines(lines)))
    except Exception as exc:  # TariffError or a log the engine refuses: name it, no 500
        raise Conflict(
            f"cannot price the account's books: {exc}", code="tariff_incomplete"
        ) from None
    state.console_pricer = (key, pricer)
    return pricer


def invoice_of(pricer: Pricer, month: str) -> Invoice:
    """The invoice of a JST month (`YYYY-MM`)."""
    try:
        return pricer.invoice(parse_month(month))
    except Exception as exc:  # an option the tariff has no price for
        raise Conflict(f"cannot price {month}: {exc}", code="tariff_incomplete") from None


@dataclass(frozen=True)
class AlertRow:
    """A SIM that 001 §37 will charge a line maintenance fee in `month` unless it
    communicates or is deleted first."""

    iccid: str
    month: str
    due_date: date
    fee: int | float
    silent_since: str
    reason: str
    clause: str


def alerts(pricer: Pricer, current: str, horizon: int = ALERT_HORIZON) -> list[AlertRow]:
    """Line maintenance fees that will arise in the `horizon` months from this one (1 to
    13) if the SIMs stay silent: this month's from its invoice as it stands, later ones
    from the engine's forecast (`Pricer.alerts`). Soonest first; kept with the pricer."""
    key = (current, horizon)
    cache: dict[tuple[str, int], list[AlertRow]] = pricer.__dict__.setdefault("_console_alerts", {})
    if key not in cache:
        cache[key] = _alerts(pricer, current, horizon)
    return cache[key]


def _alerts(pricer: Pricer, current: str, horizon: int) -> list[AlertRow]:
    now = parse_month(current)
    rows = [
        AlertRow(
            line.subject,
            current,
            due_date(now),
            json_number(line.unit_price),
            "",
            line.reason,
            line.clause,
        )
        for line in invoice_of(pricer, current).lines
        if line.item == "line_maintenance"
    ]
    for as_of in range(now, now + max(0, min(horizon, ALERT_HORIZON + 1) - 1)):
        for alert in pricer.alerts(as_of):
            rows.append(
                AlertRow(
                    alert.iccid,
                    alert.month,
                    alert.due_date,
                    json_number(alert.fee),
                    alert.silent_since,
                    alert.reason,
                    "001 §37",
                )
            )
    return rows


def months_with_books(pricer: Pricer, current: str) -> list[str]:
    """The months from the first event's month to the current one, newest first."""
    now = parse_month(current)
    books = pricer.books
    known = [books.calendar.month_of(event.at) for event in books.lifecycle[:1]]
    first = min([now, *known, *books.traffic])
    return [month_str(m) for m in range(now, max(first, now - 120) - 1, -1)]


CSV_HEADER = ("month", "item", "subject", "quantity", "unit_price", "amount", "clause", "reason")


def invoice_csv(invoice: Invoice) -> str:
    """The invoice as CSV: one row per line, then subtotal, tax and total rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in invoice.lines:
        writer.writerow(
            (
                invoice.month,
                line.item,
                line.subject,
                line.quantity,
                json_number(line.unit_price),
                line.amount,
                line.clause,
                line.reason,
            )
        )
    for label, value in (
        ("subtotal", invoice.subtotal),
        ("tax", invoice.tax),
        ("total", invoice.total),
    ):
        writer.writerow((invoice.month, label, "", "", "", value, "", ""))
    return out.getvalue()
