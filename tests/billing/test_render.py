"""Invoices people read: one table for `bill` and the demo, wide totals, CSV, per item."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from emulator.billing.render import invoice_csv, item_summary, render_invoice
from tests.billing.builders import write_jsonl

FLEET = [f"89811000000000{n:05d}" for n in range(1, 4)]


def invoice(amounts: list[int], tax: int) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        {
            "item": "data",
            "subject": iccid,
            "quantity": amount * 200_000,
            "unit_price": 5.5,
            "amount": amount,
            "clause": "001 §38",
            "reason": "bytes the network counted",
        }
        for iccid, amount in zip(FLEET, amounts, strict=False)
    ]
    lines.append(
        {
            "item": "sim_basic",
            "subject": FLEET[0],
            "quantity": 1,
            "unit_price": 110,
            "amount": 110,
            "clause": "001 §36",
        }
    )
    subtotal = sum(line["amount"] for line in lines)
    return {
        "month": "2026-03",
        "currency": "JPY",
        "lines": lines,
        "subtotal": subtotal,
        "tax": tax,
        "total": subtotal + tax,
        "due_date": "2026-04-10",
    }


def test_totals_stay_aligned_when_they_are_wider_than_every_line() -> None:
    doc = invoice([600_000_000, 600_000_000, 600_000_000], tax=180_000_011)
    text = render_invoice(doc, tax_rate=0.1)
    amount_lines = [row for row in text.splitlines() if row.rstrip().endswith(("600,000,000",))]
    totals = [row for row in text.splitlines() if row.lstrip().startswith(("subtotal", "total"))]
    ends = {len(row.rstrip()) for row in [*amount_lines, *totals]}
    assert len(ends) == 1, text  # every amount ends in the same column
    assert "1,800,000,110" in text
    assert "tax 10 %" in text


def test_csv_has_a_row_per_line_and_the_totals() -> None:
    doc = invoice([10, 20, 30], tax=17)
    rows = list(csv.DictReader(io.StringIO(invoice_csv(doc))))
    assert [r["item"] for r in rows] == ["data"] * 3 + ["sim_basic", "subtotal", "tax", "total"]
    assert [int(r["amount"]) for r in rows[:4]] == [10, 20, 30, 110]
    assert rows[0]["subject"] == FLEET[0]
    assert rows[0]["reason"] == "bytes the network counted"
    assert rows[-1]["amount"] == str(doc["total"])
    assert {r["month"] for r in rows} == {"2026-03"}


def test_the_summary_adds_up_each_item_over_its_subjects() -> None:
    doc = invoice([10, 20, 30], tax=17)
    table = item_summary(doc).splitlines()
    data = next(row for row in table if row.startswith("data"))
    assert data.split() == ["data", "3", "12,000,000", "60"]
    assert table[-1].split() == ["all", "170"]
    assert item_summary(doc) in render_invoice(doc, summary=True)
    assert item_summary(doc) not in render_invoice(doc)


def bill(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", "bill", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bill_prints_the_same_table_as_the_demo_and_csv_and_summary(tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {"at": "2026-03-10T10:00:00+09:00", "type": "sim_registered", "iccid": FLEET[0]},
            {"at": "2026-03-10T10:00:00+09:00", "type": "sim_registered", "iccid": FLEET[1]},
            {
                "at": "2026-03-11T01:00:00Z",
                "type": "traffic",
                "iccid": FLEET[0],
                "up": 9,
                "down": 1,
            },
        ],
    )
    document = json.loads(bill("--events", log, "--month", "2026-03", "--json").stdout)
    table = bill("--events", log, "--month", "2026-03")
    assert table.returncode == 0, table.stderr
    # the demo renders the emulator's JSON with this same function
    assert table.stdout == render_invoice(document, tax_rate=0.1) + "\n"
    rows = list(
        csv.DictReader(io.StringIO(bill("--events", log, "--month", "2026-03", "--csv").stdout))
    )
    items = [line["item"] for line in document["lines"]]
    assert [r["item"] for r in rows] == [*items, "subtotal", "tax", "total"]
    assert rows[-1]["amount"] == str(document["total"])
    summary = bill("--events", log, "--month", "2026-03", "--summary").stdout
    for item in set(items):
        row = next(r for r in summary.splitlines() if r.startswith(item + " "))
        assert row.split()[1] == str(items.count(item))
    both = bill("--events", log, "--month", "2026-03", "--csv", "--json")
    assert both.returncode == 2
