"""Fleets: many cards made, and many SIMs registered, each batch in one transaction.

`manufacture_many` is the SIM factory for N cards at once; `register_many` is the Sakura
API's batch registration: every card's PASSCODE is checked, every SIM inserted, every
`sim_registered` event logged and (optionally) every SIM added to one mobile gateway in a
single transaction, so a bad item anywhere leaves nothing of the batch behind (safety
rule 4). The rules are those of one-at-a-time registration (`sims.SimModel.register`).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest, Conflict
from emulator.models import account, events
from emulator.models import gateways as gateway_model
from emulator.models.cards import (
    Card,
    check_iccid,
    passcode_hash,
    passcode_matches,
)
from emulator.models.common import dumps
from emulator.models.sims import DEFAULT_OPERATORS, Sim, sim_from_row
from emulator.store import Store, Tx
from simgate_common.luhn import luhn_check_digit

MAX_BATCH: Final = 100_000
"""The most cards one factory call makes, or SIMs one batch registers."""


@dataclass(frozen=True)
class BatchItem:
    """One SIM of a batch registration; `where` names it in errors (e.g.
    `CommonServiceItems[3]`)."""

    iccid: str
    passcode: str = field(repr=False)
    name: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    where: str = ""


def check_count(count: object) -> int:
    """A batch size: an integer from 1 to `MAX_BATCH`."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_BATCH:
        raise BadRequest(
            f"count: must be an integer from 1 to {MAX_BATCH}", code="invalid_parameter"
        )
    return count


def manufacture_many(store: Store, clock: VirtualClock, count: int) -> list[Card]:
    """Make `count` cards with generated ICCIDs, IMSIs, numbers (`+8170...`) and
    PASSCODEs, in one transaction."""
    check_count(count)
    now = iso_utc(clock.now())
    cards: list[Card] = []
    rows: list[tuple[str, str, str, str]] = []
    with store.transaction() as db:
        iccids = _taken(db, "iccid")
        imsis = _taken(db, "imsi")
        numbers = {str(row[0]) for row in db.all("SELECT msisdn FROM card_numbers")}
        while len(cards) < count:
            body = f"8981{secrets.randbelow(10**14):014d}"
            iccid = body + str(luhn_check_digit(body))
            imsi = f"44010{secrets.randbelow(10**10):010d}"
            msisdn = f"+8170{secrets.randbelow(10**8):08d}"
            if iccid in iccids or imsi in imsis or msisdn in numbers:
                continue
            iccids.add(iccid)
            imsis.add(imsi)
            numbers.add(msisdn)
            passcode = base64.b32encode(secrets.token_bytes(5)).decode()  # 8 of A-Z, 2-7
            cards.append(Card(iccid=iccid, imsi=imsi, passcode=passcode, msisdn=msisdn))
            rows.append((iccid, imsi, passcode_hash(passcode), now))
        for row in rows:
            db.execute(
                "INSERT INTO cards (iccid, imsi, passcode_hash, manufactured_at) "
                "VALUES (?, ?, ?, ?)",
                row,
            )
        for card in cards:
            db.execute(
                "INSERT INTO card_numbers (iccid, msisdn) VALUES (?, ?)", (card.iccid, card.msisdn)
            )
    return cards


def _taken(db: Tx, column: str) -> set[str]:
    return {str(row[0]) for row in db.all(f"SELECT {column} FROM cards")}  # noqa: S608


def register_many(
    store: Store,
    clock: VirtualClock,
    items: Sequence[BatchItem],
    *,
    zone: str | None = None,
    gateway_id: str | None = None,
) -> list[Sim]:
    """Register every item (right PASSCODE, business account, ICCID not yet registered
    nor twice in the batch), and add each to `gateway_id` when given: all or nothing."""
    if not 1 <= len(items) <= MAX_BATCH:
        raise BadRequest(
            f"a batch registers 1 to {MAX_BATCH} SIMs, not {len(items)}", code="invalid_parameter"
        )
    seen: dict[str, str] = {}
    for item in items:
        check_iccid(item.iccid)
        if item.iccid in seen:
            raise BadRequest(
                f"{item.where}.Status.ICCID: ICCID {item.iccid} is also in {seen[item.iccid]}: "
                "each SIM may appear once in a batch",
                code="duplicate_iccid",
            )
        seen[item.iccid] = item.where
    now = clock.now()
    stamp = iso_utc(now)
    operators = dumps(DEFAULT_OPERATORS)
    with store.transaction() as db:
        account.require_business(db)
        if gateway_id is not None:
            gateway_model.load(db, zone, gateway_id)
        registered = {str(row[0]) for row in db.all("SELECT iccid FROM sims")}
        ids = {str(row[0]) for row in db.all("SELECT id FROM sims")}
        rows: list[tuple[str, BatchItem]] = []
        for item in items:
            if item.iccid in registered:
                raise Conflict(
                    f"{item.where}.Status.ICCID: ICCID {item.iccid} is already registered",
                    code="duplicate_iccid",
                )
            match = passcode_matches(db, item.iccid, item.passcode)
            if match is None:
                raise BadRequest(
                    f"{item.where}.Status.ICCID: no card with ICCID {item.iccid} was shipped "
                    "to this account (emulator: manufacture cards with POST /_emulator/sims)",
                    code="invalid_iccid",
                )
            if not match:
                raise BadRequest(
                    f"{item.where}.Remark.PassCode: the PASSCODE does not match the card "
                    f"with ICCID {item.iccid}",
                    code="invalid_passcode",
                )
            sim_id = _new_id(ids)
            rows.append((sim_id, item))
        for sim_id, item in rows:
            db.execute(
                "INSERT INTO sims (id, iccid, imsi, name, description, tags, registered_at, "
                "modified_at, operators, gateway_id) "
                "SELECT ?, iccid, imsi, ?, ?, ?, ?, ?, ?, ? FROM cards WHERE iccid = ?",
                (
                    sim_id,
                    item.name or item.iccid,
                    item.description,
                    dumps(list(item.tags)),
                    stamp,
                    stamp,
                    operators,
                    gateway_id,
                    item.iccid,
                ),
            )
        account.form_contract(db, now)
        for item in items:
            events.append(db, now, "sim_registered", iccid=item.iccid)
        order = {item.iccid: index for index, item in enumerate(items)}
        sims = [
            sim_from_row(row)
            for row in db.all("SELECT * FROM sims WHERE registered_at = ?", (stamp,))
            if row["iccid"] in order
        ]
    sims.sort(key=lambda sim: order[sim.iccid])
    return sims


def _new_id(taken: set[str]) -> str:
    """A fresh 12-digit id like `Tx.new_id`, checked against the ids already known."""
    while True:
        candidate = f"11{secrets.randbelow(10**10):010d}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
