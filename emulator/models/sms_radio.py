"""SMS to the emulator's own SIMs: the radio network's side of delivery.

A message sent through the SMS API (`emulator.models.sms`) whose number is a registered
SIM's MSISDN is not decided by the delivery simulation: it waits, `pending`, for the
modem holding that card. The stub (or a test) asks the network for the card's messages
(`fetch`), stores them on the card, and reports each one delivered or failed
(`report`, e.g. `memory_full` when the card's message memory is full); the message's
record then shows that outcome. The message was billed when it was sent (001 §70).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest
from emulator.models.cards import card_for_msisdn, card_msisdn, check_iccid
from emulator.store import Store, Tx

SENDER_ID = "SIMGATE"  # the alphanumeric sender the network shows for API messages
MAX_REASON = 200


@dataclass(frozen=True)
class RadioSms:
    """A message waiting for the card `iccid`."""

    id: str
    sender: str
    text: str
    sent_at: str


@dataclass(frozen=True)
class Pending:
    """The card's number and the messages waiting for it, oldest first."""

    msisdn: str | None
    messages: list[RadioSms]


def registered_recipient(db: Tx, number: str) -> str | None:
    """The ICCID of the registered SIM whose number is `number`, if there is one."""
    iccid = card_for_msisdn(db, number)
    if iccid is None or db.one("SELECT 1 FROM sims WHERE iccid = ?", (iccid,)) is None:
        return None
    return iccid


def hold_for_radio(db: Tx, sms_id: str, iccid: str, when: str) -> None:
    """Keep a just-sent message for delivery to the card `iccid`."""
    db.execute(
        "INSERT INTO sms_radio (sms_id, iccid, sender, status, updated_at) "
        "VALUES (?, ?, ?, 'pending', ?)",
        (sms_id, iccid, SENDER_ID, when),
    )


class SmsRadio:
    """The network's delivery of messages to the emulator's SIMs."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def fetch(self, iccid: str) -> Pending:
        """The card's number and its pending messages (they stay pending until reported)."""
        check_iccid(iccid)
        with self._store.transaction() as db:
            rows = db.all(
                "SELECT r.sms_id, r.sender, m.text, m.sent_at FROM sms_radio r "
                "JOIN sms_messages m ON m.id = r.sms_id "
                "WHERE r.iccid = ? AND r.status = 'pending' ORDER BY m.seq LIMIT 50",
                (iccid,),
            )
            return Pending(
                card_msisdn(db, iccid),
                [RadioSms(r["sms_id"], r["sender"], r["text"], r["sent_at"]) for r in rows],
            )

    def report(
        self, iccid: str, sms_id: str, delivered: bool, reason: str | None
    ) -> tuple[bool, str | None]:
        """Book the modem's outcome for one message: (accepted, why not). A repeat of
        the same outcome is accepted and changes nothing."""
        check_iccid(iccid)
        if reason is not None and len(reason) > MAX_REASON:
            raise BadRequest(f"reason: at most {MAX_REASON} characters", code="invalid_reason")
        status = "delivered" if delivered else "failed"
        now = iso_utc(self._clock.now())
        with self._store.transaction() as db:
            row = db.one(
                "SELECT status FROM sms_radio WHERE sms_id = ? AND iccid = ?", (sms_id, iccid)
            )
            if row is None:
                return False, "unknown_message"
            if row["status"] != "pending":
                same = row["status"] == status
                return same, None if same else "already_reported"
            failure = None if delivered else f"not delivered: {reason or 'refused by the device'}"
            db.execute(
                "UPDATE sms_radio SET status = ?, reason = ?, updated_at = ? WHERE sms_id = ?",
                (status, reason, now, sms_id),
            )
            db.execute(
                "UPDATE sms_messages SET delivered = ?, failure_reason = ? WHERE id = ?",
                (int(delivered), failure, sms_id),
            )
        return True, None
