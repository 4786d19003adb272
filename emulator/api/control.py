"""The steering API (`/_emulator/*`): clock, reset, account, the SIM factory, device
tokens, events, notifications, invoice payments and fault injection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from emulator.api import fleet
from emulator.api.common import BackendDep
from emulator.api.sakura_schemas import SakuraError
from emulator.clock import iso_jst, iso_utc, jst_month, parse_time
from emulator.errors import BadRequest, Conflict, NotFound
from emulator.models.account import Account, EntityType, check_month
from emulator.models.cards import check_iccid
from emulator.models.faults import FaultRule
from emulator.models.fleet import MAX_BATCH
from emulator.models.sims import find_by_iccid

Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (JST)")]
Iccid = Annotated[str, Path(pattern=r"^\d{18,22}$", description="18 to 22 digits")]

router = APIRouter(
    prefix="/_emulator",
    tags=["emulator: control"],
    responses={code: {"model": SakuraError} for code in (400, 404, 409)},
)


class Strict(BaseModel):
    """Refuses unknown fields and coerces no type (`{"seconds": "10"}` is a 400)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ClockOut(BaseModel):
    """The virtual clock."""

    now: str
    now_jst: str
    month: str
    frozen: bool
    problem: str | None = None


class ClockSet(Strict):
    """Set the clock; it runs on from there unless frozen."""

    now: str = Field(max_length=64)
    frozen: bool = False


class ClockAdvance(Strict):
    """Move the clock forward."""

    seconds: float = Field(ge=0, le=100 * 366 * 86400)


def _clock(request: Request) -> ClockOut:
    backend = request.app.state.backend
    now = backend.clock.now()
    return ClockOut(
        now=iso_utc(now),
        now_jst=iso_jst(now),
        month=jst_month(now),
        frozen=backend.clock.frozen,
        problem=backend.clock.problem,
    )


@router.get("/clock", response_model=ClockOut)
async def get_clock(request: Request) -> ClockOut:
    """The virtual now (UTC and JST) and its JST month."""
    return _clock(request)


@router.put("/clock", response_model=ClockOut)
async def set_clock(body: ClockSet, request: Request, backend: BackendDep) -> ClockOut:
    """Set the virtual now (RFC 3339 with offset)."""
    backend.clock.set(parse_time(body.now), frozen=body.frozen)
    return _clock(request)


@router.post("/clock/advance", response_model=ClockOut)
async def advance_clock(body: ClockAdvance, request: Request, backend: BackendDep) -> ClockOut:
    """Move the virtual clock forward by `seconds`."""
    backend.clock.advance(body.seconds)
    return _clock(request)


class ResetOut(BaseModel):
    """Reset done."""

    reset: bool


@router.post("/reset", response_model=ResetOut)
async def reset(backend: BackendDep) -> ResetOut:
    """Forget all state but the API credentials; the clock follows the wall clock."""
    backend.reset()
    return ResetOut(reset=True)


class AccountOut(BaseModel):
    """The account and its policies."""

    entity_type: str
    contract_formed_at: str | None
    suspension_enabled: bool
    suspension_days: int
    session_cut_bytes: int | None
    standing: str
    unpaid_months: list[str]
    sms_a2p_approved: bool
    sms_restricted: bool
    sms_restricted_reason: str | None


class AccountIn(Strict):
    """Account settings to change; `session_cut_bytes: null` switches the cut off."""

    entity_type: EntityType | None = None
    suspension_enabled: bool | None = None
    suspension_days: int | None = Field(default=None, ge=0, le=3650)
    session_cut_bytes: int | None = Field(default=None, ge=1, le=10**15)
    sms_a2p_approved: bool | None = None


def _account(a: Account, backend: Any) -> AccountOut:
    sms = backend.sms.settings()
    return AccountOut(
        sms_a2p_approved=sms.a2p_approved,
        sms_restricted=sms.restricted,
        sms_restricted_reason=sms.restricted_reason,
        entity_type=a.entity_type,
        contract_formed_at=None if a.contract_formed_at is None else iso_utc(a.contract_formed_at),
        suspension_enabled=a.suspension_enabled,
        suspension_days=a.suspension_days,
        session_cut_bytes=a.session_cut_bytes,
        standing=a.standing,
        unpaid_months=list(a.unpaid_months),
    )


