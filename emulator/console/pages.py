"""The console's pages (GET): overview, SIMs, gateways, clock, invoices, alerts."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from emulator.clock import JST
from emulator.console import billing_view, plots, queries
from emulator.console.web import backend_of, clock_view, page, render
from emulator.errors import BadRequest
from emulator.models import traffic
from emulator.models.sims import names_by_iccid

router = APIRouter(include_in_schema=False)
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _sim_query(request: Request, gateway_id: str | None = None) -> queries.SimQuery:
    params = request.query_params
    return queries.SimQuery.parse(
        q=params.get("q"),
        sort=params.get("sort"),
        order=params.get("order"),
        page=params.get("page"),
        size=params.get("size"),
        filter_=params.get("filter"),
        gateway_id=gateway_id,
    )


def _month(text: str) -> str:
    if not _MONTH.fullmatch(text):
        raise BadRequest(f"month: {text!r} is not YYYY-MM", code="invalid_month")
    return text


@router.get("/")
@router.get("/console/")
def overview(request: Request) -> Response:
    """Fleet counts, the clock and what needs attention."""

    def build() -> Response:
        backend = backend_of(request)
        clock = clock_view(backend)
        with backend.store.transaction() as db:
            counts = queries.overview(db, clock.month)
        return render(request, "overview.html", title="Overview", nav="overview", counts=counts)

    return page(request, build)


@router.get("/console/sims")
def sims(request: Request) -> Response:
    """The SIM list: paged, sortable, searchable by ICCID, name or tag."""

    def build() -> Response:
        backend = backend_of(request)
        clock = clock_view(backend)
        query = _sim_query(request)
        with backend.store.transaction() as db:
            result = queries.sim_page(db, query, clock.month)
        return render(
            request,
            "sims.html",
            title="SIMs",
            nav="sims",
            result=result,
            filters=queries.FILTER_LABELS,
            sizes=queries.PAGE_SIZES,
        )

    return page(request, build)


@router.get("/console/sims/{sim_id}")
def sim(request: Request, sim_id: str) -> Response:
    """One SIM: state, locks, the device's reports, traffic plots, session log, actions."""

    def build() -> Response:
        backend = backend_of(request)
        clock = clock_view(backend)
        found = backend.sims.get(sim_id)
        today = clock.now.astimezone(JST).date()
        with backend.store.transaction() as db:
            device = queries.device_info(db, found.iccid)
            log = queries.session_log(db, sim_id)
            months = plots.monthly(db, "sim_traffic", "sim_id", sim_id, clock.month)
            days = plots.daily(db, [found.iccid], today)
            this_month = traffic.sim_month(db, sim_id, clock.month)
            gateway = (
                None
                if found.gateway_id is None
                else db.one("SELECT id, name FROM gateways WHERE id = ?", (found.gateway_id,))
            )
        return render(
            request,
            "sim.html",
            title=f"SIM {found.name}",
            nav="sims",
            sim=found,
            device=device,
            device_json=None
            if device.state is None
            else json.dumps(device.state, indent=2, sort_keys=True),
            report_json=None
            if device.last_report is None
            else json.dumps(device.last_report, indent=2, sort_keys=True),
            log=log,
            gateway=gateway,
            this_month=this_month,
            day_chart=plots.bar_chart(days, f"{found.iccid}: traffic per day (JST)", "sim-days"),
            month_chart=plots.bar_chart(
                months, f"{found.iccid}: traffic per month (JST)", "sim-months"
            ),
        )

    return page(request, build)


@router.get("/console/gateways")
def gateways(request: Request) -> Response:
    """Every mobile gateway with power, internet setting, switch and SIM count."""

    def build() -> Response:
        backend = backend_of(request)
        clock = clock_view(backend)
        with backend.store.transaction() as db:
            rows = queries.gateways(db, clock.month)
        return render(request, "gateways.html", title="Gateways", nav="gateways", rows=rows)

    return page(request, build)


@router.get("/console/gateways/{gateway_id}")
def gateway(request: Request, gateway_id: str) -> Response:
    """One gateway: settings, its SIMs (paged), traffic plots, notifications, actions."""

    def build() -> Response:
        backend = backend_of(request)
        clock = clock_view(backend)
        found = backend.gateways.get(None, gateway_id)
        today = clock.now.astimezone(JST).date()
        query = _sim_query(request, gateway_id)
        with backend.store.transaction() as db:
            result = queries.sim_page(db, query, clock.month)
            iccids = [
                r["iccid"]
                for r in db.all("SELECT iccid FROM sims WHERE gateway_id = ?", (gateway_id,))
            ]
            months = plots.monthly(db, "gateway_traffic", "gateway_id", gateway_id, clock.month)
            days = plots.daily(db, iccids, today)
            switch = (
                None
                if found.switch_id is None
                else db.one("SELECT id, name FROM switches WHERE id = ?", (found.switch_id,))
            )
            quota = traffic.quota_state(db, gateway_id, found.traffic_config, clock.now)
            notes = db.all(
                "SELECT at, kind, message FROM notifications WHERE gateway_id = ? "
                "ORDER BY seq DESC LIMIT 10",
                (gateway_id,),
            )
        return render(
            request,
            "gateway.html",
            title=f"Gateway {found.name}",
            nav="gateways",
            gw=found,
            switch=switch,
            quota=quota,
            notes=notes,
            result=result,
            filters=queries.FILTER_LABELS,
            sizes=queries.PAGE_SIZES,
            day_chart=plots.bar_chart(
                days, f"{found.name}: traffic per day of its SIMs (JST)", "gateway-days"
            ),
            month_chart=plots.bar_chart(
                months, f"{found.name}: traffic per month (JST)", "gateway-months"
            ),
        )

    return page(request, build)


