"""What people read of invoices: tables for `simgate bill` and the demo, and CSV.

The JSON forms live on the objects; the invoice table renders the contract's JSON, so
the demo (which has only the emulator's JSON) and `bill` show the same thing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from emulator.billing.engine import Forecast
from emulator.billing.invoice import Invoice, json_number

Doc = Mapping[str, Any]
CSV_COLUMNS = ("month", "item", "subject", "quantity", "unit_price", "amount", "clause", "reason")


def _money(value: int) -> str:
    return f"{value:,}"


def _price(line_price: object) -> str:
    return f"{line_price:,}" if isinstance(line_price, int) else f"{line_price:g}"


def invoice_table(invoice: Invoice, *, summary: bool = False) -> str:
    """`simgate bill`'s table of an invoice (see `render_invoice`)."""
    return render_invoice(invoice.to_json(), tax_rate=float(invoice.tax_rate), summary=summary)


def render_invoice(invoice: Doc, *, tax_rate: float | None = None, summary: bool = False) -> str:
    """The contract's invoice JSON (section 2) as a table: one renderer for `bill` and the
    demo. Lines with their reasons, then totals whose column is wide enough for the
    widest amount, the due date, and the contracts; with `summary`, a table per item
    (subjects, quantity, amount) first, for fleets with many SIMs."""
    lines: list[Doc] = list(invoice["lines"])
    head = ("item", "subject", "quantity", "unit price", "amount", "clause")
    rows = [
        (
            str(line["item"]),
            str(line["subject"]),
            f"{line['quantity']:,}",
            _price(line["unit_price"]),
            _money(line["amount"]),
            str(line.get("clause", "")),
        )
        for line in lines
    ]
    totals = [invoice["subtotal"], invoice["tax"], invoice["total"]]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    widths[4] = max(widths[4], *(len(_money(value)) for value in totals))

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in (2, 3, 4) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    out = [f"Invoice {invoice['month']} ({invoice['currency']}), due {invoice['due_date']}", ""]
    if summary and lines:
        out += [item_summary(invoice), ""]
    if rows:
        out.append(fmt(head))
        out.append("  ".join("-" * w for w in widths))
        for row, line in zip(rows, lines, strict=True):
            out.append(fmt(row))
            if line.get("reason"):
                out.append(" " * (widths[0] + 2) + f"({line['reason']})")
    else:
        out.append("(no charges this month)")
    label_width = sum(widths[:4]) + 6
    untaxed = sum(int(line["amount"]) for line in lines if line["item"] == "late_interest")
    tax_label = "tax" if tax_rate is None else f"tax {tax_rate * 100:g} %"
    if untaxed:
        tax_label += f" (late interest {untaxed:,} untaxed)"
    out.append("")
    for label, value in zip(("subtotal", tax_label, "total"), totals, strict=True):
        out.append(f"{label:>{label_width}}  {_money(value):>{widths[4]}}")
    out.append(f"{'due date':>{label_width}}  {invoice['due_date']}")
    contracts: list[Doc] = list(invoice.get("contracts", []))
    if contracts:
        out += ["", f"Contracts at the end of {invoice['month']}:"]
        for contract in contracts:
            out.append(f"  {contract['service']} ({contract['clause']}): {contract['status']}")
            out.append(f"    {contract['reason']}")
    return "\n".join(out)


def item_summary(invoice: Doc) -> str:
    """One row per item: how many subjects, the quantity and the amount in all."""
    by_item: dict[str, list[int]] = {}
    for line in invoice["lines"]:
        counts = by_item.setdefault(str(line["item"]), [0, 0, 0])
        counts[0] += 1
        counts[1] += int(line["quantity"])
        counts[2] += int(line["amount"])
    head = ("item", "subjects", "quantity", "amount")
    rows = [(item, f"{n:,}", f"{q:,}", _money(a)) for item, (n, q, a) in by_item.items()]
    rows.append(("all", "", "", _money(sum(a for _, _, a in by_item.values()))))
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    out = []
    for row in [head, *rows]:
        cells = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def invoice_csv(*invoices: Doc) -> str:
    """Invoices' lines as CSV (a header row, one row per line; amounts as integers), each
    invoice followed by its subtotal, tax and total as rows whose item is that name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for invoice in invoices:
        month = invoice["month"]
        for line in invoice["lines"]:
            writer.writerow([month, *(line.get(column, "") for column in CSV_COLUMNS[1:])])
        for name in ("subtotal", "tax", "total"):
            writer.writerow([month, name, "", "", "", invoice[name], "", ""])
    return buffer.getvalue()


def forecast_table(forecast: Forecast) -> str:
    """Totals per month over the range, then next month's line maintenance alerts."""
    head = ("month", "subtotal", "tax", "total", "due date")
    rows = [
        (inv.month, _money(inv.subtotal), _money(inv.tax), _money(inv.total), str(inv.due_date))
        for inv in forecast.invoices
    ]
    grand = sum(inv.total for inv in forecast.invoices)
    rows.append(("all", "", "", _money(grand), ""))
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    first, last = forecast.invoices[0].month, forecast.invoices[-1].month
    out = [f"Forecast {first} .. {last} (JPY)", ""]
    for row in [head, *rows]:
        cells = [
            c.ljust(widths[i]) if i in (0, 4) else c.rjust(widths[i]) for i, c in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
    out += [
        "",
        f"Line maintenance fees arising in {forecast.alert_month} "
        "unless the SIM communicates or is deleted first:",
    ]
    if not forecast.alerts:
        out.append("  none")
    for alert in forecast.alerts:
        out.append(
            f"  {alert.iccid}  {_price(json_number(alert.fee))} yen before tax, "
            f"due {alert.due_date}"
        )
        out.append(f"    {alert.reason}")
    return "\n".join(out)
