"""The console's actions (POST), through the same models as the API.

An action that costs money or locks a SIM out first answers with a page that says what
will happen and what it costs (prices from the tariff in force); only the form on that
page, re-sent with `confirm=yes`, does it. Every form carries the console's token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from emulator.backend import Backend
from emulator.billing.months import parse_month
from emulator.clock import JST, jst_month
from emulator.console import billing_view
from emulator.console.web import (
    backend_of,
    clock_view,
    page,
    read_form,
    render,
    safe_back,
    with_params,
)
from emulator.errors import BadRequest, EmulatorError, NotFound
from emulator.models.sims import check_imei

router = APIRouter(include_in_schema=False)
MAX_ADVANCE = 100 * 366 * 86400
PRESETS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "30days": 30 * 86400}


@dataclass(frozen=True)
class Plan:
    """What an action will do: the question to ask first (None: ask nothing), the change,
    and the notice shown after it."""

    question: str | None
    details: list[str]
    run: Callable[[], object]
    done: str


def _prices(request: Request) -> dict[str, object]:
    prices = billing_view.tariff_of(request.app.state).prices
    return {key: (int(v) if v.denominator == 1 else float(v)) for key, v in prices.items()}


def _sim_plan(
    request: Request, backend: Backend, sim_id: str, action: str, form: dict[str, str]
) -> Plan:
    sim = backend.sims.get(sim_id)
    price = _prices(request)
    who = f"SIM {sim.name} (ICCID {sim.iccid})"
    if action == "activate":
        return Plan(
            f"Activate {who}?",
            [
                "The network will accept the SIM again.",
                f"Each month in which it communicates costs the SIM basic fee, "
                f"¥{price.get('sim_basic')} before tax (001 §36), and data costs "
                f"¥{price.get('data_per_mb')} per 1,000,000 bytes (001 §38).",
            ],
            lambda: backend.sims.set_activated(sim_id, True),
            "activated",
        )
    if action == "deactivate":
        return Plan(
            f"Deactivate {who}?",
            [
                "The network will refuse the SIM: its data session ends now and the device "
                "loses its connection.",
                "The SIM stays registered: a month with no communication still counts towards "
                f"the line maintenance fee, ¥{price.get('line_maintenance')} (001 §37).",
            ],
            lambda: backend.sims.set_activated(sim_id, False),
            "deactivated",
        )
    if action == "imei-lock":
        imei = check_imei(form.get("imei", "").strip())
        return Plan(
            f"Lock {who} to IMEI {imei}?",
            [
                "An attach from any other device will be refused (device lock, 001 §31.3).",
                f"The device lock option costs ¥{price.get('option_device_lock')} for every "
                "month in which it is set (001 §40).",
            ],
            lambda: backend.sims.set_imei_lock(sim_id, imei),
            "imei_locked",
        )
    if action == "imei-unlock":
        return Plan(None, [], lambda: backend.sims.set_imei_lock(sim_id, None), "imei_unlocked")
    raise NotFound(f"no SIM action {action!r}")


def _gateway_plan(backend: Backend, request: Request, gateway_id: str, action: str) -> Plan:
    gw = backend.gateways.get(None, gateway_id)
    price = _prices(request)
    with backend.store.transaction() as db:
        row = db.one("SELECT count(*) AS n FROM sims WHERE gateway_id = ?", (gateway_id,))
    count = 0 if row is None else int(row["n"])
    who = f"gateway {gw.name} ({gw.id})"
    if action == "power-on":
        return Plan(
            f"Power on {who}?",
            [
                f"Its {count} SIM(s) can attach and communicate (001 §32).",
                f"A SIM costs its basic fee, ¥{price.get('sim_basic')}, in each month it "
                f"communicates (001 §36); data costs ¥{price.get('data_per_mb')} per "
                "1,000,000 bytes (001 §38).",
            ],
            lambda: backend.gateways.set_power(gw.zone, gateway_id, True),
            "power_on",
        )
    if action == "power-off":
        return Plan(
            f"Power off {who}?",
            [
                f"The data sessions of its {count} SIM(s) end now; they cannot communicate "
                "until the gateway is powered on again (001 §32).",
                f"The gateway fee, ¥{price.get('gateway')} a month, is owed while the gateway "
                "exists, powered or not (001 §39).",
            ],
            lambda: backend.gateways.set_power(gw.zone, gateway_id, False),
            "power_off",
        )
    if action == "internet-on":
        return Plan(
            f"Turn the internet on for {who}?",
            [
                f"Its {count} SIM(s) may reach the internet while it is powered on "
                "(001 §32.3, §44).",
                f"Data costs ¥{price.get('data_per_mb')} per 1,000,000 bytes (001 §38).",
            ],
            lambda: backend.gateways.update(gw.zone, gateway_id, internet_enabled=True),
            "internet_on",
        )
    if action == "internet-off":
        return Plan(
            None,
            [],
            lambda: backend.gateways.update(gw.zone, gateway_id, internet_enabled=False),
            "internet_off",
        )
    raise NotFound(f"no gateway action {action!r}")


def _clock_target(backend: Backend, action: str, form: dict[str, str]) -> tuple[datetime, str]:
    now = backend.clock.now()
    if action == "advance":
        preset = form.get("preset", "")
        if preset == "month":
            target = clock_view(backend).next_boundary.astimezone(UTC)
            return target, "to the next month boundary"
        if preset in PRESETS:
            seconds = PRESETS[preset]
        else:
            try:
                seconds = int(form.get("seconds", ""))
            except ValueError:
                raise BadRequest("seconds: a whole number of seconds is needed") from None
        if not 0 < seconds <= MAX_ADVANCE:
            raise BadRequest(f"seconds: must be between 1 and {MAX_ADVANCE}")
        return now + timedelta(seconds=seconds), f"by {timedelta(seconds=seconds)}"
    if action == "set":
        text = form.get("now", "").strip()
        try:
            local = datetime.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"now: {text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
        if not 2000 <= local.year <= 2200:
            raise BadRequest("now: the year must be between 2000 and 2200")
        moment = local.replace(tzinfo=JST) if local.tzinfo is None else local
        return moment.astimezone(UTC), "to"
    raise NotFound(f"no clock action {action!r}")


def _clock_plan(request: Request, backend: Backend, action: str, form: dict[str, str]) -> Plan:
    target, how = _clock_target(backend, action, form)
    now = backend.clock.now()
    details = [
        f"From {now.astimezone(JST):%Y-%m-%d %H:%M} JST "
        f"to {target.astimezone(JST):%Y-%m-%d %H:%M} JST."
    ]
    if target < now:
        details.append("This moves the clock backwards: later events will carry earlier times.")
    start, end = jst_month(now), jst_month(target)
    if end > start:
        pricer = billing_view.pricer_of(request.app.state, backend.store)
        fees = [
            a for a in billing_view.alerts(pricer, start) if parse_month(a.month) < parse_month(end)
        ]
        details.append(
            f"It crosses the month boundary (00:00 JST on the 1st) into {end}: the charges "
            f"of {start} close, and {len(fees)} line maintenance fee(s) (001 §37) arise on the way "
            "for SIMs that stay silent."
        )
    frozen = backend.clock.frozen
    if action == "advance":
        seconds = (target - now).total_seconds()
        run: Callable[[], object] = lambda: backend.clock.advance(seconds)  # noqa: E731
    else:
        run = lambda: backend.clock.set(target, frozen=frozen)  # noqa: E731
    question = f"Move the virtual clock {how}" + (
        f" {target.astimezone(JST):%Y-%m-%d %H:%M} JST?" if action == "set" else "?"
    )
    return Plan(question, details, run, "clock_advanced" if action == "advance" else "clock_set")


def _raise(exc: EmulatorError) -> Response:
    raise exc


async def _act(
    request: Request, make: Callable[[dict[str, str]], Plan], default_back: str
) -> Response:
    try:
        form = await read_form(request)
    except EmulatorError as exc:
        error = exc
        return page(request, lambda: _raise(error))
    back = safe_back(form.get("back"), default_back)

    def build() -> Response:
        plan = make(form)
        if plan.question is not None and form.get("confirm") != "yes":
            fields = {k: v for k, v in form.items() if k not in ("token", "confirm")}
            fields["back"] = back
            return render(
                request,
                "confirm.html",
                title="Confirm",
                nav="",
                plan=plan,
                action=request.url.path,
                fields=fields,
                back=back,
            )
        plan.run()
        return RedirectResponse(with_params(back, done=plan.done), status_code=303)

    return page(request, build)


@router.post("/console/sims/{sim_id}/{action}")
async def sim_action(request: Request, sim_id: str, action: str) -> Response:
    """activate, deactivate, imei-lock (field `imei`), imei-unlock."""
    backend = backend_of(request)
    return await _act(
        request,
        lambda form: _sim_plan(request, backend, sim_id, action, form),
        f"/console/sims/{sim_id}",
    )


@router.post("/console/gateways/{gateway_id}/{action}")
async def gateway_action(request: Request, gateway_id: str, action: str) -> Response:
    """power-on, power-off, internet-on, internet-off."""
    backend = backend_of(request)
    return await _act(
        request,
        lambda form: _gateway_plan(backend, request, gateway_id, action),
        f"/console/gateways/{gateway_id}",
    )


@router.post("/console/clock/{action}")
async def clock_action(request: Request, action: str) -> Response:
    """advance (`preset` hour/day/week/30days/month, or `seconds`), set (`now`, JST)."""
    backend = backend_of(request)
    return await _act(
        request, lambda form: _clock_plan(request, backend, action, form), "/console/clock"
    )
