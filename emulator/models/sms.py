"""SMS (001 §67-§77): two-factor authentication and A2P messages to mobile numbers.

- Kinds `2fa` and `a2p` (§67.2), each its own contract (§68), formed (as in the billing
  engine) by its first message.
- Numbers: E.164 (`+` and 8-15 digits) or a Japanese domestic mobile number
  (`0X0-XXXX-XXXX`, X = 6-9, hyphens or spaces allowed), normalised to `+81...`.
  **Decision**: Japanese numbers must be mobile numbers (§67.1 says 携帯電話番号);
  other countries' numbers are taken as given.
- A number that is a registered SIM's MSISDN is delivered over the radio network to the
  modem holding the card (`emulator.models.sms_radio`): `pending` until the modem
  reports `delivered` or `failed`. Other numbers' delivery is simulated: `fail_numbers`
  always fail; otherwise a message fails with probability `failure_rate`, drawn from a
  generator seeded with `seed` and the message's number, so a run repeats exactly. Every
  send is an `sms_sent` event, billed whether delivered or not (§70).
- §71 **Decision**: a send made on behalf of an end user (`end_user` given) of kind `a2p`
  is refused (403) unless the account is approved (`sms_a2p_approved`).
- §72 **Decision**: more than `rate_limit` messages within `rate_window` seconds (virtual
  clock) is spam-like use: the message is refused (429, not sent, not billed) and the
  account becomes `sms_restricted` with a reason; every later send is refused (429)
  until the restriction is lifted (`PUT /_emulator/sms {"restricted": false}`).
- §74: a cancellation notice on the 1st-20th (JST) ends the contract at the end of that
  month, on the 21st or later at the end of the next month (`sms_cancelled` event); sends
  of that kind are refused (403) after the end, until applied for again.
"""

from __future__ import annotations

import calendar
import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from emulator.clock import JST, VirtualClock, iso_utc
from emulator.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests
from emulator.models import events
from emulator.models.sms_radio import hold_for_radio, registered_recipient
from emulator.store import Store, Tx

SmsKind = Literal["2fa", "a2p"]
KINDS: tuple[SmsKind, ...] = ("2fa", "a2p")
MAX_TEXT = 670
MAX_FAIL_NUMBERS = 1000
_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_JP_MOBILE = re.compile(r"[6-9]0[0-9]{8}")


@dataclass(frozen=True)
class SmsSettings:
    """The account's SMS state and the delivery simulation."""

    a2p_approved: bool
    restricted: bool
    restricted_reason: str | None
    restricted_at: str | None
    rate_limit: int
    rate_window: float
    failure_rate: float
    seed: int
    fail_numbers: list[str]


@dataclass(frozen=True)
class SentSms:
    """A message sent (delivered or not)."""

    id: str
    kind: str
    to: str
    text: str
    end_user: str | None
    delivered: bool
    status: str
    failure_reason: str | None
    sent_at: str


@dataclass(frozen=True)
class SmsContract:
    """One kind's contract: `none` (forms at the first message), `active`, `ending`
    (notice given), `ended`."""

    kind: str
    status: str
    formed_at: str | None
    notice_at: str | None
    ends_on: str | None


