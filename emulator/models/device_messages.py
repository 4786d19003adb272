"""A device message as a broker hands it to the ingest, and the verdict on it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum

from simgate_common import wire
from simgate_common.wire import ErrorReport

log = logging.getLogger("emulator.models.devices")


@dataclass(frozen=True)
class Incoming:
    """One MQTT message as the broker delivered it."""

    topic: str
    payload: bytes
    retain: bool = False


class Verdict(StrEnum):
    """What became of a message."""

    STORED = "stored"
    """A new usage report, or a state or status that changed what the emulator knows."""
    DUPLICATE = "duplicate"
    """Already known (a repeated `seq`, a redelivered retained state): acknowledged."""
    IGNORED = "ignored"
    """Not a device report (another topic, a cleared retained message)."""
    REJECTED = "rejected"
    """Bad input: nothing changed; `error` says why."""


@dataclass(frozen=True)
class Outcome:
    """The verdict on one message, and the `errors` message to send back, if any."""

    verdict: Verdict
    iccid: str | None = None
    error: ErrorReport | None = None

    @property
    def error_topic(self) -> str | None:
        """The device's `errors` topic when there is an error to report."""
        if self.error is None or self.iccid is None:
            return None
        return wire.errors_topic(self.iccid)


def reject(topic: str, iccid: str | None, seq: int | None, why: str) -> Outcome:
    """A rejection: logged, and an `errors` message for the device."""
    log.info("MQTT: rejected a message on %s (seq %s): %s", topic, seq, why)
    return Outcome(Verdict.REJECTED, iccid, ErrorReport(topic[:256], seq, why[:1024]))


def peek_seq(payload: bytes) -> int | None:
    """The `seq` of a payload that failed validation, if one can be read safely."""
    if len(payload) > wire.MAX_PAYLOAD:
        return None
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    seq = doc.get("seq") if isinstance(doc, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= wire.MAX_COUNT:
        return seq
    return None