@router.get("/account", response_model=AccountOut)
async def get_account(backend: BackendDep) -> AccountOut:
    """The account: entity type (001 §34.2), contract date (§34.1), policies, SMS A2P
    approval (§71) and restriction (§72)."""
    return _account(backend.account.get(), backend)


@router.put("/account", response_model=AccountOut)
async def set_account(body: AccountIn, backend: BackendDep) -> AccountOut:
    """Change the account's entity type or policies; `sms_a2p_approved` records that
    the account passed the A2P review (001 §71)."""
    if body.sms_a2p_approved is not None:
        backend.sms.configure(a2p_approved=body.sms_a2p_approved)
    return _account(
        backend.account.update(
            entity_type=body.entity_type,
            suspension_enabled=body.suspension_enabled,
            suspension_days=body.suspension_days,
            session_cut_bytes=body.session_cut_bytes,
            clear_session_cut="session_cut_bytes" in body.model_fields_set
            and body.session_cut_bytes is None,
        ),
        backend,
    )


class CardIn(Strict):
    """A card to manufacture; omitted fields are generated. With `count`, that many
    generated cards, answered as JSON Lines."""

    iccid: str | None = Field(default=None, max_length=32)
    passcode: str | None = Field(default=None, max_length=64)
    imsi: str | None = Field(default=None, max_length=32)
    msisdn: str | None = Field(default=None, max_length=32)
    count: int | None = Field(default=None, ge=1, le=MAX_BATCH, strict=True)


class CardOut(BaseModel):
    """A shipped card: what is printed on its sleeve."""

    iccid: str
    imsi: str
    passcode: str
    msisdn: str


class CardListItem(BaseModel):
    """A manufactured card (no PASSCODE), its number and whether it is registered."""

    iccid: str
    imsi: str
    msisdn: str | None
    registered: bool


@router.post(
    "/sims",
    status_code=201,
    response_model=CardOut,
    responses={201: {"content": {fleet.NDJSON: {}}, "description": "with count: JSON Lines"}},
)
async def manufacture(body: CardIn, backend: BackendDep) -> Any:
    """Manufacture a card to be registered through the Sakura API with its PASSCODE;
    with `count`, N generated cards in one transaction, streamed as JSON Lines."""
    if body.count is not None:
        if body.model_fields_set & {"iccid", "passcode", "imsi", "msisdn"}:
            raise BadRequest(
                "count: cannot be combined with iccid, passcode, imsi or msisdn (each card "
                "of a batch gets its own)",
                code="invalid_parameter",
            )
        return fleet.manufacture_stream(backend, body.count)
    card = backend.cards.manufacture(body.iccid, body.passcode, body.imsi, body.msisdn)
    assert card.passcode is not None
    assert card.msisdn is not None
    return CardOut(iccid=card.iccid, imsi=card.imsi, passcode=card.passcode, msisdn=card.msisdn)


@router.get("/sims", response_model=list[CardListItem])
async def list_cards(backend: BackendDep) -> list[CardListItem]:
    """Every manufactured card."""
    registered = {s.iccid for s in backend.sims.list_all()}
    return [
        CardListItem(iccid=c.iccid, imsi=c.imsi, msisdn=c.msisdn, registered=c.iccid in registered)
        for c in backend.cards.list_all()
    ]


class TokenOut(BaseModel):
    """A SIM's MQTT device token (username: the ICCID)."""

    iccid: str
    token: str


def _registered(backend: Any, iccid: str) -> Any:
    check_iccid(iccid)
    with backend.store.transaction() as db:
        sim = find_by_iccid(db, iccid)
    if sim is None:
        raise NotFound(f"no registered SIM has ICCID {iccid}", code="not_registered")
    return sim


@router.get("/sims/{iccid}/token", response_model=TokenOut)
async def device_token(iccid: Iccid, backend: BackendDep) -> TokenOut:
    """The device token issued when the SIM was registered (new at each registration)."""
    sim = _registered(backend, iccid)
    return TokenOut(iccid=iccid, token=backend.device_tokens.token_for(sim))


