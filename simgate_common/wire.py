"""MQTT topics and payloads between the agent and the emulator (contracts §3).

One schema for both sides, stdlib only so that the agent stays light. Every `from_json`
is strict: a payload that is too large, not UTF-8, not a JSON object, has a duplicate or
missing key, or a value of the wrong type or range raises `WireError` naming the field,
and nothing else. Keys a newer peer adds are ignored (commands keep them in `extra`).
Constructors validate too, so an invalid report can be neither parsed nor built, and
`to_json` gives compact UTF-8 bytes that the matching `from_json` reads back unchanged.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

MAX_PAYLOAD: Final = 16 * 1024
"""The largest payload (bytes) any simgate topic carries; larger ones are rejected."""
MAX_COUNT: Final = 2**63 - 1
"""The largest sequence number or byte count (SQLite's INTEGER)."""

TOPIC_PREFIX: Final = "simgate/v1/devices"
DEVICE_WILDCARD: Final = f"{TOPIC_PREFIX}/+/+"
"""What the cloud subscribes to: every leaf topic of every device."""

_ICCID = re.compile(r"[0-9A-F]{18,22}")
_IMEI = re.compile(r"[0-9]{14,16}")
_SOURCE = re.compile(r"[a-z][a-z0-9_.:-]{0,31}")
_COMMAND_ID = re.compile(r"[\x21-\x7e]{1,64}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|\+00:00)"
)
_MAX_TEXT = 1024
_MAX_TOPIC = 256


class WireError(ValueError):
    """A payload or value breaks the wire schema; `field` names the offending part."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class Leaf(StrEnum):
    """The last segment of each device topic."""

    USAGE = "usage"
    STATE = "state"
    STATUS = "status"
    COMMANDS = "commands"
    ERRORS = "errors"


class Op(StrEnum):
    """What a command asks the device to do."""

    INTERNET_ON = "internet_on"
    INTERNET_OFF = "internet_off"
    REPORT_NOW = "report_now"


# --- topics -------------------------------------------------------------------------


def check_iccid(iccid: object, name: str = "iccid") -> str:
    """`iccid` if it is 18-22 digits (upper-case hex allowed, as on some real cards)."""
    if not isinstance(iccid, str):
        raise WireError(name, f"must be a string, not {_kind(iccid)}")
    if not _ICCID.fullmatch(iccid):
        raise WireError(name, "must be 18 to 22 digits (0-9, A-F)")
    return iccid


def topic_root(iccid: str) -> str:
    """`simgate/v1/devices/{iccid}`: everything a device may use lies under it."""
    return f"{TOPIC_PREFIX}/{check_iccid(iccid)}"


def topic(iccid: str, leaf: Leaf) -> str:
    """The full topic of `leaf` for device `iccid`."""
    return f"{topic_root(iccid)}/{leaf.value}"


def usage_topic(iccid: str) -> str:
    """Where the device publishes usage records (QoS 1)."""
    return topic(iccid, Leaf.USAGE)


def state_topic(iccid: str) -> str:
    """Where the device publishes its state (QoS 1, retained)."""
    return topic(iccid, Leaf.STATE)


def status_topic(iccid: str) -> str:
    """`online`/`offline` (QoS 1, retained; `offline` is the last will)."""
    return topic(iccid, Leaf.STATUS)


def commands_topic(iccid: str) -> str:
    """Where the cloud sends commands to the device (QoS 1)."""
    return topic(iccid, Leaf.COMMANDS)


def errors_topic(iccid: str) -> str:
    """Where the cloud reports messages it rejected (QoS 1)."""
    return topic(iccid, Leaf.ERRORS)


def parse_topic(name: str) -> tuple[str, Leaf]:
    """`(iccid, leaf)` of a device topic; `WireError("topic", ...)` for any other."""
    parts = name.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != TOPIC_PREFIX:
        raise WireError("topic", f"not a device topic ({TOPIC_PREFIX}/ICCID/LEAF)")
    iccid = check_iccid(parts[3], "topic")
    try:
        leaf = Leaf(parts[4])
    except ValueError:
        raise WireError("topic", f"unknown leaf {parts[4][:32]!r}") from None
    return iccid, leaf


# --- times --------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`; microseconds only when there are any."""
    if moment.tzinfo is None:
        raise WireError("time", "must be timezone-aware")
    utc = moment.astimezone(UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(spec)


def parse_time(text: object, name: str = "time") -> datetime:
    """An RFC 3339 UTC time (`Z` or `+00:00`, up to microseconds) as an aware datetime."""
    if not isinstance(text, str):
        raise WireError(name, f"must be an RFC 3339 string, not {_kind(text)}")
    if not _TIME.fullmatch(text):
        raise WireError(name, "must be RFC 3339 in UTC, like 2026-01-31T23:59:59Z")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WireError(name, "is not a real date and time") from None


# --- field checks -------------------------------------------------------------------


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _count(value: object, name: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(name, f"must be an integer, not {_kind(value)}")
    if not minimum <= value <= MAX_COUNT:
        raise WireError(name, f"must be between {minimum} and 2**63-1")
    return value


def _text(value: object, name: str, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise WireError(name, f"must be a string, not {_kind(value)}")
    if not value:
        raise WireError(name, "must not be empty")
    if len(value) > limit:
        raise WireError(name, f"is longer than {limit} characters")
    return value


def _match(value: object, name: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise WireError(name, f"must be a string, not {_kind(value)}")
    if not pattern.fullmatch(value):
        raise WireError(name, f"must be {what}")
    return value


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(name, f"must be a JSON object, not {_kind(value)}")
    return value


# --- payload decoding and encoding --------------------------------------------------


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


def _decode_object(data: object, required: tuple[str, ...]) -> dict[str, Any]:
    doc = decode(data)
    if not isinstance(doc, dict):
        raise WireError("payload", f"must be a JSON object, not {_kind(doc)}")
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


# --- messages -----------------------------------------------------------------------


class _FlatPayload:
    """A payload that is one flat JSON object of `FIELDS`, in that order (the dataclass's
    own field order, so `cls(*values)` rebuilds it)."""

    FIELDS: ClassVar[tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in contract order."""
        return {
            name: dict(value) if isinstance(value, Mapping) else value
            for name, value in ((name, getattr(self, name)) for name in self.FIELDS)
        }

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON (`WireError` if it would be too large)."""
        return encode(self.to_dict())

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse and validate a payload of this kind (bytes or text)."""
        doc = _decode_object(data, cls.FIELDS)
        return cls(*(doc[name] for name in cls.FIELDS))


@dataclass(frozen=True)
class UsageReport(_FlatPayload):
    """Bytes moved by one device between `start` and `end` (topic `usage`).

    `seq` rises by 1 per record of a device and never repeats; the cloud stores each
    `(iccid, seq)` once. `imei` is null when the modem did not tell it.
    """

    seq: int
    iccid: str
    imei: str | None
    start: str
    end: str
    up: int
    down: int
    source: str

    FIELDS: ClassVar[tuple[str, ...]] = (
        "seq",
        "iccid",
        "imei",
        "start",
        "end",
        "up",
        "down",
        "source",
    )

    def __post_init__(self) -> None:
        _count(self.seq, "seq", minimum=1)
        check_iccid(self.iccid)
        if self.imei is not None:
            _match(self.imei, "imei", _IMEI, "14 to 16 digits or null")
        began = parse_time(self.start, "start")
        ended = parse_time(self.end, "end")
        if ended < began:
            raise WireError("end", "is before start")
        _count(self.up, "up")
        _count(self.down, "down")
        _match(self.source, "source", _SOURCE, "a short lower-case name like 'modem'")


@dataclass(frozen=True)
class StateReport(_FlatPayload):
    """What the device knows about itself (topic `state`, retained).

    `sim`, `net` and `internet` are the JSON documents of `sim status`, `net status` and
    `internet status` (contracts §1); this schema only requires them to be objects.
    """

    seq: int
    at: str
    sim: Mapping[str, Any]
    net: Mapping[str, Any]
    internet: Mapping[str, Any]

    FIELDS: ClassVar[tuple[str, ...]] = ("seq", "at", "sim", "net", "internet")

    def __post_init__(self) -> None:
        _count(self.seq, "seq", minimum=1)
        parse_time(self.at, "at")
        for name in ("sim", "net", "internet"):
            _object(getattr(self, name), name)


@dataclass(frozen=True)
class Command:
    """An order from the cloud (topic `commands`); other keys are kept in `extra`."""

    id: str
    op: Op
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _match(self.id, "id", _COMMAND_ID, "1 to 64 printable ASCII characters")
        if not isinstance(self.op, str) or self.op not in set(Op):
            raise WireError("op", f"must be one of {', '.join(Op)}")
        object.__setattr__(self, "op", Op(self.op))
        _object(self.extra, "extra")
        for key in ("id", "op"):
            if key in self.extra:
                raise WireError(key, "must not also appear in extra")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: `id`, `op`, then the extra keys."""
        return {"id": self.id, "op": self.op.value, **self.extra}

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON."""
        return encode(self.to_dict())

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse and validate a `commands` payload."""
        doc = _decode_object(data, ("id", "op"))
        extra = {key: value for key, value in doc.items() if key not in ("id", "op")}
        return cls(doc["id"], doc["op"], extra)


@dataclass(frozen=True)
class ErrorReport(_FlatPayload):
    """The cloud rejected a message (topic `errors`).

    `topic` is the topic the rejected message came on; `seq` its sequence number when
    one could be read, else null; `error` says why (never echoing secrets).
    """

    topic: str
    seq: int | None
    error: str

    FIELDS: ClassVar[tuple[str, ...]] = ("topic", "seq", "error")

    def __post_init__(self) -> None:
        _text(self.topic, "topic", _MAX_TOPIC)
        if self.seq is not None:
            _count(self.seq, "seq", minimum=1)
        _text(self.error, "error")


ONLINE: Final = b'"online"'
OFFLINE: Final = b'"offline"'


def status_payload(online: bool) -> bytes:
    """The `status` payload: the JSON string `"online"` or `"offline"`."""
    return ONLINE if online else OFFLINE


def parse_status(data: object) -> bool:
    """True for `"online"`, False for `"offline"`; bare words are accepted too."""
    if isinstance(data, bytes | bytearray | memoryview) and bytes(data) in (
        b"online",
        b"offline",
    ):
        return bytes(data) == b"online"
    value = decode(data)
    if value not in ("online", "offline"):
        raise WireError("status", 'must be "online" or "offline"')
    return bool(value == "online")


# --- Mono Platform messages (topics under `platform/`) ------------------------------

PLATFORM_UP: Final = "platform/up"
"""Device -> platform: a `PlatformMessage` (QoS 1); stored once per `(iccid, id)`."""
PLATFORM_DOWN: Final = "platform/down"
"""Platform -> device: a `PlatformMessage` from the API, an adapter or the stream (QoS 1)."""
PLATFORM_FILES: Final = "platform/files"
"""Platform -> device: a `FileNotice` (a file waiting to be downloaded over HTTP)."""
PLATFORM_LEAVES: Final = (PLATFORM_UP, PLATFORM_DOWN, PLATFORM_FILES)
MAX_OBJECTS: Final = 32
MAX_TAG: Final = 255
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_FLOAT32_MAX: Final = 3.4028234663852886e38
INT_RANGES: Final = {
    f"{sign}int{bits}": (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if sign == "" else (0, 2**bits - 1)
    )
    for sign in ("", "u")
    for bits in (8, 16, 32, 64)
}
"""Every integer type of a typed object and its inclusive range."""
VALUE_TYPES: Final = (*INT_RANGES, "float32", "float64", "binary", "string")


def platform_topic(iccid: str, leaf: str) -> str:
    """`simgate/v1/devices/{iccid}/platform/up` and the like."""
    if leaf not in PLATFORM_LEAVES:
        raise WireError("topic", f"unknown platform leaf {leaf!r}")
    return f"{topic_root(iccid)}/{leaf}"


def parse_platform_topic(name: str) -> tuple[str, str]:
    """`(iccid, leaf)` of a platform topic (`leaf` like `platform/up`); WireError otherwise."""
    parts = name.split("/")
    if len(parts) != 6 or "/".join(parts[:3]) != TOPIC_PREFIX:
        raise WireError("topic", f"not a platform topic ({TOPIC_PREFIX}/ICCID/platform/LEAF)")
    iccid = check_iccid(parts[3], "topic")
    leaf = "/".join(parts[4:])
    if leaf not in PLATFORM_LEAVES:
        raise WireError("topic", f"unknown platform leaf {leaf[:32]!r}")
    return iccid, leaf


def _float32(value: float, name: str) -> float:
    if abs(value) > _FLOAT32_MAX:
        raise WireError(name, "is outside the float32 range (about ±3.4e38)")
    rounded: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return rounded


def check_value(kind: object, value: object, name: str = "value") -> object:
    """A typed object's value, checked against its type (range per integer type, float32
    range, base64 binary, UTF-8 text); float32 values come back rounded to float32."""
    if not isinstance(kind, str) or kind not in VALUE_TYPES:
        raise WireError("type", f"must be one of {', '.join(VALUE_TYPES)}")
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        if not isinstance(value, int) or isinstance(value, bool):
            raise WireError(name, f"must be an integer for {kind}, not {_kind(value)}")
        if not low <= value <= high:
            raise WireError(name, f"{value} is outside the {kind} range {low}..{high}")
        return value
    if kind in ("float32", "float64"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise WireError(name, f"must be a number for {kind}, not {_kind(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise WireError(name, "must be a finite number")
        return _float32(number, name) if kind == "float32" else number
    if not isinstance(value, str):
        raise WireError(name, f"must be a string for {kind}, not {_kind(value)}")
    if kind == "binary":
        if not _BASE64.fullmatch(value):
            raise WireError(name, "must be standard base64 with padding")
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(name, "is not valid UTF-8 (a lone surrogate)") from None
    return value


@dataclass(frozen=True)
class TypedObject:
    """One value of a platform message: `tag` (0-255), `type`, `value`."""

    tag: int
    type: str
    value: Any

    def __post_init__(self) -> None:
        if not isinstance(self.tag, int) or isinstance(self.tag, bool):
            raise WireError("tag", f"must be an integer, not {_kind(self.tag)}")
        if not 0 <= self.tag <= MAX_TAG:
            raise WireError("tag", f"must be from 0 to {MAX_TAG}")
        object.__setattr__(self, "value", check_value(self.type, self.value))

    def to_dict(self) -> dict[str, Any]:
        """`{"tag", "type", "value"}`."""
        return {"tag": self.tag, "type": self.type, "value": self.value}

    @classmethod
    def from_dict(cls, doc: object, name: str = "objects[0]") -> Self:
        """Parse one object; errors name it (`objects[2].value: ...`)."""
        item = _object(doc, name)
        for key in ("tag", "type", "value"):
            if key not in item:
                raise WireError(f"{name}.{key}", "is missing")
        extra = sorted(set(item) - {"tag", "type", "value"})
        if extra:
            raise WireError(f"{name}.{extra[0]}", "is not a field of a typed object")
        try:
            return cls(item["tag"], item["type"], item["value"])
        except WireError as exc:
            raise WireError(f"{name}.{exc.field}", exc.problem) from None


@dataclass(frozen=True)
class PlatformMessage:
    """A message through the platform (`platform/up` or `platform/down`).

    `id` (1-64 printable ASCII) is the sender's message id: the platform stores each
    `(iccid, id)` once, and receivers can deduplicate on it. `objects`: 1 to 32.
    """

    id: str
    objects: tuple[TypedObject, ...]

    def __post_init__(self) -> None:
        _match(self.id, "id", _COMMAND_ID, "1 to 64 printable ASCII characters")
        if not 1 <= len(self.objects) <= MAX_OBJECTS:
            raise WireError("objects", f"must hold 1 to {MAX_OBJECTS} typed objects")

    def to_dict(self) -> dict[str, Any]:
        """`{"id", "objects": [...]}`."""
        return {"id": self.id, "objects": [o.to_dict() for o in self.objects]}

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON."""
        return encode(self.to_dict())

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Self:
        """Validate an already decoded object (REST bodies use this)."""
        for key in ("id", "objects"):
            if key not in doc:
                raise WireError(key, "is missing")
        items = doc["objects"]
        if not isinstance(items, list):
            raise WireError("objects", f"must be an array, not {_kind(items)}")
        if not 1 <= len(items) <= MAX_OBJECTS:
            raise WireError("objects", f"must hold 1 to {MAX_OBJECTS} typed objects")
        objects = tuple(TypedObject.from_dict(x, f"objects[{i}]") for i, x in enumerate(items))
        return cls(doc["id"], objects)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse and validate a `platform/up` or `platform/down` payload."""
        return cls.from_doc(_decode_object(data, ("id", "objects")))


@dataclass(frozen=True)
class FileNotice(_FlatPayload):
    """A file waiting for the device (`platform/files`): download `path` over HTTP with
    the device's login (ICCID and token) and check `sha256`."""

    id: str
    name: str
    size: int
    sha256: str
    path: str

    FIELDS: ClassVar[tuple[str, ...]] = ("id", "name", "size", "sha256", "path")

    def __post_init__(self) -> None:
        _text(self.id, "id", 64)
        _text(self.name, "name", 255)
        _count(self.size, "size")
        _match(self.sha256, "sha256", _SHA256, "64 lower-case hex digits")
        _text(self.path, "path", 512)
