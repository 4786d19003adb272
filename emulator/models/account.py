"""The account: business use only (001 §34.2), contract formation (§34.1), the
heavy-traffic threshold (§47 Decision) and the non-payment policy (002 §12.3, §16.1(2)).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from emulator.clock import FIRST, JST, LAST, VirtualClock, iso_utc
from emulator.errors import BadRequest, Forbidden
from emulator.models import events
from emulator.store import Store, Tx

EntityType = Literal["business", "non_profit", "individual"]
ENTITY_TYPES: tuple[EntityType, ...] = ("business", "non_profit", "individual")
Standing = Literal["active", "suspended", "terminated"]
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TERMINATION_MONTHS = 3  # 002 §16.1(2): unpaid 3 months after the due date


@dataclass(frozen=True)
class Account:
    """The one account of this emulator and its policy settings."""

    entity_type: EntityType
    contract_formed_at: datetime | None
    suspension_enabled: bool
    suspension_days: int
    session_cut_bytes: int | None
    standing: Standing
    unpaid_months: tuple[str, ...]


def check_month(month: str) -> str:
    """Validate a `YYYY-MM` month; BadRequest otherwise."""
    if not MONTH_RE.match(month):
        raise BadRequest(f"not a month (YYYY-MM): {month!r}", code="invalid_month")
    if not FIRST.year <= int(month[:4]) <= LAST.year - 1:
        raise BadRequest(
            f"month {month} is outside the supported range {FIRST.year}-01 to {LAST.year - 1}-12",
            code="invalid_month",
        )
    return month


def due_date(month: str) -> date:
    """The payment date of a month's invoice: the 10th of the next month (001 §4.1)."""
    year, mon = (int(part) for part in check_month(month).split("-"))
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return date(year, mon, 10)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, mon = divmod(total, 12)
    last = calendar.monthrange(year, mon + 1)[1]
    return date(year, mon + 1, min(day.day, last))


def require_business(db: Tx) -> None:
    """Refuse an individual account (001 §34.2, Decision: `entity_type`)."""
    row = db.one("SELECT entity_type FROM account WHERE id = 1")
    if row is not None and row["entity_type"] == "individual":
        raise Forbidden(
            "Secure Mobile Connect is for business or non-profit organisations only "
            "(001 §34.2): this account's entity_type is 'individual'",
            code="individual_account_refused",
        )


def form_contract(db: Tx, now: datetime) -> None:
    """The contract forms at the first SIM registration or gateway creation (001 §34.1)."""
    db.execute(
        "UPDATE account SET contract_formed_at = ? WHERE id = 1 AND contract_formed_at IS NULL",
        (iso_utc(now),),
    )


def standing(db: Tx, now: datetime) -> tuple[Standing, tuple[str, ...]]:
    """`active`, `suspended` or `terminated` under the non-payment policy, and the
    months marked unpaid. With the policy off (the default) the account stays active."""
    row = db.one("SELECT suspension_enabled, suspension_days FROM account WHERE id = 1")
    unpaid = tuple(
        str(r["month"])
        for r in db.all("SELECT month FROM invoice_status WHERE paid = 0 ORDER BY month")
    )
    if row is None or not row["suspension_enabled"]:
        return "active", unpaid
    today = now.astimezone(JST).date()
    result: Standing = "active"
    for month in unpaid:
        due = due_date(month)
        if today > _add_months(due, TERMINATION_MONTHS):
            return "terminated", unpaid
        if today > due + timedelta(days=int(row["suspension_days"])):
            result = "suspended"
    return result, unpaid


class AccountModel:
    """Read and steer the account (`/_emulator/account`, `/_emulator/invoices`)."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def get(self) -> Account:
        """The account with its standing at the virtual now."""
        with self._store.transaction() as db:
            return self._load(db)

    def _load(self, db: Tx) -> Account:
        row = db.one("SELECT * FROM account WHERE id = 1")
        assert row is not None
        state, unpaid = standing(db, self._clock.now())
        formed = row["contract_formed_at"]
        return Account(
            entity_type=row["entity_type"],
            contract_formed_at=None if formed is None else datetime.fromisoformat(formed),
            suspension_enabled=bool(row["suspension_enabled"]),
            suspension_days=int(row["suspension_days"]),
            session_cut_bytes=row["session_cut_bytes"],
            standing=state,
            unpaid_months=unpaid,
        )

    def update(
        self,
        *,
        entity_type: EntityType | None = None,
        suspension_enabled: bool | None = None,
        suspension_days: int | None = None,
        session_cut_bytes: int | None = None,
        clear_session_cut: bool = False,
    ) -> Account:
        """Change the account's settings; omitted ones stay as they are."""
        if entity_type is not None and entity_type not in ENTITY_TYPES:
            raise BadRequest(f"entity_type must be one of {', '.join(ENTITY_TYPES)}")
        if suspension_days is not None and suspension_days < 0:
            raise BadRequest("suspension_days must be >= 0")
        if session_cut_bytes is not None and session_cut_bytes <= 0:
            raise BadRequest("session_cut_bytes must be > 0 (or null to switch it off)")
        with self._store.transaction() as db:
            if entity_type is not None:
                db.execute("UPDATE account SET entity_type = ? WHERE id = 1", (entity_type,))
            if suspension_enabled is not None:
                db.execute(
                    "UPDATE account SET suspension_enabled = ? WHERE id = 1",
                    (int(suspension_enabled),),
                )
            if suspension_days is not None:
                db.execute(
                    "UPDATE account SET suspension_days = ? WHERE id = 1", (suspension_days,)
                )
            if session_cut_bytes is not None or clear_session_cut:
                db.execute(
                    "UPDATE account SET session_cut_bytes = ? WHERE id = 1", (session_cut_bytes,)
                )
            return self._load(db)

    def set_invoice_paid(self, month: str, *, paid: bool, amount: int | None = None) -> Account:
        """Mark a month's invoice paid or unpaid; a payment with an amount is recorded in
        the event log (`payment`, for late interest)."""
        check_month(month)
        if amount is not None and amount < 0:
            raise BadRequest("amount must be >= 0")
        if amount is not None and not paid:
            raise BadRequest("an amount only goes with paid: true")
        now = self._clock.now()
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO invoice_status (month, paid, changed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (month) DO UPDATE SET paid = excluded.paid, "
                "changed_at = excluded.changed_at",
                (month, int(paid), iso_utc(now)),
            )
            if paid and amount is not None:
                events.append(db, now, "payment", invoice_month=month, amount=amount)
            return self._load(db)
