"""The billing engine: event log + tariff + month -> invoice (service rules §1.3-§4).

Pure: no HTTP, no database, no clock. The CLI (`simgate bill`), the emulator and the tests
all call the same four functions::

    tariff = load_tariff()                              # the shipped example tariff
    with open("events.jsonl", encoding="utf-8") as log:
        invoice = price_month(parse_event_lines(log), "2026-03", tariff)
    invoice.to_json()                                   # contracts §2 invoice + "contracts"
"""

from emulator.billing.engine import Alert, Forecast, Pricer, price_month, price_range
from emulator.billing.errors import EventLogError, TariffError
from emulator.billing.events import Event, event_from_json, make_event, parse_event_lines
from emulator.billing.invoice import Invoice, Line
from emulator.billing.ledger import Books
from emulator.billing.tariff import DataPlan, Tariff, load_tariff

__all__ = [
    "Alert",
    "Books",
    "DataPlan",
    "Event",
    "EventLogError",
    "Forecast",
    "Invoice",
    "Line",
    "Pricer",
    "Tariff",
    "TariffError",
    "event_from_json",
    "load_tariff",
    "make_event",
    "parse_event_lines",
    "price_month",
    "price_range",
]
