"""Properties of the engine over random logs (hypothesis)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.billing import Books, Event, Invoice, Pricer, make_event
from emulator.billing.months import parse_month
from tests.billing.builders import tariff

START = datetime(2025, 11, 1, tzinfo=UTC)
JST = timezone(timedelta(hours=9))
SPAN_HOURS = 24 * 30 * 20
ICCIDS = ("89810001", "89810002", "89810003")
MONTHS = [f"{y}-{m:02d}" for y in (2025, 2026, 2027) for m in range(1, 13)][10:30]
TARIFFS = [tariff(), tariff({"month_boundary_grace": "09:00"})]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stamp(hours: int, offset: bool) -> str:
    """An instant, written with +09:00 or Z."""
    moment = START + timedelta(hours=hours, minutes=hours % 7 * 8)
    if offset:
        return moment.astimezone(JST).isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


instants = st.tuples(st.integers(0, SPAN_HOURS), st.booleans()).map(lambda t: stamp(*t))


@st.composite
def logs(draw: st.DrawFn) -> list[Event]:
    """A random but plausible log: SIMs, gateways, options, traffic, SMS, payments."""
    events: list[Event] = []
    for iccid in draw(st.lists(st.sampled_from(ICCIDS), unique=True, min_size=1)):
        for moment in sorted(draw(st.lists(instants, max_size=4))):
            kind = "sim_registered" if len(events) % 2 == 0 else "sim_deleted"
            events.append(make_event(kind, moment, iccid=iccid))
        for moment in draw(st.lists(instants, max_size=6)):
            up, down = draw(st.integers(0, 5_000_000)), draw(st.integers(0, 5_000_000))
            events.append(make_event("traffic", moment, iccid=iccid, up=up, down=down))
        if draw(st.booleans()):
            events.append(make_event("option_set", draw(instants), option="ip", subject=iccid))
    for moment in draw(st.lists(instants, max_size=2)):
        events.append(make_event("gateway_created", moment, gateway="g1"))
    for moment in draw(st.lists(instants, max_size=2)):
        events.append(make_event("gateway_deleted", moment, gateway="g1"))
    for moment in draw(st.lists(instants, max_size=3)):
        events.append(make_event("sms_sent", moment, kind="a2p", delivered=draw(st.booleans())))
    for moment in draw(st.lists(instants, max_size=2)):
        month, amount = draw(st.sampled_from(MONTHS)), draw(st.integers(0, 20_000))
        events.append(make_event("payment", moment, invoice_month=month, amount=amount))
    for moment in draw(st.lists(instants, max_size=2)):
        subject = draw(st.sampled_from(["g1", "account", *ICCIDS]))
        hours = draw(st.integers(0, 24 * 40))
        events.append(make_event("outage", moment, subject=subject, hours=hours))
    return events


def invoices(events: list[Event], which: int) -> list[Invoice]:
    """Every month of the span, priced."""
    pricer = Pricer(Books(TARIFFS[which]).add_all(events))
    return [pricer.invoice(parse_month(month)) for month in MONTHS]


@SETTINGS
@given(logs(), st.randoms(use_true_random=False), st.integers(0, 1))
def test_property_shuffling_the_log_changes_nothing(
    events: list[Event], rng: random.Random, which: int
) -> None:
    shuffled = list(events)
    rng.shuffle(shuffled)
    before = [inv.to_json() for inv in invoices(events, which)]
    assert [inv.to_json() for inv in invoices(shuffled, which)] == before


@SETTINGS
@given(logs(), st.integers(2, 5), st.integers(0, 1))
def test_property_splitting_traffic_into_more_events_changes_no_amount(
    events: list[Event], parts: int, which: int
) -> None:
    split: list[Event] = []
    for event in events:
        if event.type != "traffic":
            split.append(event)
            continue
        up, down = event.fields["up"], event.fields["down"]
        for i in range(parts):
            piece_up = up // parts + (up % parts if i == 0 else 0)
            piece_down = down // parts + (down % parts if i == 0 else 0)
            split.append(
                Event(event.at, "traffic", {**event.fields, "up": piece_up, "down": piece_down})
            )
    for one, many in zip(invoices(events, which), invoices(split, which), strict=True):
        assert [(x.item, x.subject, x.quantity, x.amount) for x in one.lines] == [
            (x.item, x.subject, x.quantity, x.amount) for x in many.lines
        ]
        assert one.total == many.total


@SETTINGS
@given(logs(), instants, st.integers(0, 11 * 30 * 24), st.integers(0, 1))
def test_property_silent_sim_deleted_within_12_months_adds_nothing(
    events: list[Event], registered: str, hours: int, which: int
) -> None:
    start = datetime.fromisoformat(registered)
    deleted = start + timedelta(hours=hours)
    extra = [
        make_event("sim_registered", start, iccid="89819999"),
        make_event("sim_deleted", deleted, iccid="89819999"),
    ]
    for one, more in zip(invoices(events, which), invoices(events + extra, which), strict=True):
        assert one.lines == more.lines
        assert one.total == more.total


@SETTINGS
@given(logs(), st.integers(0, 1))
def test_property_invoices_never_negative_except_credit_lines(
    events: list[Event], which: int
) -> None:
    for invoice in invoices(events, which):
        for line in invoice.lines:
            assert line.quantity > 0
            if line.item == "outage_credit":
                assert line.amount < 0
            else:
                assert line.amount >= 0
        assert invoice.subtotal >= 0
        assert invoice.tax >= 0
        assert invoice.total >= invoice.subtotal
