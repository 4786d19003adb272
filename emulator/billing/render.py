"""Human-readable tables for `simgate bill` (the JSON forms live on the objects)."""

from __future__ import annotations

from emulator.billing.engine import Forecast
from emulator.billing.invoice import Invoice, json_number


def _money(value: int) -> str:
    return f"{value:,}"


def _price(line_price: object) -> str:
    return f"{line_price:,}" if isinstance(line_price, int) else f"{line_price:g}"


def invoice_table(invoice: Invoice) -> str:
    """The invoice as a table: lines with their reasons, totals, due date, contracts."""
    head = ("item", "subject", "quantity", "unit price", "amount", "clause")
    rows = [
        (
            line.item,
            line.subject,
            f"{line.quantity:,}",
            _price(json_number(line.unit_price)),
            _money(line.amount),
            line.clause,
        )
        for line in invoice.lines
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    out = [f"Invoice {invoice.month} ({invoice.currency}), due {invoice.due_date}", ""]
    if rows:
        out.append(fmt(head))
        out.append("  ".join("-" * w for w in widths))
        for row, line in zip(rows, invoice.lines, strict=True):
            out.append(fmt(row))
            out.append(" " * (widths[0] + 2) + f"({line.reason})")
    else:
        out.append("(no charges this month)")
    label_width = sum(widths[:4]) + 6
    rate = f"{float(invoice.tax_rate * 100):g} %"
    untaxed = invoice.late_interest
    tax_label = f"tax {rate}" + (f" (late interest {untaxed:,} untaxed)" if untaxed else "")
    out.append("")
    for label, value in (
        ("subtotal", invoice.subtotal),
        (tax_label, invoice.tax),
        ("total", invoice.total),
    ):
        out.append(f"{label:>{label_width}}  {_money(value):>{widths[4]}}")
    out.append(f"{'due date':>{label_width}}  {invoice.due_date}")
    if invoice.contracts:
        out += ["", f"Contracts at the end of {invoice.month}:"]
        for contract in invoice.contracts:
            out.append(f"  {contract.service} ({contract.clause}): {contract.status}")
            out.append(f"    {contract.reason}")
    return "\n".join(out)


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
