"""A short message the device received (topic `sms`, contracts §3).

`{"seq", "from", "at", "text", "parts"}`: `seq` rises by 1 per message of a device and
never repeats (the cloud stores each `(iccid, seq)` once); `from` is the sender as the
network gave it (a number like `+819012345678`, or an alphanumeric sender id); `at` the
service centre's time stamp (RFC 3339, any offset in, UTC kept); `text` the decoded text
(concatenated parts joined; may be empty); `parts` how many parts it arrived in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from simgate_common.wire.codec import (
    WireError,
    check_count,
    check_match,
    decode_object,
    encode,
    kind_of,
    normal_time,
)

MAX_SMS_TEXT: Final = 4096
"""Characters of text in one report (a 255-part message could hold more; such a text is
cut by the device, which says so in the text)."""
MAX_PARTS: Final = 255
_SENDER = re.compile(r"[^\x00-\x1f\x7f]{1,32}")


@dataclass(frozen=True)
class SmsReport:
    """One received message (topic `sms`). `sender` is the JSON key `from`."""

    seq: int
    sender: str
    at: str
    text: str
    parts: int

    KEYS: ClassVar[tuple[str, ...]] = ("seq", "from", "at", "text", "parts")

    def __post_init__(self) -> None:
        check_count(self.seq, "seq", minimum=1)
        check_match(self.sender, "from", _SENDER, "1 to 32 printable characters")
        object.__setattr__(self, "at", normal_time(self.at, "at"))
        if not isinstance(self.text, str):
            raise WireError("text", f"must be a string, not {kind_of(self.text)}")
        if len(self.text) > MAX_SMS_TEXT:
            raise WireError("text", f"is longer than {MAX_SMS_TEXT} characters")
        check_count(self.parts, "parts", minimum=1)
        if self.parts > MAX_PARTS:
            raise WireError("parts", f"must be 1 to {MAX_PARTS}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in contract order."""
        return {
            "seq": self.seq,
            "from": self.sender,
            "at": self.at,
            "text": self.text,
            "parts": self.parts,
        }

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON (`WireError` if it would be too large)."""
        return encode(self.to_dict())

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse and validate an `sms` payload (bytes)."""
        doc = decode_object(data, cls.KEYS)
        return cls(doc["seq"], doc["from"], doc["at"], doc["text"], doc["parts"])
