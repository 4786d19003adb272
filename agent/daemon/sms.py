"""The daemon's SMS loop: received messages go to the cloud once, then leave the card.

Each check (and each `+CMTI` URC, which wakes the daemon) lists the card's messages in
PDU mode. Acknowledged ones (see `agent.reporting.sms_outbox`) whose key still matches
are deleted from the card and forgotten; new complete ones are stored in the outbox with
the next sequence number and handed to the reporter, which publishes them on `sms`
(QoS 1) and marks them acknowledged on the PUBACK. A concatenated message waits until all
its parts are there. Messages the device stored to send are left alone.
"""

from __future__ import annotations

import logging

from agent.modem.client import Modem
from agent.reporting.sms_outbox import SmsOutbox, message_key
from agent.sms.store import SmsMessage, delete_message, list_messages, received

log = logging.getLogger(__name__)

WAKING_SMS_URCS = ("+CMTI:", "+CDSI:")


def _key(message: SmsMessage) -> str:
    return message_key(message.indexes, message.sender, message.at, message.text)


async def sync_sms(modem: Modem, outbox: SmsOutbox) -> int:
    """Delete what the cloud has, queue what is new; returns how many were queued."""
    messages = received(await list_messages(modem))
    on_card = {_key(m): m for m in messages}
    for done in outbox.acked():
        message = on_card.pop(done.key, None)
        if message is not None:
            await delete_message(modem, message)
            log.info("SMS %d: delivered to the cloud; deleted from the card", done.seq)
        outbox.forget(done.seq)
    queued = 0
    for key, message in on_card.items():
        if not message.complete or outbox.knows(key) or message.at is None:
            continue
        report = outbox.add(key, message.sender, message.at, message.text, message.parts)
        if report is not None:
            queued += 1
            log.info("SMS %d from %s queued for the cloud", report.seq, message.sender)
    return queued