def normalise_number(text: str) -> str:
    """E.164 form of a destination; BadRequest saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("to: a phone number is required", code="invalid_number")
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("0") and not compact.startswith("00"):
        if not (len(compact) == 11 and _JP_MOBILE.fullmatch(compact[1:])):
            raise BadRequest(
                f"to: {text!r} is not a Japanese mobile number (0X0-XXXX-XXXX with X 6-9; "
                "SMS goes to mobile numbers, 001 §67.1)",
                code="invalid_number",
            )
        return "+81" + compact[1:]
    if not _E164.fullmatch(compact):
        raise BadRequest(
            f"to: {text!r} is not an E.164 number (+, country code, 8 to 15 digits) "
            "or a Japanese mobile number 0X0-XXXX-XXXX",
            code="invalid_number",
        )
    if compact.startswith("+81") and not _JP_MOBILE.fullmatch(compact[3:]):
        raise BadRequest(
            f"to: {text!r} is not a Japanese mobile number (+81 then 60/70/80/90 and "
            "8 digits; SMS goes to mobile numbers, 001 §67.1)",
            code="invalid_number",
        )
    return compact


def _check_kind(kind: str) -> SmsKind:
    for known in KINDS:
        if kind == known:
            return known
    raise BadRequest(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", code="invalid_kind")


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text:
        raise BadRequest("text: must not be empty", code="invalid_text")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"text: longer than {MAX_TEXT} characters", code="invalid_text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("text: not valid UTF-8 (a lone surrogate)", code="invalid_text") from None
    return text


def _month_end(day: date, months_ahead: int) -> date:
    total = day.year * 12 + day.month - 1 + months_ahead
    year, month = divmod(total, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def cancellation_end(notice: datetime) -> date:
    """§74: notice on the 1st-20th ends at this month's end, else at next month's end."""
    day = notice.astimezone(JST).date()
    return _month_end(day, 0 if day.day <= 20 else 1)


def _settings(db: Tx) -> SmsSettings:
    row = db.one("SELECT * FROM sms_settings WHERE id = 1")
    assert row is not None
    return SmsSettings(
        a2p_approved=bool(row["a2p_approved"]),
        restricted=row["restricted_reason"] is not None,
        restricted_reason=row["restricted_reason"],
        restricted_at=row["restricted_at"],
        rate_limit=int(row["rate_limit"]),
        rate_window=float(row["rate_window"]),
        failure_rate=float(row["failure_rate"]),
        seed=int(row["seed"]),
        fail_numbers=[str(n) for n in json.loads(row["fail_numbers"])],
    )


def _contract(db: Tx, kind: str, now: datetime) -> SmsContract:
    row = db.one("SELECT * FROM sms_contracts WHERE kind = ?", (kind,))
    if row is None:
        return SmsContract(kind, "none", None, None, None)
    status = "none" if row["formed_at"] is None else "active"
    if row["ends_on"] is not None:
        ended = now.astimezone(JST).date() > date.fromisoformat(row["ends_on"])
        status = "ended" if ended else "ending"
    return SmsContract(kind, status, row["formed_at"], row["notice_at"], row["ends_on"])


_SELECT = (
    "SELECT m.*, r.status AS radio_status FROM sms_messages m "
    "LEFT JOIN sms_radio r ON r.sms_id = m.id"
)


def _sent(row: Any) -> SentSms:
    delivered = bool(row["delivered"])
    status = row["radio_status"] or ("delivered" if delivered else "failed")
    return SentSms(
        id=row["id"],
        kind=row["kind"],
        to=row["to_number"],
        text=row["text"],
        end_user=row["end_user"],
        delivered=delivered,
        status=status,
        failure_reason=row["failure_reason"],
        sent_at=row["sent_at"],
    )


class Sms:
    """Send, list, cancel; the account's SMS settings."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def send(self, kind: str, to: str, text: str, end_user: str | None = None) -> SentSms:
        """Send one message (simulated delivery); refusals change nothing but the
        spam-rate restriction, which is kept."""
        kind = _check_kind(kind)
        number = normalise_number(to)
        _check_text(text)
        if end_user is not None and not 1 <= len(end_user) <= 128:
            raise BadRequest("end_user: 1 to 128 characters", code="invalid_parameter")
        now = self._clock.now()
        with self._store.transaction() as db:
            outcome = self._send_in(db, now, kind, number, text, end_user)
        if isinstance(outcome, TooManyRequests):
            raise outcome  # after the commit: the restriction stays
        return outcome

    def _send_in(
        self, db: Tx, now: datetime, kind: SmsKind, number: str, text: str, end_user: str | None
    ) -> SentSms | TooManyRequests:
        contract = _contract(db, kind, now)
        if contract.status == "ended":
            raise Forbidden(
                f"the {kind} SMS contract ended on {contract.ends_on} (cancelled, 001 §74): "
                f"apply again with POST /sms/v1/contracts/{kind}",
                code="sms_contract_ended",
            )
        settings = _settings(db)
        if settings.restricted:
            return TooManyRequests(
                f"SMS use is restricted (001 §72): {settings.restricted_reason}",
                code="sms_restricted",
            )
        if kind == "a2p" and end_user is not None and not settings.a2p_approved:
            raise Forbidden(
                "A2P SMS may not be offered to end users without approval (001 §71): "
                "this account is not approved (sms_a2p_approved)",
                code="a2p_not_approved",
            )
        since = iso_utc(now - timedelta(seconds=settings.rate_window))
        recent = db.one("SELECT count(*) AS n FROM sms_messages WHERE sent_at > ?", (since,))
        if recent is not None and int(recent["n"]) >= settings.rate_limit:
            reason = (
                f"spam-like use: more than {settings.rate_limit} messages within "
                f"{settings.rate_window:g} s"
            )
            db.execute(
                "UPDATE sms_settings SET restricted_reason = ?, restricted_at = ? WHERE id = 1",
                (reason, iso_utc(now)),
            )
            return TooManyRequests(
                f"SMS use is now restricted (001 §72): {reason}", code="sms_restricted"
            )
        count = db.one("SELECT count(*) AS n FROM sms_messages")
        number_of_message = (0 if count is None else int(count["n"])) + 1
        failure: str | None = None
        recipient = registered_recipient(db, number)
        if recipient is not None:
            pass  # the modem holding the card decides (sms_radio)
        elif number in settings.fail_numbers:
            failure = "unreachable (emulator: a number in fail_numbers)"
        elif random.Random(settings.seed * 1_000_003 + number_of_message).random() < (
            settings.failure_rate
        ):
            failure = "not delivered (emulator: simulated failure, failure_rate)"
        sms_id = f"sms-{uuid.uuid4().hex}"
        db.execute(
            "INSERT INTO sms_messages (id, kind, to_number, text, end_user, delivered, "
            "failure_reason, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sms_id, kind, number, text, end_user, int(failure is None and recipient is None),
             failure, iso_utc(now)),
        )  # fmt: skip
        if recipient is not None:
            hold_for_radio(db, sms_id, recipient, iso_utc(now))
        db.execute(
            "INSERT INTO sms_contracts (kind, formed_at) VALUES (?, ?) "
            "ON CONFLICT (kind) DO UPDATE SET formed_at = coalesce(formed_at, excluded.formed_at)",
            (kind, iso_utc(now)),
        )
        delivered = failure is None and recipient is None  # a pending one: not yet
        events.append(db, now, "sms_sent", kind=kind, delivered=delivered)
        row = db.one(f"{_SELECT} WHERE m.id = ?", (sms_id,))
        return _sent(row)

    def get(self, sms_id: str) -> SentSms:
        """One sent message."""
        with self._store.transaction() as db:
            row = db.one(f"{_SELECT} WHERE m.id = ?", (sms_id,))
        if row is None:
            raise NotFound(f"SMS {sms_id!r} is not found", code="sms_not_found")
        return _sent(row)

    def list_recent(self, limit: int = 100) -> list[SentSms]:
        """The latest messages, newest first."""
        with self._store.transaction() as db:
            rows = db.all(f"{_SELECT} ORDER BY m.seq DESC LIMIT ?", (min(max(limit, 1), 1000),))
        return [_sent(r) for r in rows]

    # --- contracts (§68, §74) -----------------------------------------------------------

    def contracts(self) -> list[SmsContract]:
        """Both kinds' contracts."""
        now = self._clock.now()
        with self._store.transaction() as db:
            return [_contract(db, kind, now) for kind in KINDS]

    def cancel(self, kind: str) -> SmsContract:
        """Give notice (§74); recorded as `sms_cancelled`."""
        kind = _check_kind(kind)
        now = self._clock.now()
        with self._store.transaction() as db:
            contract = _contract(db, kind, now)
            if contract.status == "none":
                raise Conflict(
                    f"there is no {kind} SMS contract to cancel (it forms at the first message)",
                    code="no_sms_contract",
                )
            if contract.status in ("ending", "ended"):
                raise Conflict(
                    f"the {kind} SMS contract was already cancelled on {contract.notice_at}; "
                    f"it ends (ended) on {contract.ends_on}",
                    code="already_cancelled",
                )
            db.execute(
                "UPDATE sms_contracts SET notice_at = ?, ends_on = ? WHERE kind = ?",
                (iso_utc(now), cancellation_end(now).isoformat(), kind),
            )
            events.append(db, now, "sms_cancelled", kind=kind)
            return _contract(db, kind, now)

    def apply(self, kind: str) -> SmsContract:
        """Apply again after a contract ended (§68): the next message forms a new one."""
        kind = _check_kind(kind)
        now = self._clock.now()
        with self._store.transaction() as db:
            contract = _contract(db, kind, now)
            if contract.status == "ending":
                raise Conflict(
                    f"the {kind} SMS contract is still running until {contract.ends_on}",
                    code="still_ending",
                )
            db.execute("DELETE FROM sms_contracts WHERE kind = ?", (kind,))
            return _contract(db, kind, now)

    # --- settings -----------------------------------------------------------------------

    def settings(self) -> SmsSettings:
        """The account's SMS state and simulation settings."""
        with self._store.transaction() as db:
            return _settings(db)

    def configure(
        self,
        *,
        a2p_approved: bool | None = None,
        restricted: bool | None = None,
        rate_limit: int | None = None,
        rate_window: float | None = None,
        failure_rate: float | None = None,
        seed: int | None = None,
        fail_numbers: list[str] | None = None,
    ) -> SmsSettings:
        """Change settings; `restricted: false` lifts a restriction, `true` imposes one."""
        if rate_limit is not None and not 1 <= rate_limit <= 10**9:
            raise BadRequest("rate_limit must be 1 to 10^9 messages")
        if rate_window is not None and not 0 < rate_window <= 366 * 86400:
            raise BadRequest("rate_window must be > 0 and at most a year (seconds)")
        if failure_rate is not None and not 0.0 <= failure_rate <= 1.0:
            raise BadRequest("failure_rate must be from 0 to 1")
        numbers = None
        if fail_numbers is not None:
            if len(fail_numbers) > MAX_FAIL_NUMBERS:
                raise BadRequest(f"at most {MAX_FAIL_NUMBERS} fail_numbers")
            numbers = sorted({normalise_number(n) for n in fail_numbers})
        now = self._clock.now()
        with self._store.transaction() as db:
            changes: list[tuple[str, object]] = [
                ("a2p_approved", None if a2p_approved is None else int(a2p_approved)),
                ("rate_limit", rate_limit),
                ("rate_window", rate_window),
                ("failure_rate", failure_rate),
                ("seed", seed),
                ("fail_numbers", None if numbers is None else json.dumps(numbers)),
            ]
            for column, value in changes:
                if value is not None:
                    db.execute(
                        f"UPDATE sms_settings SET {column} = ? WHERE id = 1",  # noqa: S608
                        (value,),
                    )
            if restricted is False:
                db.execute(
                    "UPDATE sms_settings SET restricted_reason = NULL, restricted_at = NULL "
                    "WHERE id = 1"
                )
            elif restricted:
                db.execute(
                    "UPDATE sms_settings SET restricted_reason = coalesce(restricted_reason, ?), "
                    "restricted_at = coalesce(restricted_at, ?) WHERE id = 1",
                    ("restricted by the operator (emulator)", iso_utc(now)),
                )
            return _settings(db)
