"""The 3GPP TS 27.005 message commands, and the call commands a data-only module answers.

Storage model: one memory, `"SM"` (the card's EF_SMS records, `SimCard.sms`), used for
reading, writing and receiving; a full card refuses a message the host writes
(`+CMGW`) with `+CMS ERROR: 322` and one the network delivers with `memory_full`.
`+CMGR`/`+CMGL` turn a `REC UNREAD` message into `REC READ`. `+CMGR` of a free record in
range answers `OK` with no lines; out of range is `+CMS ERROR: 321`. Received messages
are announced by `+CNMI`'s `<mt>`: 1 stores and sends `+CMTI: "SM",<index>`, 2 sends
`+CMT: ,<length>` and the PDU without storing (27.005 §3.4.1), 0 stores silently.
Text-mode payloads (`+CMGS`, `+CMGW`) are in the TE character set: with
`+CSCS="UCS2"`, hex of UTF-16.

No voice: `+CLIP=1`, `+CRC=1` and a USSD request answer `+CME ERROR: 4` (operation not
supported); their off settings, `+CVHU` and `+CLCC` (no calls) answer `OK`.
"""

from __future__ import annotations

import datetime
import enum
import logging
from collections.abc import Callable, Sequence

from firmware_stubs.at_syntax import CmeError, CmsError, Command, CommandError, CommandKind
from firmware_stubs.card import StoredSms
from firmware_stubs.replies import OK, CommandSpec, Reply, SimNeed
from firmware_stubs.sms_pdu import (
    PduError,
    decode_deliver,
    decode_submit,
    encode_deliver,
    encode_submit,
)
from firmware_stubs.state import REGISTERED, ModemState

logger = logging.getLogger(__name__)

MEMORY = "SM"
STAT_TEXT = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT")
ALL = 4
# 27.005 §3.2.5 <err> values the stub sends
CMS_INVALID_PDU = 304
CMS_INVALID_TEXT = 305
CMS_OPERATION_NOT_ALLOWED = 302
CMS_INVALID_INDEX = 321
CMS_MEMORY_FULL = 322
CMS_NO_NETWORK = 331
NOT_SUPPORTED = 4  # +CME ERROR: operation not supported


class DeliveryOutcome(enum.Enum):
    """What the modem tells the network about a message it was sent."""

    DELIVERED = "delivered"
    MEMORY_FULL = "memory_full"


def _card_ready(state: ModemState) -> None:
    """Message storage needs a usable card: `+CMS ERROR: 311/316/313` otherwise."""
    code = state.sim_locked_error()
    if code is not None:
        raise CmsError({11: 311, 12: 316, 13: 313}.get(code, 310))


def _used(state: ModemState) -> int:
    return sum(record is not None for record in state.card.sms)


def _no_params(cmd: Command) -> None:
    if cmd.kind is CommandKind.EXEC:
        raise CommandError(f"{cmd.name} needs a value")


