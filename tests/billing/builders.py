"""Small helpers to write billing tests as readable event logs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from emulator.billing import Event, Invoice, Tariff, load_tariff, make_event, price_month
from emulator.billing.tariff import tariff_from_dict

ICCID = "8981100000000000001"
ICCID2 = "8981100000000000002"
GATEWAY = "113000000001"

PRICES: dict[str, Any] = {
    "sim_basic": 110,
    "line_maintenance": 330,
    "data_per_mb": Decimal("5.5"),
    "gateway": 3000,
    "option_ip": 100,
    "option_device_lock": 50,
    "option_dns": 100,
    "platform_basic": 20,
    "sms_2fa": 8,
    "sms_a2p": 6,
}


def tariff(policy: dict[str, Any] | None = None, **extra: Any) -> Tariff:
    """A tariff written in the test: the contract's example prices plus overrides."""
    doc: dict[str, Any] = {"prices": dict(PRICES), "policy": dict(policy or {})}
    doc.update(extra)
    return tariff_from_dict(doc)


DEFAULT = load_tariff()


def jst(text: str) -> str:
    """'2026-03-10 12:00' (JST wall time) -> RFC 3339 with +09:00."""
    if len(text) == 10:
        text += " 12:00"
    return text.replace(" ", "T") + ":00+09:00"


def ev(kind: str, when: str, /, **fields: object) -> Event:
    """An event at a JST wall time ('2026-03-10' = noon) or a full RFC 3339 stamp."""
    stamp = when if re.search(r"(Z|[+-]\d{2}:\d{2})$", when) else jst(when)
    return make_event(kind, stamp, **fields)


def reg(when: str, iccid: str = ICCID) -> Event:
    """SIM registered."""
    return ev("sim_registered", when, iccid=iccid)


def delete(when: str, iccid: str = ICCID) -> Event:
    """SIM deleted."""
    return ev("sim_deleted", when, iccid=iccid)


def comm(when: str, iccid: str = ICCID, up: int = 1000, down: int = 1000) -> Event:
    """Traffic (a communication)."""
    return ev("traffic", when, iccid=iccid, up=up, down=down)


def price(events: Iterable[Event], month: str, with_tariff: Tariff | None = None) -> Invoice:
    """Price a month with the given (default: shipped) tariff."""
    return price_month(list(events), month, with_tariff or DEFAULT)


def amounts(invoice: Invoice, item: str | None = None) -> dict[tuple[str, str], int]:
    """(item, subject) -> amount, optionally for one item."""
    return {
        (line.item, line.subject): line.amount
        for line in invoice.lines
        if item is None or line.item == item
    }


def quantity(invoice: Invoice, item: str, subject: str = ICCID) -> int:
    """Quantity of one line (0 when the line is absent)."""
    for line in invoice.lines:
        if line.item == item and line.subject == subject:
            return line.quantity
    return 0


def line_fee_months(events: list[Event], first: str, last: str) -> list[str]:
    """Months in [first, last] whose invoice has a line maintenance line."""
    from emulator.billing import Books, Pricer
    from emulator.billing.months import month_str, parse_month

    pricer = Pricer(Books(DEFAULT).add_all(events))
    return [
        month_str(m)
        for m in range(parse_month(first), parse_month(last) + 1)
        if any(line.item == "line_maintenance" for line in pricer.invoice(m).lines)
    ]


def write_jsonl(path: Path, rows: Iterable[dict[str, object] | str]) -> Path:
    """Write rows (dicts, or raw text lines) as a JSON Lines file."""
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path
