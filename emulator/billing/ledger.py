"""The books: events folded into per-month aggregates as they stream in.

Memory is bounded by subjects × months, not by events: traffic, platform traffic and SMS
are summed per (month, subject) on arrival; only the rare lifecycle events, payments and
outages are kept (and sorted later). Order of arrival never matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from emulator.billing.events import Event
from emulator.billing.months import Calendar, Month
from emulator.billing.tariff import Tariff

Usage = list[Any]
"""``[amount, first_at, last_at]``: bytes (or messages) in a month, first and last instant."""


class Books:
    """Aggregates of an event log, ready to be priced."""

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff
        self.calendar = Calendar(tariff.zone, tariff.month_boundary_grace)
        self.traffic: dict[Month, dict[str, Usage]] = {}
        # device-reported usage (`device_usage`), kept apart until `use_device_usage`
        self.device_traffic: dict[Month, dict[str, Usage]] = {}
        self.estimated: set[tuple[Month, str]] = set()
        """(month, ICCID) whose traffic comes from device reports only."""
        self._device_usage_applied = False
        self.platform: dict[Month, dict[str, Usage]] = {}
        # month -> (kind, subject) -> [sent, delivered, first_at]
        self.sms: dict[Month, dict[tuple[str, str], Usage]] = {}
        self.lifecycle: list[Event] = []
        self.payments: list[Event] = []
        self.outages: list[Event] = []

    def add_all(self, events: Iterable[Event]) -> Books:
        """Fold a stream of events in; returns self."""
        traffic = self.traffic
        day_month = self.calendar.day_month
        month_of = self.calendar.month_of
        add_other = self.add
        utc = UTC
        for event in events:
            if event.type != "traffic":
                add_other(event)
                continue
            fields = event.fields
            volume = fields["up"] + fields["down"]
            if volume <= 0:
                continue  # not a communication (contracts §2: up + down > 0)
            at = event.at
            if at.tzinfo is not utc:
                if at.tzinfo is None:
                    raise ValueError(f"traffic at naive datetime {at}: instants need an offset")
                at = at.astimezone(utc)
            month = day_month.get(at.toordinal(), -1)
            if month < 0:
                month = month_of(at)
            per_sim = traffic.get(month)
            if per_sim is None:
                per_sim = traffic[month] = {}
            usage = per_sim.get(fields["iccid"])
            if usage is None:
                per_sim[fields["iccid"]] = [volume, at, at]
            else:
                usage[0] += volume
                if at < usage[1]:
                    usage[1] = at
                elif at > usage[2]:
                    usage[2] = at
        return self

    def add(self, event: Event) -> None:
        """Fold one event in."""
        kind, fields, at = event.type, event.fields, event.at
        if kind == "traffic":
            self.add_all((event,))
            return
        month = self.calendar.month_of(at)
        if kind == "platform_traffic":
            if fields["messages"] > 0:
                _accumulate(
                    self.platform.setdefault(month, {}), fields["iccid"], fields["messages"], at
                )
        elif kind == "device_usage":
            volume = fields["up"] + fields["down"]
            if volume > 0:
                _accumulate(self.device_traffic.setdefault(month, {}), fields["iccid"], volume, at)
        elif kind == "sms_sent":
            key = (fields["kind"], str(fields.get("iccid", "account")))
            usage = self.sms.setdefault(month, {}).get(key)
            if usage is None:
                self.sms[month][key] = [1, int(fields["delivered"]), at]
            else:
                usage[0] += 1
                usage[1] += int(fields["delivered"])
                usage[2] = min(usage[2], at)
        elif kind == "payment":
            self.payments.append(event)
        elif kind == "outage":
            self.outages.append(event)
        else:
            self.lifecycle.append(event)

    def use_device_usage(self) -> None:
        """Fill each SIM-month without network-measured traffic from the device's reports.

        Service rules §1.3.3 bill the network's measurement; a SIM seen only through its
        own reports (a real modem on a real network) is billed from them, and the
        (month, ICCID) goes to `estimated` so its lines can say so. Idempotent; call it
        once every event is in (the `Pricer` does).
        """
        if self._device_usage_applied:
            return
        self._device_usage_applied = True
        for month, per_sim in self.device_traffic.items():
            for iccid, usage in per_sim.items():
                network = self.traffic.get(month)
                if network is not None and iccid in network:
                    continue
                self.traffic.setdefault(month, {})[iccid] = list(usage)
                self.estimated.add((month, iccid))

    def communicated(self, iccid: str, month: Month) -> Usage | None:
        """The SIM's traffic in the month, if it communicated."""
        return self.traffic.get(month, {}).get(iccid)


def _accumulate(table: dict[str, Usage], key: str, amount: int, at: datetime) -> None:
    usage = table.get(key)
    if usage is None:
        table[key] = [amount, at, at]
        return
    usage[0] += amount
    if at < usage[1]:
        usage[1] = at
    elif at > usage[2]:
        usage[2] = at