def csms(state: ModemState, cmd: Command) -> Reply:
    """`AT+CSMS`: message service 0 (phase 2); MT, MO and broadcast supported."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CSMS: (0)"])
    if cmd.kind is CommandKind.READ:
        return Reply(["+CSMS: 0,1,1,1"])
    _no_params(cmd)
    cmd.param_count(1, 1)
    cmd.int_param(0, allowed={0})
    return Reply(["+CSMS: 1,1,1"])


def _switch(name: str, attr: str) -> Callable[[ModemState, Command], Reply]:
    """The handler of `AT<name>=<0|1>`, a switch of the SMS state kept in `attr`: test
    `(0,1)`, read, exec (back to 0) and set."""

    def handler(state: ModemState, cmd: Command) -> Reply:
        if cmd.kind is CommandKind.TEST:
            return Reply([f"{name}: (0,1)"])
        if cmd.kind is CommandKind.READ:
            return Reply([f"{name}: {int(getattr(state.sms, attr))}"])
        if cmd.kind is CommandKind.EXEC:
            setattr(state.sms, attr, False)
            return OK
        cmd.param_count(1, 1)
        setattr(state.sms, attr, cmd.int_param(0, allowed=range(2)) == 1)
        return OK

    return handler


cmgf = _switch("+CMGF", "text_mode")
"""`AT+CMGF=<0 PDU|1 text>`: the message format."""
csdh = _switch("+CSDH", "show_header")
"""`AT+CSDH=<0|1>`: show text-mode header values."""


def csca(state: ModemState, cmd: Command) -> Reply:
    """`AT+CSCA="<sca>"[,<tosca>]`: the service centre address."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is CommandKind.READ:
        return Reply([f'+CSCA: "{state.sms.smsc}",{state.sms.smsc_type}'])
    _no_params(cmd)
    cmd.param_count(1, 2)
    number = cmd.str_param(0)
    digits = number.removeprefix("+")
    if not digits.isdigit() or not 1 <= len(digits) <= 20:
        raise CmsError(CMS_OPERATION_NOT_ALLOWED)
    default_type = 145 if number.startswith("+") else 129
    state.sms.smsc_type = cmd.int_param(1, default=default_type, allowed={129, 145, 161})
    state.sms.smsc = number
    return OK


def cpms(state: ModemState, cmd: Command) -> Reply:
    """`AT+CPMS="SM"[,"SM"[,"SM"]]`: one memory, the card's."""
    total = len(state.card.sms)
    if cmd.kind is CommandKind.TEST:
        return Reply([f'+CPMS: ("{MEMORY}"),("{MEMORY}"),("{MEMORY}")'])
    _card_ready(state)
    counts = f"{_used(state)},{total}"
    if cmd.kind is CommandKind.READ:
        return Reply([f'+CPMS: "{MEMORY}",{counts},"{MEMORY}",{counts},"{MEMORY}",{counts}'])
    _no_params(cmd)
    cmd.param_count(1, 3)
    for index in range(len(cmd.params)):
        if cmd.str_param(index, default=MEMORY).upper() != MEMORY:
            raise CmsError(CMS_OPERATION_NOT_ALLOWED)
    return Reply([f"+CPMS: {counts},{counts},{counts}"])


def cnmi(state: ModemState, cmd: Command) -> Reply:
    """`AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`: how new messages are announced."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CNMI: (0-2),(0-2),(0,2),(0-2),(0,1)"])
    if cmd.kind is CommandKind.READ:
        return Reply(["+CNMI: " + ",".join(str(v) for v in state.sms.cnmi)])
    _no_params(cmd)
    cmd.param_count(1, 5)
    current = state.sms.cnmi
    state.sms.cnmi = (
        cmd.int_param(0, allowed=range(3)),
        cmd.int_param(1, default=current[1], allowed=range(3)),
        cmd.int_param(2, default=current[2], allowed={0, 2}),
        cmd.int_param(3, default=current[3], allowed=range(3)),
        cmd.int_param(4, default=current[4], allowed=range(2)),
    )
    return OK


def csmp(state: ModemState, cmd: Command) -> Reply:
    """`AT+CSMP=<fo>,<vp>,<pid>,<dcs>`: text-mode sending parameters (stored)."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is CommandKind.READ:
        return Reply(["+CSMP: " + ",".join(str(v) for v in state.sms.csmp)])
    _no_params(cmd)
    cmd.param_count(1, 4)
    old = state.sms.csmp
    values = [cmd.int_param(i, default=old[i], allowed=range(256)) for i in range(4)]
    state.sms.csmp = (values[0], values[1], values[2], values[3])
    return OK


def _stat_param(state: ModemState, cmd: Command, index: int, default: int) -> int:
    """The `<stat>` of `+CMGL`: a number in PDU mode, a text in text mode."""
    if index >= len(cmd.params) or cmd.params[index].empty:
        return default
    if state.sms.text_mode:
        text = cmd.str_param(index).upper()
        if text == "ALL":
            return ALL
        if text not in STAT_TEXT:
            raise CmsError(CMS_INVALID_TEXT)
        return STAT_TEXT.index(text)
    try:
        return cmd.int_param(index, allowed=range(5))
    except CommandError:
        raise CmsError(CMS_INVALID_PDU) from None


