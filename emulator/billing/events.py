"""The billing event log (contracts §2): one JSON object per line, validated as it streams.

``parse_event_lines`` is the engine's hot path. A well-formed ``traffic`` line (by far the
most common kind) takes a fast path of one ``json.loads``, a handful of type checks and one
``datetime.fromisoformat``; everything else, and every error, goes through the table-driven
validator, which names the line and the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from emulator.billing.errors import EventLogError
from emulator.billing.months import FIRST_YEAR, LAST_YEAR, parse_month


class Event(NamedTuple):
    """One billing event: ``at`` (aware, UTC), ``type`` and the line's fields.

    ``fields`` is the line's JSON object (it may also hold the raw ``at`` and ``type``);
    values have been checked by the parser, so the engine reads them without re-checking.
    """

    at: datetime
    type: str
    fields: Mapping[str, Any]


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_FRACTION = re.compile(r"(\.\d{6})\d+")

MAX_BYTES = 10**15
"""The most bytes one `traffic` line may count: what the network endpoint takes per report."""
MAX_COUNT = 2**63 - 1
"""Any other count (device-reported bytes, messages, seq): a SQLite integer, as stored."""
MAX_AMOUNT = 10**12
"""The largest payment (yen), as `PUT /_emulator/invoices/{month}/payment` takes it."""
MAX_HOURS = 24 * 366 * 10


def parse_timestamp(text: object) -> datetime:
    """RFC 3339 text with an offset -> aware UTC datetime; ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    if _RFC3339.fullmatch(text) is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text):
            raise ValueError(f"timestamp {text!r} has no UTC offset")
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    normal = _FRACTION.sub(r"\1", text.upper().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(normal).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"impossible timestamp {text!r}") from None
    return _in_range(moment, text)


def _in_range(moment: datetime, text: object) -> datetime:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(
            f"timestamp {text!r} is outside the supported years {FIRST_YEAR} to {LAST_YEAR}"
        )
    return moment


def _identifier(value: object) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError("must be a non-empty string")


def _counter(limit: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ValueError(f"must not be negative (got {value})")
            if value > limit:
                raise ValueError(f"must be at most {limit} (got {value})")
            return value
        raise ValueError("must be a non-negative integer")

    return check


_count = _counter(MAX_COUNT)
_bytes = _counter(MAX_BYTES)
_amount = _counter(MAX_AMOUNT)


def _hours(value: object) -> float:
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_HOURS
    ):
        return float(value)
    raise ValueError(f"must be a number of hours from 0 to {MAX_HOURS}")


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("must be true or false")


