"""MQTT topics and payloads between the agent and the emulator (contracts §3).

One schema for both sides, stdlib only so that the agent stays light, in one module per
family: `codec` (size, JSON, field and time checks), `topics`, `device` (usage, state,
status, commands, errors), `sms` (messages the device received) and `platform` (Mono
Platform messages). Every `from_json`
is strict: a payload that is too large, not UTF-8, not a JSON object, has a duplicate or
missing key, or a value of the wrong type or range raises `WireError` naming the field,
and nothing else. Keys a newer peer adds are ignored (commands keep them in `extra`).
Constructors validate too, so an invalid report can be neither parsed nor built, and
`to_json` gives compact UTF-8 bytes that the matching `from_json` reads back unchanged.
Times may come with any RFC 3339 offset and are kept in UTC.
"""

from simgate_common.wire.codec import (
    MAX_COUNT,
    MAX_PAYLOAD,
    WireError,
    decode,
    encode,
    format_time,
    normal_time,
    parse_time,
)
from simgate_common.wire.device import (
    OFFLINE,
    ONLINE,
    Command,
    ErrorReport,
    Op,
    StateReport,
    UsageReport,
    parse_status,
    status_payload,
)
from simgate_common.wire.platform import (
    INT_RANGES,
    MAX_OBJECTS,
    MAX_TAG,
    PLATFORM_DOWN,
    PLATFORM_FILES,
    PLATFORM_LEAVES,
    PLATFORM_UP,
    VALUE_TYPES,
    FileNotice,
    PlatformMessage,
    TypedObject,
    check_value,
    parse_platform_topic,
    platform_topic,
)
from simgate_common.wire.sms import MAX_SMS_TEXT, SmsReport
from simgate_common.wire.topics import (
    DEVICE_WILDCARD,
    TOPIC_PREFIX,
    Leaf,
    check_iccid,
    commands_topic,
    errors_topic,
    parse_topic,
    sms_topic,
    state_topic,
    status_topic,
    topic,
    topic_root,
    usage_topic,
)

__all__ = [
    "DEVICE_WILDCARD",
    "INT_RANGES",
    "MAX_COUNT",
    "MAX_OBJECTS",
    "MAX_PAYLOAD",
    "MAX_SMS_TEXT",
    "MAX_TAG",
    "OFFLINE",
    "ONLINE",
    "PLATFORM_DOWN",
    "PLATFORM_FILES",
    "PLATFORM_LEAVES",
    "PLATFORM_UP",
    "TOPIC_PREFIX",
    "VALUE_TYPES",
    "Command",
    "ErrorReport",
    "FileNotice",
    "Leaf",
    "Op",
    "PlatformMessage",
    "SmsReport",
    "StateReport",
    "TypedObject",
    "UsageReport",
    "WireError",
    "check_iccid",
    "check_value",
    "commands_topic",
    "decode",
    "encode",
    "errors_topic",
    "format_time",
    "normal_time",
    "parse_platform_topic",
    "parse_status",
    "parse_time",
    "parse_topic",
    "platform_topic",
    "sms_topic",
    "state_topic",
    "status_payload",
    "status_topic",
    "topic",
    "topic_root",
    "usage_topic",
]