def _message_lines(state: ModemState, index: int | None, record: StoredSms) -> list[str]:
    """The header and body lines of `+CMGL` (index given) or `+CMGR` for one record."""
    pdu = bytes.fromhex(record.pdu)
    name = "+CMGL" if index is not None else "+CMGR"
    at = f"{index}," if index is not None else ""
    if not state.sms.text_mode:
        return [f"{name}: {at}{record.stat},,{len(pdu) - pdu[0] - 1}", record.pdu]
    stat = STAT_TEXT[record.stat]
    if record.stat >= 2:
        try:
            recipient = decode_submit(pdu, len(pdu) - pdu[0] - 1).recipient
        except PduError:
            recipient = ""
        return [f'{name}: {at}"{stat}","{recipient}",', ""]
    try:
        message = decode_deliver(pdu)
    except PduError:
        return [f'{name}: {at}"{stat}","",,""', ""]
    header = f'{name}: {at}"{stat}","{message.sender}",,"{message.timestamp}"'
    return [header, message.text_mode_data]


def cmgl(state: ModemState, cmd: Command) -> Reply:
    """`AT+CMGL[=<stat>]`: list messages (4 / "ALL": every one)."""
    if cmd.kind is CommandKind.TEST:
        if state.sms.text_mode:
            return Reply(['+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")'])
        return Reply(["+CMGL: (0-4)"])
    if cmd.kind is CommandKind.READ:
        raise CommandError("+CMGL has no read form")
    _card_ready(state)
    wanted = _stat_param(state, cmd, 0, 0) if cmd.kind is CommandKind.SET else 0
    lines: list[str] = []
    for index, record in enumerate(list(state.card.sms), 1):
        if record is None or (wanted != ALL and record.stat != wanted):
            continue
        lines += _message_lines(state, index, record)
        state.card.read_sms(index)
    return Reply(lines)


def _index(state: ModemState, cmd: Command, position: int = 0) -> int:
    try:
        index = cmd.int_param(position)
    except CommandError:
        raise CmsError(CMS_INVALID_INDEX) from None
    if not 1 <= index <= len(state.card.sms):
        raise CmsError(CMS_INVALID_INDEX)
    return index


def cmgr(state: ModemState, cmd: Command) -> Reply:
    """`AT+CMGR=<index>`: read one message."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CMGR needs an index")
    _card_ready(state)
    cmd.param_count(1, 1)
    index = _index(state, cmd)
    record = state.card.read_sms(index)
    return Reply(_message_lines(state, None, record)) if record is not None else OK


def cmgd(state: ModemState, cmd: Command) -> Reply:
    """`AT+CMGD=<index>[,<delflag>]`: delete one, or by flag (1 read, 2 +sent, 3 +unsent,
    4 all)."""
    if cmd.kind is CommandKind.TEST:
        return Reply([f"+CMGD: (1-{len(state.card.sms)}),(0-4)"])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CMGD needs an index")
    _card_ready(state)
    cmd.param_count(1, 2)
    flag = cmd.int_param(1, default=0, allowed=range(5))
    if flag == 0:
        state.card.delete_sms(_index(state, cmd))
        return OK
    doomed = {1: {1}, 2: {1, 3}, 3: {1, 2, 3}, 4: {0, 1, 2, 3}}[flag]
    for index, record in enumerate(list(state.card.sms), 1):
        if record is not None and record.stat in doomed:
            state.card.delete_sms(index)
    return OK


def _sent(state: ModemState, recipient: str, text: str) -> Reply:
    if state.ps_stat() not in REGISTERED:
        raise CmsError(CMS_NO_NETWORK)
    reference = state.sms.take_reference()
    logger.info("message %d sent to %s (%d characters)", reference, recipient, len(text))
    return Reply([f"+CMGS: {reference}"])


def cmgs(state: ModemState, cmd: Command) -> Reply:
    """`AT+CMGS=<length>` (PDU) or `AT+CMGS="<da>"` (text): `> `, then the payload."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CMGS needs a length or an address")
    _card_ready(state)
    if state.sms.text_mode:
        cmd.param_count(1, 2)
        recipient = cmd.str_param(0)
        if not recipient:
            raise CmsError(CMS_INVALID_TEXT)
        return Reply([], prompt=lambda s, text: _sent(s, recipient, _te_text(s, text)))
    cmd.param_count(1, 1)
    try:
        length = cmd.int_param(0, allowed=range(1, 176))
    except CommandError:
        raise CmsError(CMS_INVALID_PDU) from None

    def send(s: ModemState, payload: str) -> Reply:
        try:
            submit = decode_submit(bytes.fromhex(payload), length)
        except (ValueError, PduError) as exc:
            logger.debug("+CMGS: bad PDU: %s", exc)
            raise CmsError(CMS_INVALID_PDU) from None
        return _sent(s, submit.recipient, submit.text)

    return Reply([], prompt=send)


