"""What a device and the cloud say to each other: usage, state, status, commands, errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

from simgate_common.wire.codec import (
    COMMAND_ID,
    MAX_TOPIC,
    WireError,
    check_count,
    check_match,
    check_object,
    check_text,
    decode,
    decode_object,
    encode,
    normal_form,
    normal_time,
    parse_time,
)
from simgate_common.wire.topics import check_iccid

_IMEI = re.compile(r"[0-9]{14,16}")
_SOURCE = re.compile(r"[a-z][a-z0-9_.:-]{0,31}")


class Op(StrEnum):
    """What a command asks the device to do."""

    INTERNET_ON = "internet_on"
    INTERNET_OFF = "internet_off"
    REPORT_NOW = "report_now"


class FlatPayload:
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
        doc = decode_object(data, cls.FIELDS)
        return cls(*(doc[name] for name in cls.FIELDS))


@dataclass(frozen=True)
class UsageReport(FlatPayload):
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
        check_count(self.seq, "seq", minimum=1)
        check_iccid(self.iccid)
        if self.imei is not None:
            check_match(self.imei, "imei", _IMEI, "14 to 16 digits or null")
        began = parse_time(self.start, "start")
        ended = parse_time(self.end, "end")
        object.__setattr__(self, "start", normal_form(self.start, began))  # any offset in,
        object.__setattr__(self, "end", normal_form(self.end, ended))  # UTC stored
        if ended < began:
            raise WireError("end", "is before start")
        check_count(self.up, "up")
        check_count(self.down, "down")
        check_match(self.source, "source", _SOURCE, "a short lower-case name like 'modem'")


@dataclass(frozen=True)
class StateReport(FlatPayload):
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
        check_count(self.seq, "seq", minimum=1)
        object.__setattr__(self, "at", normal_time(self.at, "at"))
        for name in ("sim", "net", "internet"):
            check_object(getattr(self, name), name)


@dataclass(frozen=True)
class Command:
    """An order from the cloud (topic `commands`); other keys are kept in `extra`."""

    id: str
    op: Op
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_match(self.id, "id", COMMAND_ID, "1 to 64 printable ASCII characters")
        if not isinstance(self.op, str) or self.op not in set(Op):
            raise WireError("op", f"must be one of {', '.join(Op)}")
        object.__setattr__(self, "op", Op(self.op))
        check_object(self.extra, "extra")
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
        doc = decode_object(data, ("id", "op"))
        extra = {key: value for key, value in doc.items() if key not in ("id", "op")}
        return cls(doc["id"], doc["op"], extra)


@dataclass(frozen=True)
class ErrorReport(FlatPayload):
    """The cloud rejected a message (topic `errors`).

    `topic` is the topic the rejected message came on; `seq` its sequence number when
    one could be read, else null; `error` says why (never echoing secrets).
    """

    topic: str
    seq: int | None
    error: str

    FIELDS: ClassVar[tuple[str, ...]] = ("topic", "seq", "error")

    def __post_init__(self) -> None:
        check_text(self.topic, "topic", MAX_TOPIC)
        if self.seq is not None:
            check_count(self.seq, "seq", minimum=1)
        check_text(self.error, "error")


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
