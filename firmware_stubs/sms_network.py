"""Messages from the emulator's radio network to the card in this modem.

The emulator keeps each message sent to a registered SIM's number pending; the stub asks
for the card's messages (`POST /_emulator/network/sms/fetch`), stores each on the card
as a real network's delivery would, and reports the outcome (`.../sms/report`:
`delivered`, or `failed` with `memory_full`). The fetch also carries the card's number:
the network's MSISDN wins over the card file's. Only a registered modem gets messages.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from firmware_stubs.emulator_network import EmulatorNetwork
from firmware_stubs.network import Network, Verdict

logger = logging.getLogger(__name__)

JST = datetime.timezone(datetime.timedelta(hours=9))  # the network's time zone in SCTS


@dataclass(frozen=True)
class NetworkSms:
    """A message the network holds for the card."""

    id: str
    sender: str
    text: str
    sent_at: datetime.datetime


@dataclass(frozen=True)
class Inbox:
    """The card's number as the network knows it, and the messages waiting for it."""

    msisdn: str | None
    messages: list[NetworkSms]


def _message(item: object) -> NetworkSms | None:
    if not isinstance(item, dict):
        return None
    ident, sender, text, sent = (item.get(k) for k in ("id", "sender", "text", "sent_at"))
    if not all(isinstance(v, str) and v for v in (ident, sender, text, sent)):
        return None
    assert isinstance(ident, str)
    assert isinstance(sender, str)
    assert isinstance(text, str)
    try:
        when = datetime.datetime.fromisoformat(str(sent))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return NetworkSms(ident, sender, text, when.astimezone(JST))


def fetch_messages(carrier: Network, iccid: str) -> Inbox | None:
    """The card's messages from the emulator; None when there is no emulator or no answer."""
    if not isinstance(carrier, EmulatorNetwork):
        return None
    verdict, doc = carrier._post("sms/fetch", {"iccid": iccid})
    if verdict is not Verdict.ACCEPTED or doc is None:
        return None
    msisdn = doc.get("msisdn")
    items = doc.get("messages")
    messages = [m for m in map(_message, items if isinstance(items, list) else []) if m]
    return Inbox(msisdn if isinstance(msisdn, str) else None, messages)


def report_delivery(
    carrier: Network, iccid: str, message_id: str, delivered: bool, reason: str | None
) -> bool:
    """Tell the emulator a message's outcome; False when it did not take the report."""
    if not isinstance(carrier, EmulatorNetwork):
        return False
    body: dict[str, object] = {
        "iccid": iccid,
        "id": message_id,
        "outcome": "delivered" if delivered else "failed",
        "reason": reason,
    }
    verdict, _ = carrier._post("sms/report", body)
    return verdict is Verdict.ACCEPTED
