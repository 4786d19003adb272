"""The messages stored on the SIM or modem, read and deleted over 27.005 in PDU mode.

`+CMGF=0` first (PDU mode, whatever text mode the modem was left in), then `+CMGL=4`
lists every record: a `+CMGL: <index>,<stat>,[<alpha>],<length>` line followed by the
PDU. The parts of a concatenated message (same sender, reference and part count) are
joined in part order into one `SmsMessage` whose `id` is its lowest record index;
deleting it deletes every part. Listing marks unread messages read, as 27.005 says.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from agent.at import commands
from agent.at.engine import Response
from agent.at.errors import ResponseParseError
from agent.modem.client import Modem
from agent.sim.manager import SimSaidNo
from agent.sms.pdu import DecodedPdu, PduDecodeError, PduKind, decode_pdu

log = logging.getLogger(__name__)

STATUS_WORDS = ("unread", "read", "unsent", "sent")  # 27.005 <stat> 0-3
LIST_TIMEOUT = 20.0  # a full SIM over a slow line


class SmsError(SimSaidNo):
    """The modem refused a message command (its `+CMS ERROR` is in the text): exit 4."""


class SmsNotFound(SmsError):
    """No stored message has the id asked for."""


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One record of the message memory: its index, 27.005 status and decoded PDU."""

    index: int
    status: int
    pdu: DecodedPdu


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """A message as `sms list --json` shows it (contracts §1)."""

    id: int
    sender: str
    at: str | None  # RFC 3339, the service centre's time stamp
    text: str
    parts: int
    status: str
    indexes: tuple[int, ...]
    complete: bool = True

    def to_json(self) -> dict[str, object]:
        """`{"id","from","at","text","parts","status"}`."""
        return {
            "id": self.id,
            "from": self.sender,
            "at": self.at,
            "text": self.text,
            "parts": self.parts,
            "status": self.status,
        }


def parse_cmgl(lines: Sequence[str]) -> list[StoredPart]:
    """The records in a PDU-mode `+CMGL` answer; an undecodable PDU is logged and skipped."""
    parts: list[StoredPart] = []
    header: tuple[int, int] | None = None
    for line in lines:
        if line.upper().startswith("+CMGL:"):
            fields = line.split(":", 1)[1].split(",")
            try:
                header = (int(fields[0]), int(fields[1]))
            except (ValueError, IndexError):
                raise ResponseParseError("+CMGL", line, "expected <index>,<stat>,...") from None
            continue
        if header is None:
            raise ResponseParseError("+CMGL", line, "a PDU without its +CMGL: line")
        index, status = header
        header = None
        try:
            parts.append(StoredPart(index, status, decode_pdu(line)))
        except PduDecodeError as exc:
            log.warning("message %d cannot be read: %s", index, exc)
    return parts


def join_parts(parts: Sequence[StoredPart]) -> list[SmsMessage]:
    """Messages from records: concatenated parts joined, in the order of their first index."""
    groups: dict[object, list[StoredPart]] = {}
    for part in sorted(parts, key=lambda p: p.index):
        concat = part.pdu.concatenation
        key: object = (
            (part.pdu.address, concat.reference, concat.total)
            if concat is not None and concat.total > 1
            else ("single", part.index)
        )
        groups.setdefault(key, []).append(part)
    messages = []
    for group in groups.values():
        ordered = sorted(
            group, key=lambda p: p.pdu.concatenation.number if p.pdu.concatenation else 0
        )
        first = ordered[0]
        total = first.pdu.concatenation.total if first.pdu.concatenation else 1
        statuses = {p.status for p in ordered}
        status = 0 if 0 in statuses else first.status
        stamp = first.pdu.timestamp
        messages.append(
            SmsMessage(
                id=min(p.index for p in ordered),
                sender=first.pdu.address,
                at=stamp.isoformat() if stamp is not None else None,
                text="".join(p.pdu.text for p in ordered),
                parts=len(ordered),
                status=STATUS_WORDS[status] if 0 <= status < 4 else str(status),
                indexes=tuple(sorted(p.index for p in ordered)),
                complete=len(ordered) == total,
            )
        )
    return sorted(messages, key=lambda m: m.id)


def _checked(response: Response, what: str) -> Response:
    if not response.result.ok:
        raise SmsError(f"the modem refused {what}: {response.result}")
    return response


async def list_messages(modem: Modem) -> list[SmsMessage]:
    """Every stored message, received and sent, parts joined."""
    _checked(await modem.command(commands.write("+CMGF", 0)), "PDU mode (AT+CMGF=0)")
    response = await modem.command(commands.write("+CMGL", 4, timeout=LIST_TIMEOUT))
    _checked(response, "the message list (AT+CMGL=4)")
    return join_parts(parse_cmgl(response.lines))


async def find_message(modem: Modem, message_id: int) -> SmsMessage:
    """The message with `message_id`; `SmsNotFound` if there is none."""
    for message in await list_messages(modem):
        if message.id == message_id:
            return message
    raise SmsNotFound(f"no stored message has id {message_id}")


async def delete_message(modem: Modem, message: SmsMessage) -> None:
    """Delete every record of `message`."""
    for index in message.indexes:
        _checked(await modem.command(commands.write("+CMGD", index)), f"AT+CMGD={index}")


def received(messages: Sequence[SmsMessage]) -> list[SmsMessage]:
    """The messages that came from the network (not the ones stored to send)."""
    return [m for m in messages if m.status in ("unread", "read")]


__all__ = [
    "PduKind",
    "SmsError",
    "SmsMessage",
    "SmsNotFound",
    "StoredPart",
    "delete_message",
    "find_message",
    "join_parts",
    "list_messages",
    "parse_cmgl",
    "received",
]
