"""The simulated SIM card (ETSI TS 102 221 PIN rules) and its card file.

The card owns the PIN and PUK, their retry counters and the PIN lock, its number
(MSISDN, as EF_MSISDN holds it) and its short messages: fixed slots like EF_SMS's
records (ETSI TS 131 102 §4.2.25), each free or holding a status and a PDU. The "verified"
flag (PIN presented since power-on) is deliberately not persisted: a restarted stub, like
a re-powered card, wants the PIN again. Every change calls `on_change`, which
`load_card` wires to an atomic rewrite of the card file.
"""

from __future__ import annotations

import enum
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_stubs.standards import HEX_DIGITS
from simgate_common.files import write_private_file
from simgate_common.luhn import luhn_check_digit

logger = logging.getLogger(__name__)

PIN_ATTEMPTS = 3
PUK_ATTEMPTS = 10
DEFAULT_PIN = "0000"
DEFAULT_PUK = "12345678"
# Keys of the card file, in the order the stub writes them (contracts §1).
CARD_KEYS = ("iccid", "imsi", "pin", "puk", "pin_enabled", "pin_retries", "puk_retries")
MAX_RETRIES = 15  # a retry count must fit the `x` nibble of status word 63Cx
SMS_CAPACITY = 20  # EF_SMS records of the stub's card
SMS_STATUSES = (0, 1, 2, 3)  # 27.005 <stat>: REC UNREAD, REC READ, STO UNSENT, STO SENT


class CardFileError(ValueError):
    """A card file that cannot be used: unreadable, not JSON, or a key with a bad value."""


class CardState(enum.Enum):
    """What the card waits for, as the 27.007 `+CPIN` texts (BLOCKED: no PUK tries left)."""

    READY = "READY"
    SIM_PIN = "SIM PIN"
    SIM_PUK = "SIM PUK"
    BLOCKED = "BLOCKED"


class CardOutcome(enum.Enum):
    """The result of presenting a PIN or PUK to the card."""

    OK = "ok"
    WRONG_PASSWORD = "wrong password"  # noqa: S105 (a try was spent)
    PIN_BLOCKED = "pin blocked"  # PIN tries exhausted: only the PUK helps now
    CARD_BLOCKED = "card blocked"  # PUK tries exhausted: permanently
    NOT_ALLOWED = "not allowed"  # e.g. change PIN while the PIN lock is off


def is_pin(value: str) -> bool:
    """True for a PIN of 4 to 8 decimal digits."""
    return 4 <= len(value) <= 8 and value.isascii() and value.isdigit()


def is_puk(value: str) -> bool:
    """True for a PUK of exactly 8 decimal digits."""
    return len(value) == 8 and value.isascii() and value.isdigit()


@dataclass(frozen=True)
class StoredSms:
    """One used EF_SMS record: the 27.005 status and the PDU (SMSC address + TPDU, hex)."""

    stat: int
    pdu: str

    def to_json(self) -> dict[str, Any]:
        """The record as the card file holds it."""
        return {"stat": self.stat, "pdu": self.pdu}


def is_msisdn(value: object) -> bool:
    """True for an E.164 number: `+` and 6 to 15 digits."""
    return (
        isinstance(value, str)
        and value.startswith("+")
        and value[1:].isascii()
        and value[1:].isdigit()
        and 6 <= len(value) - 1 <= 15
    )