@router.get("/console/clock")
def clock(request: Request) -> Response:
    """The virtual clock, the next month boundary in JST, and the forms that move it."""

    def build() -> Response:
        return render(request, "clock.html", title="Clock", nav="clock")

    return page(request, build)


@router.get("/console/invoices")
def invoices(request: Request) -> Response:
    """The current month's invoice."""
    month = clock_view(backend_of(request)).month
    return RedirectResponse(f"/console/invoices/{month}", status_code=303)


@router.get("/console/invoices/{month}.csv")
def invoice_csv(request: Request, month: str) -> Response:
    """Download a month's invoice as CSV."""

    def build() -> Response:
        backend = backend_of(request)
        pricer = billing_view.pricer_of(request.app.state, backend.store)
        text = billing_view.invoice_csv(billing_view.invoice_of(pricer, _month(month)))
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="invoice-{month}.csv"'},
        )

    return page(request, build)


@router.get("/console/invoices/{month}.json")
def invoice_json(request: Request, month: str) -> Response:
    """Download a month's invoice as JSON (the same document as the steering API's)."""

    def build() -> Response:
        backend = backend_of(request)
        pricer = billing_view.pricer_of(request.app.state, backend.store)
        doc = billing_view.invoice_of(pricer, _month(month)).to_json()
        return Response(
            json.dumps(doc, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="invoice-{month}.json"'},
        )

    return page(request, build)


@router.get("/console/invoices/{month}")
def invoice(request: Request, month: str) -> Response:
    """A month's invoice: every line with its clause and reason, totals, due date."""

    def build() -> Response:
        backend = backend_of(request)
        current = clock_view(backend).month
        pricer = billing_view.pricer_of(request.app.state, backend.store)
        bill = billing_view.invoice_of(pricer, _month(month))
        pages = max(1, -(-len(bill.lines) // INVOICE_PAGE))
        number = _int(request.query_params.get("page"), 1, 1, pages)
        shown = bill.lines[(number - 1) * INVOICE_PAGE : number * INVOICE_PAGE]
        with backend.store.transaction() as db:
            names = names_by_iccid(db, [line.subject for line in shown])
            gateways = queries.gateway_names(
                db, [line.subject for line in shown if line.item in ("gateway", "option_dns")]
            )
        return render(
            request,
            "invoice.html",
            title=f"Invoice {month}",
            nav="invoices",
            bill=bill,
            month=month,
            current=current,
            months=billing_view.months_with_books(pricer, current),
            names=names,
            gateways=gateways,
            lines=shown,
            page=number,
            pages=pages,
        )

    return page(request, build)


@router.get("/console/alerts")
def alerts(request: Request) -> Response:
    """Line maintenance alerts (001 §37): silent SIMs and the month their fee arises."""

    def build() -> Response:
        backend = backend_of(request)
        current = clock_view(backend).month
        horizon = _int(request.query_params.get("months"), billing_view.DEFAULT_HORIZON, 1, 13)
        pricer = billing_view.pricer_of(request.app.state, backend.store)
        rows = billing_view.alerts(pricer, current, horizon)
        pages = max(1, -(-len(rows) // ALERT_PAGE))
        number = _int(request.query_params.get("page"), 1, 1, pages)
        shown = rows[(number - 1) * ALERT_PAGE : number * ALERT_PAGE]
        with backend.store.transaction() as db:
            names = names_by_iccid(db, sorted({row.iccid for row in shown}))
        return render(
            request,
            "alerts.html",
            title="Line maintenance alerts",
            nav="alerts",
            rows=shown,
            total=len(rows),
            names=names,
            horizon=horizon,
            page=number,
            pages=pages,
            first=(number - 1) * ALERT_PAGE + 1,
        )

    return page(request, build)


ALERT_PAGE = 100
INVOICE_PAGE = 200


def _int(text: str | None, default: int, low: int, high: int) -> int:
    """A whole number from a query parameter, clamped; the default when it is not one."""
    if not text or not text.isdigit():
        return default
    return max(low, min(int(text), high))