def _te_text(state: ModemState, text: str) -> str:
    """A text-mode payload in the TE character set (`+CSCS`): UCS2 is hex of UTF-16."""
    if state.charset != "UCS2":
        return text
    try:
        return bytes.fromhex(text).decode("utf-16-be")
    except ValueError:
        raise CmsError(CMS_INVALID_TEXT) from None


def _store(state: ModemState, stat: int, pdu: bytes) -> Reply:
    index = state.card.store_sms(stat, pdu.hex())
    if index is None:
        raise CmsError(CMS_MEMORY_FULL)
    return Reply([f"+CMGW: {index}"])


def cmgw(state: ModemState, cmd: Command) -> Reply:
    """`AT+CMGW=<length>[,<stat>]` (PDU) or `AT+CMGW="<da>"` (text): `> `, then the
    message, stored (default `STO UNSENT`); a full card is `+CMS ERROR: 322`."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CMGW needs a length or an address")
    _card_ready(state)
    if state.sms.text_mode:
        cmd.param_count(1, 3)
        recipient = cmd.str_param(0)

        def write_text(s: ModemState, text: str) -> Reply:
            try:
                pdu = encode_submit(recipient, _te_text(s, text), s.sms.take_reference())
            except PduError:
                raise CmsError(CMS_INVALID_TEXT) from None
            return _store(s, 2, pdu)

        return Reply([], prompt=write_text)
    cmd.param_count(1, 2)
    try:
        length = cmd.int_param(0, allowed=range(1, 176))
        stat = cmd.int_param(1, default=2, allowed=range(4))
    except CommandError:
        raise CmsError(CMS_INVALID_PDU) from None

    def write_pdu(s: ModemState, payload: str) -> Reply:
        try:
            pdu = bytes.fromhex(payload)
        except ValueError:
            raise CmsError(CMS_INVALID_PDU) from None
        if not pdu or len(pdu) - pdu[0] - 1 != length:
            raise CmsError(CMS_INVALID_PDU)
        return _store(s, stat, pdu)

    return Reply([], prompt=write_pdu)


def receive_sms(
    state: ModemState, sender: str, text: str, when: datetime.datetime
) -> DeliveryOutcome:
    """Store (or show) a message from the network, with the URCs `+CNMI` asks for.

    A message of several parts needs room for all of them, or none is stored."""
    parts = encode_deliver(
        sender, text, when, smsc=state.sms.smsc, reference=state.sms.take_reference()
    )
    mt = state.sms.cnmi[1]
    if mt == 2:
        for part in parts:
            state.urcs += [f"+CMT: ,{part.tpdu_length}", part.pdu.hex().upper()]
        return DeliveryOutcome.DELIVERED
    if len(state.card.sms) - _used(state) < len(parts):
        logger.info("message from %s refused: the card's memory is full", sender)
        return DeliveryOutcome.MEMORY_FULL
    for part in parts:
        index = state.card.store_sms(0, part.pdu.hex())
        if mt == 1 and index is not None:
            state.urcs.append(f'+CMTI: "{MEMORY}",{index}')
    return DeliveryOutcome.DELIVERED


def _voice(setting: str) -> CommandSpec:
    """A call-related setting of a data-only module: off is fine, on is not supported."""

    def handler(state: ModemState, cmd: Command) -> Reply:
        if cmd.kind is CommandKind.TEST:
            return Reply([f"{cmd.name}: (0,1)"])
        if cmd.kind is CommandKind.READ:
            return Reply([f"{cmd.name}: {setting}"])
        if cmd.kind is CommandKind.EXEC:
            return OK
        cmd.param_count(1, 1)
        if cmd.int_param(0, allowed=range(2)) == 1:
            raise CmeError(NOT_SUPPORTED)
        return OK

    return CommandSpec(handler)


def cvhu(state: ModemState, cmd: Command) -> Reply:
    """`AT+CVHU=<0|1|2>`: how `ATH` and DTR hang up (stored)."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CVHU: (0-2)"])
    if cmd.kind is CommandKind.READ:
        return Reply([f"+CVHU: {state.sms.voice_hangup}"])
    _no_params(cmd)
    cmd.param_count(1, 1)
    state.sms.voice_hangup = cmd.int_param(0, allowed=range(3))
    return OK


