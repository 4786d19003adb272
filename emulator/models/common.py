"""Small helpers shared by the aggregates: zones, JSON columns, field checks."""

from __future__ import annotations

import ipaddress
import json

from emulator.errors import BadRequest, NotFound

# Zones of the Sakura Cloud API that the emulator answers for; SIMs are global.
ZONES = ("is1a", "is1b", "is1c", "tk1a", "tk1b", "tk1v")
ZONE_IDS = {
    "is1a": 31001,
    "is1b": 31002,
    "is1c": 31003,
    "tk1a": 21001,
    "tk1b": 21002,
    "tk1v": 29001,
}
MAX_NAME = 64
MAX_DESCRIPTION = 512
MAX_TAGS = 10


def check_zone(zone: str) -> str:
    """A known zone name; NotFound otherwise (the real API answers 404)."""
    if zone not in ZONES:
        raise NotFound(f"unknown zone {zone!r} (known: {', '.join(ZONES)})", code="zone_not_found")
    return zone


def check_id(resource: str, value: str) -> str:
    """A 12-digit resource id; NotFound otherwise (an id that cannot exist is unknown)."""
    if not (len(value) == 12 and value.isdigit()):
        raise NotFound(f"{resource} [ID:{value}] is not found")
    return value


def check_text(field: str, value: str, limit: int) -> str:
    """A string no longer than `limit` characters."""
    if len(value) > limit:
        raise BadRequest(f"{field} is longer than {limit} characters", code="invalid_parameter")
    return value


def check_tags(tags: list[str]) -> list[str]:
    """At most 10 tags of at most 32 characters each."""
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"at most {MAX_TAGS} tags", code="invalid_parameter")
    for tag in tags:
        if not tag or len(tag) > 32:
            raise BadRequest(f"invalid tag {tag!r}: 1 to 32 characters", code="invalid_parameter")
    return tags


def check_ipv4(field: str, value: str) -> str:
    """A dotted-quad IPv4 address."""
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise BadRequest(
            f"{field} is not an IPv4 address: {value!r}", code="invalid_parameter"
        ) from None


def check_prefix(field: str, value: str) -> str:
    """An IPv4 network in CIDR notation."""
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError:
        raise BadRequest(
            f"{field} is not an IPv4 CIDR prefix: {value!r}", code="invalid_parameter"
        ) from None


def dumps(value: object) -> str:
    """Compact JSON for a column."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads_list(text: str | None) -> list[object]:
    """A JSON list column (empty when NULL)."""
    if not text:
        return []
    value = json.loads(text)
    return list(value) if isinstance(value, list) else []


def loads_dict(text: str | None) -> dict[str, object] | None:
    """A JSON object column (None when NULL)."""
    if not text:
        return None
    value = json.loads(text)
    return dict(value) if isinstance(value, dict) else None
