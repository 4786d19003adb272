"""Registration periods: when each SIM, gateway, option, project and device ID existed.

Built once from the lifecycle events (everything but the high-volume traffic, SMS and
payments), ordered by effective instant: an ending event's instant is moved by the
month-boundary grace before ordering. Inconsistent events (deleting a SIM that is not
registered, registering one twice without a deletion between) are ignored, not errors:
the log is a record of what the service accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from emulator.billing.events import ENDING_TYPES, Event
from emulator.billing.months import Calendar, Month

# Order of events at the very same instant: things begin before they end, so a zero-length
# registration is still a registration (and is charged like one).
_RANK = {
    "sim_registered": 0,
    "gateway_created": 0,
    "project_created": 0,
    "device_registered": 1,
    "option_set": 1,
    "option_cleared": 2,
    "device_unregistered": 2,
    "sim_deleted": 3,
    "gateway_deleted": 3,
    "project_deleted": 3,
    "sms_cancelled": 4,
}
SIM_OPTIONS = ("ip", "device_lock")
GATEWAY_OPTIONS = ("dns",)
PROJECT_OPTIONS = ("service_adapter", "file_transfer")
"""Mono Platform sub-options (001 §50.3, §56): subject = the project id."""


@dataclass
class Period:
    """From ``start`` (UTC) to ``end`` (effective, after grace; None = still open)."""

    start: datetime
    start_month: Month
    end: datetime | None = None
    end_month: Month | None = None
    project: str = ""

    def overlaps(self, month: Month) -> bool:
        """Whether the period touches the month (whole months, no pro-rating)."""
        return self.start_month <= month and (self.end_month is None or self.end_month >= month)

    def open_after(self, month: Month) -> bool:
        """Still registered at the end of the month."""
        return self.start_month <= month and (self.end_month is None or self.end_month > month)

    def close(self, at: datetime, month: Month) -> None:
        """End the period; a grace-moved end never falls before the start."""
        if at < self.start:
            at, month = self.start, self.start_month
        self.end, self.end_month = at, month


@dataclass
class Timeline:
    """A lifecycle event at its effective instant and month."""

    at: datetime
    month: Month
    event: Event


@dataclass
class Schedule:
    """All periods, by subject."""

    sims: dict[str, list[Period]] = field(default_factory=dict)
    gateways: dict[str, list[Period]] = field(default_factory=dict)
    options: dict[tuple[str, str], list[Period]] = field(default_factory=dict)
    projects: dict[str, list[Period]] = field(default_factory=dict)
    devices: dict[str, list[Period]] = field(default_factory=dict)
    device_ids: dict[str, str] = field(default_factory=dict)
    timeline: list[Timeline] = field(default_factory=list)


def _subject(event: Event) -> str:
    fields = event.fields
    for name in ("iccid", "gateway", "project", "subject", "kind"):
        if name in fields:
            return str(fields[name])
    return ""


def order(events: Iterable[Event], calendar: Calendar) -> list[Timeline]:
    """Lifecycle events at their effective instants, in a total order independent of input."""
    timeline: list[Timeline] = []
    for event in events:
        if event.type in ENDING_TYPES:
            at, month = calendar.ending(event.at)
        else:
            at, month = event.at, calendar.month_of(event.at)
        timeline.append(Timeline(at, month, event))
    timeline.sort(
        key=lambda t: (
            t.at,
            _RANK.get(t.event.type, 9),
            t.event.type,
            _subject(t.event),
            str(t.event.fields.get("option", "")),
            str(t.event.fields.get("project", "")),
        )
    )
    return timeline


def _open(table: dict[str, list[Period]], key: str) -> Period | None:
    periods = table.get(key)
    if periods and periods[-1].end is None:
        return periods[-1]
    return None


def _begin(table: dict[str, list[Period]], key: str, item: Timeline, project: str = "") -> None:
    if _open(table, key) is None:
        table.setdefault(key, []).append(Period(item.at, item.month, project=project))


def _end(table: dict[str, list[Period]], key: str, item: Timeline) -> None:
    period = _open(table, key)
    if period is not None:
        period.close(item.at, item.month)


def build_schedule(events: Iterable[Event], calendar: Calendar) -> Schedule:
    """Replay the lifecycle events into periods."""
    schedule = Schedule(timeline=order(events, calendar))
    options: dict[str, list[Period]] = {}
    devices: dict[str, list[Period]] = {}
    for item in schedule.timeline:
        fields, kind = item.event.fields, item.event.type
        if kind == "sim_registered":
            _begin(schedule.sims, fields["iccid"], item)
        elif kind == "sim_deleted":
            _end(schedule.sims, fields["iccid"], item)
            for option in SIM_OPTIONS:
                _end(options, f"{option}\0{fields['iccid']}", item)
        elif kind == "gateway_created":
            _begin(schedule.gateways, fields["gateway"], item)
        elif kind == "gateway_deleted":
            _end(schedule.gateways, fields["gateway"], item)
            for option in GATEWAY_OPTIONS:
                _end(options, f"{option}\0{fields['gateway']}", item)
        elif kind == "option_set":
            _begin(options, f"{fields['option']}\0{fields['subject']}", item)
        elif kind == "option_cleared":
            _end(options, f"{fields['option']}\0{fields['subject']}", item)
        elif kind == "project_created":
            _begin(schedule.projects, fields["project"], item)
        elif kind == "project_deleted":
            _end(schedule.projects, fields["project"], item)
            for option in PROJECT_OPTIONS:
                _end(options, f"{option}\0{fields['project']}", item)
            for key, periods in devices.items():
                if periods[-1].end is None and periods[-1].project == fields["project"]:
                    _end(devices, key, item)
        elif kind == "device_registered":
            key = f"{fields['iccid']}\0{fields['project']}"
            _begin(devices, key, item, project=fields["project"])
            schedule.device_ids.setdefault(
                fields["iccid"], fields.get("device_id", fields["iccid"])
            )
        elif kind == "device_unregistered":
            _end(devices, f"{fields['iccid']}\0{fields['project']}", item)
    for key, periods in options.items():
        option, subject = key.split("\0", 1)
        schedule.options[(option, subject)] = periods
    for key, periods in devices.items():
        iccid = key.split("\0", 1)[0]
        schedule.devices.setdefault(iccid, []).extend(periods)
    for periods in schedule.devices.values():
        periods.sort(key=lambda p: p.start)
    return schedule
