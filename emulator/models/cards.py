"""The SIM factory: cards "shipped" to the customer before they register them.

The emulator has no real factory, so `POST /_emulator/sims` manufactures a card (ICCID,
PASSCODE, IMSI, and its number, the MSISDN: a Japanese mobile number `+8170...` unless
one is given). Registering it through the Sakura API then needs that PASSCODE (001
§43.2). The PASSCODE is stored only as a salted hash and never logged or echoed again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest, Conflict
from emulator.store import Store, Tx
from simgate_common.luhn import luhn_check_digit, luhn_valid

ICCID_RE = re.compile(r"^\d{18,22}$")
IMSI_RE = re.compile(r"^\d{14,15}$")
PASSCODE_RE = re.compile(r"^[A-Za-z0-9]{4,32}$")
MSISDN_RE = re.compile(r"^\+81[6-9]0\d{8}$")  # E.164 of a Japanese mobile number
_PASSCODE_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Card:
    """A manufactured card. `passcode` is set only on the answer to its manufacture."""

    iccid: str
    imsi: str
    passcode: str | None = None
    msisdn: str | None = None


def check_iccid(iccid: str) -> str:
    """An ICCID is 18 to 22 decimal digits (Luhn is reported elsewhere, never required)."""
    if not isinstance(iccid, str) or not ICCID_RE.match(iccid):
        raise BadRequest(
            f"invalid ICCID {iccid!r}: it must be 18 to 22 decimal digits", code="invalid_iccid"
        )
    return iccid


def _hash(passcode: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{passcode}".encode()).hexdigest()


def passcode_hash(passcode: str) -> str:
    """What the `cards` table keeps of a PASSCODE: `salt$sha256(salt:passcode)`."""
    salt = secrets.token_hex(8)
    return f"{salt}${_hash(passcode, salt)}"


def passcode_matches(db: Tx, iccid: str, passcode: str) -> bool | None:
    """True/False for the card's PASSCODE, None when no such card was shipped."""
    row = db.one("SELECT passcode_hash FROM cards WHERE iccid = ?", (iccid,))
    if row is None:
        return None
    salt, digest = str(row["passcode_hash"]).split("$", 1)
    return hmac.compare_digest(_hash(passcode, salt), digest)


def card_msisdn(db: Tx, iccid: str) -> str | None:
    """The number of a shipped card (one is assigned to a card made without it)."""
    row = db.one("SELECT msisdn FROM card_numbers WHERE iccid = ?", (iccid,))
    if row is not None:
        return str(row["msisdn"])
    if db.one("SELECT 1 FROM cards WHERE iccid = ?", (iccid,)) is None:
        return None
    return assign_msisdn(db, iccid)


def assign_msisdn(db: Tx, iccid: str, msisdn: str | None = None) -> str:
    """Give the card `iccid` a number (`msisdn`, or a fresh `+8170...` one)."""
    if msisdn is None:
        while True:
            msisdn = "+8170" + _digits(8)
            if db.one("SELECT 1 FROM card_numbers WHERE msisdn = ?", (msisdn,)) is None:
                break
    db.execute("INSERT INTO card_numbers (iccid, msisdn) VALUES (?, ?)", (iccid, msisdn))
    return msisdn


def card_for_msisdn(db: Tx, msisdn: str) -> str | None:
    """The ICCID of the card with number `msisdn`, if any."""
    row = db.one("SELECT iccid FROM card_numbers WHERE msisdn = ?", (msisdn,))
    return None if row is None else str(row["iccid"])


def card_imsi(db: Tx, iccid: str) -> str | None:
    """The IMSI of a shipped card."""
    row = db.one("SELECT imsi FROM cards WHERE iccid = ?", (iccid,))
    return None if row is None else str(row["imsi"])


class CardFactory:
    """Manufacture and look up cards."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def manufacture(
        self,
        iccid: str | None = None,
        passcode: str | None = None,
        imsi: str | None = None,
        msisdn: str | None = None,
    ) -> Card:
        """Make a card; any field left out is generated (ICCID prefix 8981, IMSI 44010...,
        MSISDN +8170...). A given ICCID must pass Luhn: this is the issuer (registration
        only needs digits)."""
        if iccid is not None:
            check_iccid(iccid)
            if not luhn_valid(iccid):  # the factory issues cards: their check digit is right
                raise BadRequest(
                    f"iccid: {iccid} fails the Luhn check (its last digit must be "
                    f"{luhn_check_digit(iccid[:-1])})",
                    code="invalid_iccid",
                )
        if passcode is not None and not PASSCODE_RE.match(passcode):
            raise BadRequest("a PASSCODE is 4 to 32 letters or digits", code="invalid_passcode")
        if imsi is not None and not IMSI_RE.match(imsi):
            raise BadRequest(f"invalid IMSI {imsi!r}: 14 or 15 digits", code="invalid_imsi")
        if msisdn is not None and not MSISDN_RE.match(msisdn):
            raise BadRequest(
                f"msisdn: {msisdn!r} is not a Japanese mobile number in E.164 "
                "(+81, then 60/70/80/90 and 8 digits)",
                code="invalid_msisdn",
            )
        with self._store.transaction() as db:
            if msisdn is not None and card_for_msisdn(db, msisdn) is not None:
                raise Conflict(f"msisdn: {msisdn} already belongs to another card")
            if iccid is None:
                iccid = self._fresh(db, "iccid", _new_iccid)
            elif db.one("SELECT 1 FROM cards WHERE iccid = ?", (iccid,)) is not None:
                raise Conflict(f"a card with ICCID {iccid} was already manufactured")
            if imsi is None:
                imsi = self._fresh(db, "imsi", lambda: "44010" + _digits(10))
            if passcode is None:
                passcode = "".join(secrets.choice(_PASSCODE_ALPHABET) for _ in range(8))
            db.execute(
                "INSERT INTO cards (iccid, imsi, passcode_hash, manufactured_at) "
                "VALUES (?, ?, ?, ?)",
                (iccid, imsi, passcode_hash(passcode), iso_utc(self._clock.now())),
            )
            msisdn = assign_msisdn(db, iccid, msisdn)
        return Card(iccid=iccid, imsi=imsi, passcode=passcode, msisdn=msisdn)

    def get(self, iccid: str) -> Card | None:
        """One manufactured card (no PASSCODE), with its number."""
        with self._store.transaction() as db:
            imsi = card_imsi(db, iccid)
            if imsi is None:
                return None
            return Card(iccid=iccid, imsi=imsi, msisdn=card_msisdn(db, iccid))

    def list_all(self) -> list[Card]:
        """Every manufactured card (without PASSCODEs)."""
        with self._store.transaction() as db:
            rows = db.all("SELECT iccid, imsi FROM cards ORDER BY iccid")
            return [
                Card(iccid=str(r["iccid"]), imsi=str(r["imsi"]), msisdn=card_msisdn(db, r["iccid"]))
                for r in rows
            ]

    @staticmethod
    def _fresh(db: Tx, column: str, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if db.one(f"SELECT 1 FROM cards WHERE {column} = ?", (value,)) is None:  # noqa: S608
                return value


def _new_iccid() -> str:
    """19 digits: prefix 8981 (Japan), 14 random digits, and the Luhn check digit."""
    body = "8981" + _digits(14)
    return body + str(luhn_check_digit(body))


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))
