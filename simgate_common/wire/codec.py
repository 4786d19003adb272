"""The wire's ground rules: size, UTF-8 JSON without duplicates or NaN, field checks, times.

Every check raises `WireError` naming the offending field, and nothing else.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, Final

MAX_PAYLOAD: Final = 16 * 1024
"""The largest payload (bytes) any simgate topic carries; larger ones are rejected."""
MAX_COUNT: Final = 2**63 - 1
"""The largest sequence number or byte count (SQLite's INTEGER)."""

_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
COMMAND_ID = re.compile(r"[\x21-\x7e]{1,64}")
MAX_TEXT = 1024
MAX_TOPIC = 256


class WireError(ValueError):
    """A payload or value breaks the wire schema; `field` names the offending part."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# --- field checks -----------------------------------------------------------


def kind_of(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def check_count(value: object, name: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(name, f"must be an integer, not {kind_of(value)}")
    if not minimum <= value <= MAX_COUNT:
        raise WireError(name, f"must be between {minimum} and 2**63-1")
    return value


def check_text(value: object, name: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise WireError(name, f"must be a string, not {kind_of(value)}")
    if not value:
        raise WireError(name, "must not be empty")
    if len(value) > limit:
        raise WireError(name, f"is longer than {limit} characters")
    return value


def check_match(value: object, name: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise WireError(name, f"must be a string, not {kind_of(value)}")
    if not pattern.fullmatch(value):
        raise WireError(name, f"must be {what}")
    return value


def check_object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(name, f"must be a JSON object, not {kind_of(value)}")
    return value


# --- times ------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`; microseconds only when there are any."""
    if moment.tzinfo is None:
        raise WireError("time", "must be timezone-aware")
    utc = moment.astimezone(UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(spec)


def parse_time(text: object, name: str = "time") -> datetime:
    """An RFC 3339 time with any offset (`Z`, `+09:00`, `-00:00`; up to microseconds), as
    an aware datetime in UTC."""
    if not isinstance(text, str):
        raise WireError(name, f"must be an RFC 3339 string, not {kind_of(text)}")
    if not _TIME.fullmatch(text):
        raise WireError(
            name, "must be RFC 3339 with an offset, like 2026-01-31T23:59:59Z or ...+09:00"
        )
    iso = text.upper().replace("Z", "+00:00").replace("-00:00", "+00:00")
    try:
        return datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        raise WireError(name, "is not a real date and time") from None
    except OverflowError:
        raise WireError(name, "is outside the years 1 to 9999 in UTC") from None


def normal_time(text: object, name: str = "time") -> str:
    """`text` checked as RFC 3339, in UTC with a `Z` (what is stored): as given when it
    already is, so a report reads back exactly; converted when it has another offset."""
    moment = parse_time(text, name)
    assert isinstance(text, str)
    return normal_form(text, moment)


def normal_form(text: str, moment: datetime) -> str:
    """`normal_time` of a `text` already parsed into `moment` by `parse_time`."""
    if text.endswith("Z") and "T" in text:
        return text
    return format_time(moment)


# --- payload decoding and encoding ------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise WireError(key, "appears twice")
        doc[key] = value
    return doc


def _reject_constant(name: str) -> None:
    raise WireError("payload", f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WireError("payload", f"number {text[:32]} is out of range")
    return value


def decode(data: object) -> Any:
    """Any JSON value from a payload, under the size and encoding rules."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("payload", f"must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    if len(raw) > MAX_PAYLOAD:
        raise WireError("payload", f"{len(raw)} bytes is over the {MAX_PAYLOAD}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError("payload", f"is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except WireError:
        raise
    except RecursionError:
        raise WireError("payload", "is nested too deeply") from None
    except ValueError as exc:
        raise WireError("payload", f"is not JSON ({exc})") from None


def decode_object(data: object, required: tuple[str, ...]) -> dict[str, Any]:
    doc = decode(data)
    if not isinstance(doc, dict):
        raise WireError("payload", f"must be a JSON object, not {kind_of(doc)}")
    for key in required:
        if key not in doc:
            raise WireError(key, "is missing")
    return doc


def encode(doc: object) -> bytes:
    """Compact UTF-8 JSON, refusing anything over `MAX_PAYLOAD`."""
    try:
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WireError("payload", f"cannot be encoded as JSON ({exc})") from None
    data = raw.encode("utf-8")
    if len(data) > MAX_PAYLOAD:
        raise WireError("payload", f"{len(data)} bytes is over the {MAX_PAYLOAD}-byte limit")
    return data