def _month(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a month string YYYY-MM")
    parse_month(value)
    return value


def _one_of(*allowed: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value in allowed:
            return str(value)
        raise ValueError(f"must be one of {', '.join(allowed)} (got {value!r})")

    return check


def _timestamp_text(value: object) -> str:
    parse_timestamp(value)
    return str(value)


Check = Callable[[object], object]
OPTIONS = ("ip", "device_lock", "dns", "service_adapter", "file_transfer")
"""Sub-options: per SIM (``ip``, ``device_lock``), per gateway (``dns``, 001 §40) and, an
addition, per project (``service_adapter``, ``file_transfer``, 001 §50.3, §56)."""
SMS_KINDS = ("2fa", "a2p")

# type -> (required fields, optional fields); additions to contracts §2 are marked.
SCHEMA: dict[str, tuple[dict[str, Check], dict[str, Check]]] = {
    "sim_registered": ({"iccid": _identifier}, {}),
    "sim_deleted": ({"iccid": _identifier}, {}),
    "traffic": ({"iccid": _identifier, "up": _bytes, "down": _bytes}, {}),
    "gateway_created": ({"gateway": _identifier}, {}),
    "gateway_deleted": ({"gateway": _identifier}, {}),
    # addition: project options service_adapter and file_transfer (subject = project id)
    "option_set": ({"option": _one_of(*OPTIONS), "subject": _identifier}, {}),
    "option_cleared": ({"option": _one_of(*OPTIONS), "subject": _identifier}, {}),
    "project_created": ({"project": _identifier}, {}),
    "project_deleted": ({"project": _identifier}, {}),
    # addition: optional device_id (else the ICCID stands for the device ID)
    "device_registered": (
        {"iccid": _identifier, "project": _identifier},
        {"device_id": _identifier},
    ),
    "device_unregistered": ({"iccid": _identifier, "project": _identifier}, {}),
    "platform_traffic": (
        {"iccid": _identifier, "project": _identifier, "messages": _count},
        {},
    ),
    # addition: optional iccid (the line's subject; else "account")
    "sms_sent": ({"kind": _one_of(*SMS_KINDS), "delivered": _boolean}, {"iccid": _identifier}),
    "payment": ({"invoice_month": _month, "amount": _amount}, {}),
    # additions: outage (002 §43 credit) and SMS cancellation notice (001 §74)
    "outage": ({"subject": _identifier}, {"hours": _hours, "end": _timestamp_text}),
    "sms_cancelled": ({"kind": _one_of(*SMS_KINDS)}, {}),
    # addition: usage a device reported over MQTT (its own count, not the network's); billed,
    # marked estimated, only for a SIM and month without network-measured traffic
    "device_usage": (
        {"iccid": _identifier, "up": _count, "down": _count},
        {"seq": _count, "start": _timestamp_text, "end": _timestamp_text},
    ),
}
ENDING_TYPES = frozenset(
    {"sim_deleted", "gateway_deleted", "device_unregistered", "option_cleared", "project_deleted"}
)
"""The events the month-boundary grace may move (service rules §4)."""


def event_from_json(obj: object) -> Event:
    """Validate one decoded JSON value into an Event; ValueError says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    kind = obj.get("type")
    if kind is None:
        raise ValueError("missing field 'type'")
    if not isinstance(kind, str) or kind not in SCHEMA:
        raise ValueError(f"unknown event type {kind!r}")
    if "at" not in obj:
        raise ValueError("missing field 'at'")
    try:
        at = parse_timestamp(obj["at"])
    except ValueError as exc:
        raise ValueError(f"field 'at': {exc}") from None
    required, optional = SCHEMA[kind]
    fields: dict[str, Any] = dict(obj)
    for name, check in required.items():
        if name not in obj:
            raise ValueError(f"{kind}: missing field {name!r}")
        fields[name] = _checked(kind, name, check, obj[name])
    for name, check in optional.items():
        if name in obj:
            fields[name] = _checked(kind, name, check, obj[name])
    if kind == "outage":
        _check_outage(at, fields)
    return Event(at, kind, fields)


def _checked(kind: str, name: str, check: Check, value: object) -> object:
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(f"{kind}: field {name!r} {exc}") from None


def _check_outage(at: datetime, fields: Mapping[str, Any]) -> None:
    has_hours, has_end = "hours" in fields, "end" in fields
    if has_hours == has_end:
        raise ValueError("outage: give exactly one of 'hours' or 'end'")
    if has_end and parse_timestamp(fields["end"]) < at:
        raise ValueError("outage: 'end' is before 'at' (the start)")


def make_event(kind: str, at: str | datetime, /, **fields: object) -> Event:
    """Build and validate an event in code (tests, the emulator): ``make_event("traffic",
    "2026-03-11T10:00:00+09:00", iccid="8981...", up=1, down=2)``."""
    stamp = at if isinstance(at, str) else at.isoformat()
    return event_from_json({"at": stamp, "type": kind, **fields})


def parse_event_lines(lines: Iterable[str]) -> Iterator[Event]:
    """Decode JSON Lines into Events, lazily; raises EventLogError(line_number, why).

    Blank lines are skipped. Unknown fields are ignored (the log may carry more than
    billing needs); unknown types, bad JSON, missing fields and bad values are errors.
    """
    loads = json.loads
    fromiso = datetime.fromisoformat
    utc = UTC
    new = tuple.__new__  # Event(...) without the keyword-handling constructor
    for number, line in enumerate(lines, 1):
        try:
            obj = loads(line)
        except json.JSONDecodeError as exc:
            if not line.strip():
                continue
            raise EventLogError(number, f"bad JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise EventLogError(number, "bad JSON: nested too deeply") from None
        # Fast path: a clean traffic line in canonical form.
        if type(obj) is dict and obj.get("type") == "traffic":
            stamp = obj.get("at")
            up = obj.get("up")
            down = obj.get("down")
            if (
                type(stamp) is str
                and type(obj.get("iccid")) is str
                and type(up) is int
                and type(down) is int
                and 0 <= up <= MAX_BYTES
                and 0 <= down <= MAX_BYTES
                and len(stamp) in (20, 25)
                and stamp[10] == "T"
                and stamp[19] in "Z+-"
            ):
                try:
                    moment = fromiso(stamp)
                except ValueError:
                    pass
                else:
                    if moment.tzinfo is utc and FIRST_YEAR < moment.year < LAST_YEAR:
                        yield new(Event, (moment, "traffic", obj))
                        continue
                    if moment.tzinfo is not None and FIRST_YEAR < moment.year < LAST_YEAR:
                        yield new(Event, (moment.astimezone(utc), "traffic", obj))
                        continue
        try:
            yield event_from_json(obj)
        except ValueError as exc:
            raise EventLogError(number, str(exc)) from None