def cusd(state: ModemState, cmd: Command) -> Reply:
    """`AT+CUSD`: presentation off is fine; a USSD request is not supported."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CUSD: (0-2)"])
    if cmd.kind is CommandKind.READ:
        return Reply(["+CUSD: 0"])
    if cmd.kind is CommandKind.EXEC:
        return OK
    cmd.param_count(1, 3)
    if cmd.int_param(0, allowed=range(3)) == 1 or len(cmd.params) > 1:
        raise CmeError(NOT_SUPPORTED)
    return OK


def clcc(state: ModemState, cmd: Command) -> Reply:
    """`AT+CLCC`: the current calls: none, ever."""
    if cmd.kind not in (CommandKind.EXEC, CommandKind.TEST):
        raise CommandError("+CLCC takes no parameters")
    return OK


def cnum(state: ModemState, cmd: Command) -> Reply:
    """`AT+CNUM`: the subscriber number (EF_MSISDN): `+CNUM: "","+81...",145` (an empty
    alpha tag, as Quectel and SIMCom modules write it)."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.EXEC:
        raise CommandError("+CNUM takes no parameters")
    number = state.card.msisdn
    return Reply([f'+CNUM: "","{number}",145']) if number else OK


def clac(names: Sequence[str], cmd: Command) -> Reply:
    """`AT+CLAC`: every command the modem knows, one per line (27.007 §8.37)."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.EXEC:
        raise CommandError("+CLAC takes no parameters")
    return Reply([f"AT{name}" for name in names])


SMS_COMMANDS: dict[str, CommandSpec] = {
    "+CSMS": CommandSpec(csms),
    "+CMGF": CommandSpec(cmgf),
    "+CSCA": CommandSpec(csca),
    "+CPMS": CommandSpec(cpms),
    "+CNMI": CommandSpec(cnmi),
    "+CSDH": CommandSpec(csdh),
    "+CSMP": CommandSpec(csmp),
    "+CMGL": CommandSpec(cmgl),
    "+CMGR": CommandSpec(cmgr),
    "+CMGD": CommandSpec(cmgd),
    "+CMGS": CommandSpec(cmgs),
    "+CMGW": CommandSpec(cmgw),
    "+CLIP": _voice("0,2"),
    "+CRC": _voice("0"),
    "+CVHU": CommandSpec(cvhu),
    "+CUSD": CommandSpec(cusd),
    "+CLCC": CommandSpec(clcc),
    "+CNUM": CommandSpec(cnum, SimNeed.UNLOCKED),
}