@router.get(
    "/events",
    response_class=Response,
    responses={
        200: {
            "content": {"application/x-ndjson": {}, "text/plain": {}},
            "description": "JSON Lines",
        }
    },
)
async def get_events(
    request: Request,
    backend: BackendDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="skip the first N lines")] = 0,
) -> Response:
    """The account's billing event log (contracts §2) as JSON Lines; `Accept: text/plain`
    gives the same lines as text. `after` skips the first N lines."""
    lines = backend.events.lines(after=after)
    body = "".join(line + "\n" for line in lines)
    media = (
        "text/plain"
        if "text/plain" in request.headers.get("accept", "")
        else "application/x-ndjson"
    )
    return Response(body, media_type=media)


class NotificationOut(BaseModel):
    """A notification the emulator recorded (e.g. a gateway over its traffic quota)."""

    at: str
    gateway_id: str
    kind: str
    message: str


@router.get("/notifications", response_model=list[NotificationOut])
async def notifications(backend: BackendDep) -> list[NotificationOut]:
    """Recorded notifications, oldest first."""
    with backend.store.transaction() as db:
        rows = db.all("SELECT at, gateway_id, kind, message FROM notifications ORDER BY seq")
    return [NotificationOut(**dict(r)) for r in rows]


class PaymentIn(Strict):
    """Mark a month's invoice paid (optionally with the amount paid) or unpaid."""

    paid: bool
    amount: int | None = Field(default=None, ge=0, le=10**12)


@router.put("/invoices/{month}/payment", response_model=AccountOut)
async def set_payment(month: Month, body: PaymentIn, backend: BackendDep) -> AccountOut:
    """For the non-payment policy: an unpaid invoice suspends the account N days after
    its due date when the policy is on; a paid one with an amount logs a `payment`."""
    check_month(month)
    account = backend.account.set_invoice_paid(month, paid=body.paid, amount=body.amount)
    return _account(account, backend)


class FaultRuleIn(Strict):
    """One fault rule."""

    route: str = Field(min_length=1, max_length=256)
    methods: list[str] = Field(default_factory=list, max_length=8)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    status: int = Field(default=503, ge=400, le=599)


class FaultsIn(Strict):
    """The fault rules and the seed of their random failures."""

    rules: list[FaultRuleIn] = Field(max_length=32)
    seed: int | None = None


class FaultsOut(BaseModel):
    """The fault rules in force."""

    rules: list[FaultRuleIn]
    seed: int | None


def _faults(backend: Any) -> FaultsOut:
    rules = [
        FaultRuleIn(
            route=r.route,
            methods=list(r.methods),
            error_rate=r.error_rate,
            latency_ms=r.latency_ms,
            status=r.status,
        )
        for r in backend.faults.rules
    ]
    return FaultsOut(rules=rules, seed=backend.faults.seed)


@router.get("/faults", response_model=FaultsOut)
async def get_faults(backend: BackendDep) -> FaultsOut:
    """The fault rules in force."""
    return _faults(backend)


@router.put("/faults", response_model=FaultsOut)
async def set_faults(body: FaultsIn, backend: BackendDep) -> FaultsOut:
    """Inject faults on the Sakura API and network routes (never on the other
    `/_emulator/` routes): `route` is a regular expression searched in the path."""
    rules = [
        FaultRule(
            r.route, tuple(m.upper() for m in r.methods), r.error_rate, r.latency_ms, r.status
        )
        for r in body.rules
    ]
    backend.faults.configure(rules, body.seed)
    return _faults(backend)


@router.delete("/faults", response_model=FaultsOut)
async def clear_faults(backend: BackendDep) -> FaultsOut:
    """No more faults."""
    backend.faults.clear()
    return _faults(backend)


@router.get("/invoices/{month}", response_model=dict[str, Any])
async def invoice(month: Month, request: Request, backend: BackendDep) -> dict[str, Any]:
    """The invoice of a JST month (contracts §2), priced by the billing engine from the
    event log with the tariff given to `serve --tariff` (default: the shipped example)."""
    from emulator.billing import TariffError, load_tariff, parse_event_lines, price_month

    check_month(month)
    state = request.app.state
    if getattr(state, "tariff", None) is None:
        state.tariff = load_tariff(state.tariff_path)
    try:
        result: dict[str, Any] = price_month(
            parse_event_lines(backend.events.lines()), month, state.tariff
        ).to_json()
    except TariffError as exc:  # the books need a price the tariff given to serve lacks
        raise Conflict(f"cannot price {month}: {exc}", code="tariff_incomplete") from None
    return result
