"""Traffic over time, from the network's counts, drawn as server-side SVG bar charts.

Months come from the per-month counters (`sim_traffic`, `gateway_traffic`); days come
from the `traffic` lines of the billing event log (each one a network measurement with
its instant), bucketed by JST day. Device reports (`device_usage`) are never plotted as
traffic: the bill uses the network's count, and so does the console.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape

from emulator.clock import JST
from emulator.store import Tx

WIDTH, HEIGHT = 720, 180
_LEFT, _BOTTOM, _TOP = 64, 22, 14


@dataclass(frozen=True)
class Bar:
    """One bucket: a label (day or month) and bytes up and down."""

    label: str
    up: int
    down: int

    @property
    def total(self) -> int:
        """Up + down."""
        return self.up + self.down


def human_bytes(value: int) -> str:
    """Bytes in decimal units (1 MB = 1,000,000 bytes, as the tariff counts)."""
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1000
    return f"{value} B"  # pragma: no cover - the loop always returns


def month_labels(current: str, count: int = 12) -> list[str]:
    """The `count` JST months ending with `current` (`YYYY-MM`), oldest first."""
    year, month = (int(part) for part in current.split("-"))
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def monthly(db: Tx, table: str, key: str, subject: str, current: str) -> list[Bar]:
    """Twelve months of a SIM's (`sim_traffic`, `sim_id`) or gateway's counters."""
    assert (table, key) in {("sim_traffic", "sim_id"), ("gateway_traffic", "gateway_id")}
    labels = month_labels(current)
    rows = db.all(
        f"SELECT month, up, down FROM {table} WHERE {key} = ? AND month >= ? AND month <= ?",  # noqa: S608
        (subject, labels[0], labels[-1]),
    )
    found = {r["month"]: (int(r["up"]), int(r["down"])) for r in rows}
    return [Bar(m, *found.get(m, (0, 0))) for m in labels]


def daily(db: Tx, iccids: Iterable[str], today: date, days: int = 31) -> list[Bar]:
    """The network-measured traffic of these SIMs per JST day, for `days` days to `today`."""
    wanted = set(iccids)
    first = today - timedelta(days=days - 1)
    buckets = {first + timedelta(days=i): [0, 0] for i in range(days)}
    if wanted:
        sql = 'SELECT line FROM events WHERE line LIKE \'%"type":"traffic"%\''
        params: tuple[object, ...] = ()
        if len(wanted) == 1:
            sql += " AND line LIKE ?"
            params = (f'%"iccid":"{next(iter(wanted))}"%',)
        for row in db.all(sql, params):
            event = json.loads(row["line"])
            if event.get("iccid") not in wanted:
                continue
            day = datetime.fromisoformat(event["at"]).astimezone(JST).date()
            bucket = buckets.get(day)
            if bucket is not None:
                bucket[0] += int(event.get("up", 0))
                bucket[1] += int(event.get("down", 0))
    return [Bar(day.isoformat(), up, down) for day, (up, down) in sorted(buckets.items())]


def bar_chart(bars: list[Bar], title: str, chart_id: str) -> Markup:
    """A stacked bar chart (up over down) as inline SVG, with a tooltip per bar."""
    peak = max((b.total for b in bars), default=0)
    scale_top = peak if peak > 0 else 1
    plot_w = WIDTH - _LEFT - 8
    plot_h = HEIGHT - _BOTTOM - _TOP
    step = plot_w / max(len(bars), 1)
    width = max(step * 0.7, 1.0)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - 8}" '
        f'y2="{_TOP + plot_h}"/>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">'
        f"{escape(human_bytes(peak))}</text>",
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, bar in enumerate(bars):
        x = _LEFT + i * step + (step - width) / 2
        h_down = plot_h * bar.down / scale_top
        h_up = plot_h * bar.up / scale_top
        y_down = _TOP + plot_h - h_down
        tip = f"{bar.label}: {human_bytes(bar.up)} up, {human_bytes(bar.down)} down"
        parts.append(f'<g class="bar" data-label="{escape(bar.label)}" data-bytes="{bar.total}">')
        parts.append(f"<title>{escape(tip)}</title>")
        parts.append(
            f'<rect class="down" x="{x:.1f}" y="{y_down:.1f}" width="{width:.1f}" '
            f'height="{h_down:.1f}"/>'
        )
        parts.append(
            f'<rect class="up" x="{x:.1f}" y="{y_down - h_up:.1f}" width="{width:.1f}" '
            f'height="{h_up:.1f}"/>'
        )
        parts.append("</g>")
    last = len(bars) - 1
    for i in sorted({0, len(bars) // 2, last}) if bars else []:
        x = _LEFT + i * step + step / 2
        anchor = "start" if i == 0 and last else "end" if i == last and last else "middle"
        x = _LEFT if anchor == "start" else WIDTH - 8 if anchor == "end" else x
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
            f"{escape(bars[i].label)}</text>"
        )
    parts.append(
        f'<rect class="up" x="{WIDTH - 150}" y="2" width="10" height="10"/>'
        f'<text class="tick" x="{WIDTH - 136}" y="11">up</text>'
        f'<rect class="down" x="{WIDTH - 100}" y="2" width="10" height="10"/>'
        f'<text class="tick" x="{WIDTH - 86}" y="11">down</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped
