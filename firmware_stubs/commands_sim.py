"""Handlers of the SIM commands: +CPIN, +CPINR, +CSIM, +CRSM, +CCID, +CIMI, +CLCK, +CPWD.

Choices where modules differ (docs/stub.md): `+CPIN="pin"` when no PIN is wanted answers
`+CME ERROR: 3` and spends nothing; a malformed PIN or PUK is a plain `ERROR` and spends
nothing; a card with no PUK tries left answers `+CME ERROR: 13` (SIM failure).
"""

from __future__ import annotations

import fnmatch

from firmware_stubs.at_syntax import CmeError, Command, CommandError, CommandKind
from firmware_stubs.card import CardOutcome, CardState, is_pin, is_puk
from firmware_stubs.replies import OK, CommandSpec, Reply, SimNeed
from firmware_stubs.standards import encode_ef_iccid
from firmware_stubs.state import ModemState

EF_ICCID = 0x2FE2  # 12258
READ_BINARY = 176
INCORRECT_PASSWORD = 16


def _outcome(state: ModemState, outcome: CardOutcome, *, unlocks: bool = False) -> Reply:
    """Turn a card outcome into OK or the `+CME ERROR` that real modules give."""
    if outcome is CardOutcome.OK:
        if unlocks:
            state.unlocked()
        return OK
    if outcome is CardOutcome.WRONG_PASSWORD:
        raise CmeError(INCORRECT_PASSWORD)
    if outcome is CardOutcome.PIN_BLOCKED:
        raise CmeError(12)
    if outcome is CardOutcome.CARD_BLOCKED:
        raise CmeError(13)
    raise CmeError(3)


def cpin(state: ModemState, cmd: Command) -> Reply:
    """`AT+CPIN?` (what the card waits for), `AT+CPIN="pin"`, `AT+CPIN="puk","newpin"`."""
    card = state.card
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is CommandKind.READ:
        if state.sim_busy():
            raise CmeError(14)
        if card.state is CardState.BLOCKED:
            raise CmeError(13)
        text = card.state.value
        quoted = state.dialect.quote_cpin or state.faults.quote_cpin
        return Reply([f'+CPIN: "{text}"' if quoted else f"+CPIN: {text}"])
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+CPIN needs a password")
    cmd.param_count(1, 2)
    first = cmd.str_param(0)
    if card.state is CardState.BLOCKED:
        raise CmeError(13)
    if card.state is CardState.SIM_PUK:
        if len(cmd.params) < 2:
            raise CmeError(12)
        new_pin = cmd.str_param(1)
        if not is_puk(first) or not is_pin(new_pin):
            raise CommandError("a PUK is 8 digits, a PIN 4 to 8")
        return _outcome(state, card.unblock(first, new_pin), unlocks=True)
    if card.state is CardState.SIM_PIN and len(cmd.params) == 1:
        if not is_pin(first):
            raise CommandError("a PIN is 4 to 8 digits")
        return _outcome(state, card.verify_pin(first), unlocks=True)
    raise CmeError(3)  # no PIN request pending (or a PUK offered while the PIN is wanted)


def cpinr(state: ModemState, cmd: Command) -> Reply:
    """`AT+CPINR[="<sel>"]`: tries left and initial tries for SIM PIN and SIM PUK."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is CommandKind.READ:
        raise CommandError("+CPINR has no read form")
    pattern = "*"
    if cmd.kind is CommandKind.SET:
        cmd.param_count(1, 1)
        pattern = cmd.str_param(0).upper()
    card = state.card
    rows = [
        ("SIM PIN", card.pin_retries, card.pin_attempts),
        ("SIM PUK", card.puk_retries, card.puk_attempts),
    ]
    return Reply(
        [f"+CPINR: {code},{left},{initial}" for code, left, initial in rows
         if fnmatch.fnmatchcase(code, pattern)]
    )  # fmt: skip


def _status_for_tries(left: int) -> str:
    return "6983" if left <= 0 else f"63C{min(left, 15):X}"


def _apdu_pin(data: bytes) -> str | None:
    """The digits of a PIN block (ASCII digits padded with FF), or None if malformed."""
    digits = data.rstrip(b"\xff")
    if len(data) != 8 or not 4 <= len(digits) <= 8 or not digits.isdigit():
        return None
    return digits.decode("ascii")


def _verify_apdu(state: ModemState, data: bytes) -> str:
    """VERIFY PIN1 (ETSI TS 102 221 §11.1.9); empty data only asks for the tries left."""
    card = state.card
    if card.state is CardState.BLOCKED or card.pin_retries <= 0:
        return "6983"
    if not data:  # a status query: never spends a try
        verified = card.verified or not card.pin_enabled
        return "9000" if verified else _status_for_tries(card.pin_retries)
    if not card.pin_enabled:
        return "6985"  # conditions of use not satisfied
    pin = _apdu_pin(data)
    if pin is None:
        return "6A80"
    outcome = card.verify_pin(pin)
    if outcome is CardOutcome.OK:
        state.unlocked()
        return "9000"
    return _status_for_tries(card.pin_retries)


def _unblock_apdu(state: ModemState, data: bytes) -> str:
    """UNBLOCK PIN1 (§11.1.13); empty data only asks for the PUK tries left."""
    card = state.card
    if card.puk_retries <= 0:
        return "6983"
    if not data:
        return _status_for_tries(card.puk_retries)
    if len(data) != 16:
        return "6A80"
    puk, new_pin = _apdu_pin(data[:8]), _apdu_pin(data[8:])
    if puk is None or new_pin is None or not is_puk(puk):
        return "6A80"
    if card.unblock(puk, new_pin) is CardOutcome.OK:
        state.unlocked()
        return "9000"
    return _status_for_tries(card.puk_retries)


def csim(state: ModemState, cmd: Command) -> Reply:
    """`AT+CSIM=<len>,"<apdu>"`: VERIFY and UNBLOCK of PIN1; other APDUs get 6D00."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CSIM needs a length and an APDU")
    cmd.param_count(2, 2)
    length = cmd.int_param(0)
    text = cmd.str_param(1)
    if length != len(text) or length % 2 or length < 8:
        raise CommandError("+CSIM length does not match the APDU")
    try:
        apdu = bytes.fromhex(text)
    except ValueError:
        raise CommandError("+CSIM APDU is not hex") from None
    _cla, ins, p1, p2 = apdu[:4]
    body = apdu[5:]
    if len(apdu) > 4 and apdu[4] != len(body):
        status = "6700"  # wrong length
    elif ins == 0x20 and p1 == 0 and p2 == 0x01:
        status = _verify_apdu(state, body)
    elif ins == 0x2C and p1 == 0 and p2 == 0x01:
        status = _unblock_apdu(state, body)
    elif ins in (0x20, 0x2C) and p1 == 0:
        status = "6A88"  # referenced data (PIN2, ADM...) not found: the stub has only PIN1
    else:
        status = "6D00"
    return Reply([f'+CSIM: {len(status)},"{status}"'])


def crsm(state: ModemState, cmd: Command) -> Reply:
    """`AT+CRSM=176,12258,0,0,10`: EF_ICCID; other files are not found (106,130)."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CRSM needs parameters")
    cmd.param_count(1, 7)
    command = cmd.int_param(0)
    file_id = cmd.int_param(1, default=0)
    if command != READ_BINARY:
        return Reply(['+CRSM: 109,0,""'])  # 6D00: instruction not supported
    if file_id != EF_ICCID:
        return Reply(['+CRSM: 106,130,""'])  # 6A82: file not found
    offset = cmd.int_param(2, default=0) * 256 + cmd.int_param(3, default=0)
    data = encode_ef_iccid(state.card.iccid)
    size = cmd.int_param(4, default=0) or len(data) // 2
    if offset + size > len(data) // 2:
        return Reply(['+CRSM: 103,0,""'])  # 6700: wrong length
    return Reply([f'+CRSM: 144,0,"{data[offset * 2 : (offset + size) * 2]}"'])


def _identity(cmd: Command) -> bool:
    if cmd.kind is CommandKind.TEST:
        return False
    if cmd.kind is not CommandKind.EXEC:
        raise CommandError(f"{cmd.name} takes no parameters")
    return True


def ccid(state: ModemState, cmd: Command) -> Reply:
    """`AT+CCID`: the ICCID (EF_ICCID is readable without the PIN)."""
    return Reply([f"+CCID: {state.card.iccid}"]) if _identity(cmd) else OK


def cimi(state: ModemState, cmd: Command) -> Reply:
    """`AT+CIMI`: the IMSI (needs the PIN)."""
    return Reply([state.card.imsi]) if _identity(cmd) else OK


def _facility(cmd: Command) -> None:
    if cmd.str_param(0).upper() != "SC":
        raise CmeError(4)  # only the SIM PIN lock is modelled


def clck(state: ModemState, cmd: Command) -> Reply:
    """`AT+CLCK="SC",<mode>[,"pin"]`: 2 queries, 0/1 disable/enable the PIN lock."""
    if cmd.kind is CommandKind.TEST:
        return Reply(['+CLCK: ("SC")'])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CLCK needs a facility and a mode")
    cmd.param_count(2, 4)
    mode = cmd.int_param(1, allowed=range(3))
    _facility(cmd)
    if mode == 2:
        return Reply([f"+CLCK: {int(state.card.pin_enabled)}"])
    pin = cmd.str_param(2)
    if not is_pin(pin):
        raise CommandError("a PIN is 4 to 8 digits")
    return _outcome(state, state.card.set_pin_lock(mode == 1, pin))


def cpwd(state: ModemState, cmd: Command) -> Reply:
    """`AT+CPWD="SC","old","new"`: change the PIN (needs the PIN lock on)."""
    if cmd.kind is CommandKind.TEST:
        return Reply(['+CPWD: ("SC",8)'])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+CPWD needs a facility and two passwords")
    cmd.param_count(3, 3)
    _facility(cmd)
    old, new = cmd.str_param(1), cmd.str_param(2)
    if not is_pin(old) or not is_pin(new):
        raise CommandError("a PIN is 4 to 8 digits")
    return _outcome(state, state.card.change_pin(old, new))


SIM_COMMANDS: dict[str, CommandSpec] = {
    "+CPIN": CommandSpec(cpin),
    "+CPINR": CommandSpec(cpinr),
    "+CSIM": CommandSpec(csim),
    "+CRSM": CommandSpec(crsm, SimNeed.CARD),
    "+CCID": CommandSpec(ccid, SimNeed.CARD),
    "+CIMI": CommandSpec(cimi, SimNeed.UNLOCKED),
    "+CLCK": CommandSpec(clck, SimNeed.UNLOCKED),
    "+CPWD": CommandSpec(cpwd, SimNeed.UNLOCKED),
}
