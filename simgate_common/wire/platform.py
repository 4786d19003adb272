"""Mono Platform messages (topics under `platform/`): typed objects and file notices."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from simgate_common.wire.codec import (
    COMMAND_ID,
    WireError,
    check_count,
    check_match,
    check_object,
    check_text,
    decode_object,
    encode,
    kind_of,
)
from simgate_common.wire.device import FlatPayload
from simgate_common.wire.topics import TOPIC_PREFIX, check_iccid, topic_root

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
            raise WireError(name, f"must be an integer for {kind}, not {kind_of(value)}")
        if not low <= value <= high:
            raise WireError(name, f"{value} is outside the {kind} range {low}..{high}")
        return value
    if kind in ("float32", "float64"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise WireError(name, f"must be a number for {kind}, not {kind_of(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise WireError(name, "must be a finite number")
        return _float32(number, name) if kind == "float32" else number
    if not isinstance(value, str):
        raise WireError(name, f"must be a string for {kind}, not {kind_of(value)}")
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
            raise WireError("tag", f"must be an integer, not {kind_of(self.tag)}")
        if not 0 <= self.tag <= MAX_TAG:
            raise WireError("tag", f"must be from 0 to {MAX_TAG}")
        object.__setattr__(self, "value", check_value(self.type, self.value))

    def to_dict(self) -> dict[str, Any]:
        """`{"tag", "type", "value"}`."""
        return {"tag": self.tag, "type": self.type, "value": self.value}

    @classmethod
    def from_dict(cls, doc: object, name: str = "objects[0]") -> Self:
        """Parse one object; errors name it (`objects[2].value: ...`)."""
        item = check_object(doc, name)
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
        check_match(self.id, "id", COMMAND_ID, "1 to 64 printable ASCII characters")
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
            raise WireError("objects", f"must be an array, not {kind_of(items)}")
        if not 1 <= len(items) <= MAX_OBJECTS:
            raise WireError("objects", f"must hold 1 to {MAX_OBJECTS} typed objects")
        objects = tuple(TypedObject.from_dict(x, f"objects[{i}]") for i, x in enumerate(items))
        return cls(doc["id"], objects)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse and validate a `platform/up` or `platform/down` payload."""
        return cls.from_doc(decode_object(data, ("id", "objects")))


@dataclass(frozen=True)
class FileNotice(FlatPayload):
    """A file waiting for the device (`platform/files`): download `path` over HTTP with
    the device's login (ICCID and token) and check `sha256`."""

    id: str
    name: str
    size: int
    sha256: str
    path: str

    FIELDS: ClassVar[tuple[str, ...]] = ("id", "name", "size", "sha256", "path")

    def __post_init__(self) -> None:
        check_text(self.id, "id", 64)
        check_text(self.name, "name", 255)
        check_count(self.size, "size")
        check_match(self.sha256, "sha256", _SHA256, "64 lower-case hex digits")
        check_text(self.path, "path", 512)
