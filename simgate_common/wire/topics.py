"""Device topics: `simgate/v1/devices/{iccid}/{leaf}` (contracts §3)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from simgate_common.wire.codec import WireError, kind_of

TOPIC_PREFIX: Final = "simgate/v1/devices"
DEVICE_WILDCARD: Final = f"{TOPIC_PREFIX}/+/+"
"""What the cloud subscribes to: every leaf topic of every device."""

_ICCID = re.compile(r"[0-9A-F]{18,22}")


class Leaf(StrEnum):
    """The last segment of each device topic."""

    USAGE = "usage"
    STATE = "state"
    STATUS = "status"
    COMMANDS = "commands"
    ERRORS = "errors"
    SMS = "sms"


def check_iccid(iccid: object, name: str = "iccid") -> str:
    """`iccid` if it is 18-22 digits (upper-case hex allowed, as on some real cards)."""
    if not isinstance(iccid, str):
        raise WireError(name, f"must be a string, not {kind_of(iccid)}")
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


def sms_topic(iccid: str) -> str:
    """Where the device publishes each message it received (QoS 1)."""
    return topic(iccid, Leaf.SMS)


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