@dataclass(eq=False)
class SimCard:
    """A SIM card: identity, secrets, PIN lock and retry counters (tries left)."""

    iccid: str
    imsi: str
    pin: str = field(repr=False)
    puk: str = field(repr=False)
    pin_enabled: bool = True
    pin_retries: int = PIN_ATTEMPTS
    puk_retries: int = PUK_ATTEMPTS
    pin_attempts: int = PIN_ATTEMPTS  # the counters' initial values
    puk_attempts: int = PUK_ATTEMPTS
    verified: bool = False  # PIN presented since power-on; never persisted
    msisdn: str | None = None
    sms: list[StoredSms | None] = field(default_factory=lambda: [None] * SMS_CAPACITY, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    on_change: Callable[[SimCard], None] | None = field(default=None, repr=False)

    @property
    def state(self) -> CardState:
        """What the card needs before it can be used."""
        if self.puk_retries <= 0:
            return CardState.BLOCKED
        if self.pin_retries <= 0:
            return CardState.SIM_PUK
        if self.pin_enabled and not self.verified:
            return CardState.SIM_PIN
        return CardState.READY

    def power_on(self) -> None:
        """Forget any PIN verification, as a card does when it loses power."""
        self.verified = False

    def verify_pin(self, pin: str) -> CardOutcome:
        """VERIFY PIN: a right PIN resets the counter, a wrong one spends a try."""
        blocked = self._refuse_if_blocked()
        if blocked is not None:
            return blocked
        if not self.pin_enabled:
            return CardOutcome.NOT_ALLOWED
        return self._check_pin(pin, self._mark_verified)

    def unblock(self, puk: str, new_pin: str) -> CardOutcome:
        """UNBLOCK PIN: a right PUK sets `new_pin`, resets both counters, enables the PIN."""
        if not is_pin(new_pin):
            raise ValueError("the new PIN must be 4 to 8 digits")
        if self.puk_retries <= 0:
            return CardOutcome.CARD_BLOCKED
        if puk != self.puk:
            self.puk_retries -= 1
            self._changed()
            return CardOutcome.WRONG_PASSWORD
        self.pin = new_pin
        self.pin_retries = self.pin_attempts
        self.puk_retries = self.puk_attempts
        self.pin_enabled = True
        self.verified = True
        self._changed()
        return CardOutcome.OK

    def set_pin_lock(self, enabled: bool, pin: str) -> CardOutcome:
        """ENABLE/DISABLE PIN: needs the right PIN; a wrong one spends a try."""
        blocked = self._refuse_if_blocked()
        if blocked is not None:
            return blocked

        def apply() -> None:
            self.pin_enabled = enabled
            self.verified = True

        return self._check_pin(pin, apply)

    def change_pin(self, old_pin: str, new_pin: str) -> CardOutcome:
        """CHANGE PIN: needs the PIN lock on and the right old PIN; wrong spends a try."""
        if not is_pin(new_pin):
            raise ValueError("the new PIN must be 4 to 8 digits")
        blocked = self._refuse_if_blocked()
        if blocked is not None:
            return blocked
        if not self.pin_enabled:
            return CardOutcome.NOT_ALLOWED

        def apply() -> None:
            self.pin = new_pin
            self.verified = True

        return self._check_pin(old_pin, apply)

    def set_msisdn(self, msisdn: str) -> None:
        """The card's number as the network has it (EF_MSISDN), kept in the card file."""
        if not is_msisdn(msisdn):
            raise ValueError(f"not an E.164 number: {msisdn!r}")
        if msisdn != self.msisdn:
            self.msisdn = msisdn
            self._changed()

    def store_sms(self, stat: int, pdu: str) -> int | None:
        """Put a message in the first free record; its 1-based index, or None when full."""
        for slot, record in enumerate(self.sms):
            if record is None:
                self.sms[slot] = StoredSms(stat, pdu.upper())
                self._changed()
                return slot + 1
        return None

    def read_sms(self, index: int, *, mark_read: bool = True) -> StoredSms | None:
        """The record at `index` (1-based), or None when free; an unread one becomes read."""
        record = self.sms[index - 1] if 1 <= index <= len(self.sms) else None
        if record is not None and record.stat == 0 and mark_read:
            self.sms[index - 1] = StoredSms(1, record.pdu)
            self._changed()
        return record

    def delete_sms(self, index: int) -> None:
        """Free the record at `index` (1-based); freeing a free one changes nothing."""
        if 1 <= index <= len(self.sms) and self.sms[index - 1] is not None:
            self.sms[index - 1] = None
            self._changed()

    def to_json_dict(self) -> dict[str, Any]:
        """The card file's content: the contract's keys, then any unknown keys kept."""
        data: dict[str, Any] = {
            "iccid": self.iccid,
            "imsi": self.imsi,
            "pin": self.pin,
            "puk": self.puk,
            "pin_enabled": self.pin_enabled,
            "pin_retries": self.pin_retries,
            "puk_retries": self.puk_retries,
        }
        if self.msisdn is not None:
            data["msisdn"] = self.msisdn
        if any(record is not None for record in self.sms) or len(self.sms) != SMS_CAPACITY:
            data["sms"] = [None if r is None else r.to_json() for r in self.sms]
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def _refuse_if_blocked(self) -> CardOutcome | None:
        if self.puk_retries <= 0:
            return CardOutcome.CARD_BLOCKED
        if self.pin_retries <= 0:
            return CardOutcome.PIN_BLOCKED
        return None

    def _check_pin(self, pin: str, on_success: Callable[[], None]) -> CardOutcome:
        if pin != self.pin:
            self.pin_retries -= 1
            self._changed()
            return CardOutcome.WRONG_PASSWORD
        self.pin_retries = self.pin_attempts
        on_success()
        self._changed()
        return CardOutcome.OK

    def _mark_verified(self) -> None:
        self.verified = True

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


def new_card(
    rng: random.Random | None = None,
    *,
    pin_attempts: int = PIN_ATTEMPTS,
    puk_attempts: int = PUK_ATTEMPTS,
) -> SimCard:
    """A fresh card: random Luhn-valid ICCID (8981…, 20 digits), a 440… IMSI, defaults."""
    rng = rng or random.SystemRandom()
    body = "8981" + "".join(rng.choice("0123456789") for _ in range(15))
    iccid = body + str(luhn_check_digit(body))
    imsi = "44010" + "".join(rng.choice("0123456789") for _ in range(10))
    msisdn = "+8170" + "".join(rng.choice("0123456789") for _ in range(8))
    return SimCard(
        iccid=iccid,
        imsi=imsi,
        pin=DEFAULT_PIN,
        puk=DEFAULT_PUK,
        pin_enabled=True,
        pin_retries=pin_attempts,
        puk_retries=puk_attempts,
        pin_attempts=pin_attempts,
        puk_attempts=puk_attempts,
        msisdn=msisdn,
    )


def card_from_json(
    data: object,
    *,
    source: str = "card file",
    pin_attempts: int = PIN_ATTEMPTS,
    puk_attempts: int = PUK_ATTEMPTS,
) -> SimCard:
    """Build a card from a decoded card file; `CardFileError` names the first bad key.

    Error messages never quote the PIN or PUK values.
    """
    if not isinstance(data, dict):
        raise CardFileError(f"{source}: must hold a JSON object")

    def need(key: str, check: Callable[[Any], bool], what: str) -> Any:
        if key not in data:
            raise CardFileError(f"{source}: key {key!r} is missing")
        value = data[key]
        if not check(value):
            raise CardFileError(f"{source}: key {key!r} must be {what}")
        return value

    def retries(value: Any) -> bool:
        return type(value) is int and 0 <= value <= MAX_RETRIES

    iccid = need("iccid", _is_iccid, "a string of 10 to 20 hex digits")
    imsi = need("imsi", lambda v: isinstance(v, str) and 6 <= len(v) <= 15 and v.isdigit(),
                "a string of 6 to 15 digits")  # fmt: skip
    pin = need("pin", lambda v: isinstance(v, str) and is_pin(v), "a string of 4 to 8 digits")
    puk = need("puk", lambda v: isinstance(v, str) and is_puk(v), "a string of 8 digits")
    pin_enabled = need("pin_enabled", lambda v: isinstance(v, bool), "true or false")
    pin_retries = need("pin_retries", retries, f"an integer from 0 to {MAX_RETRIES}")
    puk_retries = need("puk_retries", retries, f"an integer from 0 to {MAX_RETRIES}")
    msisdn = data.get("msisdn")
    if msisdn is not None and not is_msisdn(msisdn):
        raise CardFileError(f"{source}: key 'msisdn' must be an E.164 number like +819012345678")
    sms = _sms_records(data.get("sms"), source)
    extra = {key: value for key, value in data.items() if key not in (*CARD_KEYS, "msisdn", "sms")}
    return SimCard(
        iccid=iccid.upper(),
        imsi=imsi,
        pin=pin,
        puk=puk,
        pin_enabled=pin_enabled,
        pin_retries=pin_retries,
        puk_retries=puk_retries,
        pin_attempts=pin_attempts,
        puk_attempts=puk_attempts,
        msisdn=msisdn,
        sms=sms,
        extra=extra,
    )


def _sms_records(value: Any, source: str) -> list[StoredSms | None]:
    """The card file's `sms` list (absent: all records free); `CardFileError` if bad."""
    if value is None:
        return [None] * SMS_CAPACITY
    what = f'{source}: key \'sms\' must be a list of null or {{"stat": 0-3, "pdu": hex}}'
    if not isinstance(value, list) or not 1 <= len(value) <= 255:
        raise CardFileError(what)
    records: list[StoredSms | None] = []
    for item in value:
        if item is None:
            records.append(None)
            continue
        if not isinstance(item, dict) or set(item) != {"stat", "pdu"}:
            raise CardFileError(what)
        stat, pdu = item["stat"], item["pdu"]
        good_pdu = isinstance(pdu, str) and pdu and len(pdu) % 2 == 0
        if type(stat) is not int or stat not in SMS_STATUSES or not good_pdu:
            raise CardFileError(what)
        if not set(pdu.upper()) <= HEX_DIGITS:
            raise CardFileError(what)
        records.append(StoredSms(stat, pdu.upper()))
    return records


def _is_iccid(value: Any) -> bool:
    return isinstance(value, str) and 10 <= len(value) <= 20 and set(value.upper()) <= HEX_DIGITS


def save_card(card: SimCard, path: Path) -> None:
    """Write the card file atomically: temp file (mode 0600), fsync, rename, fsync dir."""
    write_private_file(Path(path), json.dumps(card.to_json_dict(), indent=2) + "\n")


def load_card(
    path: Path,
    *,
    rng: random.Random | None = None,
    pin_attempts: int = PIN_ATTEMPTS,
    puk_attempts: int = PUK_ATTEMPTS,
) -> SimCard:
    """Load the card file (creating a fresh card if it does not exist) and persist changes.

    A bad file raises `CardFileError` and is left untouched.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        card = new_card(rng, pin_attempts=pin_attempts, puk_attempts=puk_attempts)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        save_card(card, path)
        logger.info("created card file %s (ICCID %s)", path, card.iccid)
    except (OSError, UnicodeDecodeError) as exc:
        raise CardFileError(f"card file {path}: cannot read it: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardFileError(f"card file {path}: not valid JSON: {exc}") from exc
        card = card_from_json(
            data, source=f"card file {path}", pin_attempts=pin_attempts, puk_attempts=puk_attempts
        )
    card.on_change = _saver(path)
    return card


def _saver(path: Path) -> Callable[[SimCard], None]:
    def save(card: SimCard) -> None:
        try:
            save_card(card, path)
        except OSError as exc:
            logger.error("cannot rewrite card file %s: %s", path, exc)

    return save
