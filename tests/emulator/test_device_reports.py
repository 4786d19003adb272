"""The device-report aggregate without MQTT: exactly once by (iccid, seq), bad input
changes nothing, state and status teach the emulator the card's lock state."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.backend import Backend
from emulator.errors import NotFound
from emulator.models.device_messages import Incoming, Verdict
from simgate_common import wire
from simgate_common.wire import ErrorReport, StateReport, UsageReport

from .conftest import register


def usage(iccid: str, seq: int, *, up: int = 100, down: int = 200) -> Incoming:
    report = UsageReport(
        seq, iccid, None, "2026-03-10T00:00:00Z", "2026-03-10T00:05:00Z", up, down, "modem"
    )
    return Incoming(wire.usage_topic(iccid), report.to_json())


def state(
    iccid: str, seq: int, sim: dict[str, object], at: str = "2026-03-10T00:00:00Z"
) -> Incoming:
    report = StateReport(seq, at, sim, {}, {})
    return Incoming(wire.state_topic(iccid), report.to_json(), retain=True)


def snapshot(
    backend: Backend,
) -> tuple[list[str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Everything ingest may write: events, stored reports, device state."""
    with backend.store.transaction() as db:
        reports = [tuple(r) for r in db.all("SELECT * FROM device_reports ORDER BY iccid, seq")]
        states = [tuple(r) for r in db.all("SELECT * FROM device_state ORDER BY iccid")]
    return backend.events.lines(), reports, states


def test_rule3_each_iccid_seq_is_stored_once(backend: Backend) -> None:
    sim = register(backend)
    first = backend.devices.ingest([usage(sim.iccid, 1), usage(sim.iccid, 2), usage(sim.iccid, 1)])
    assert [o.verdict for o in first] == [Verdict.STORED, Verdict.STORED, Verdict.DUPLICATE]
    again = backend.devices.ingest([usage(sim.iccid, 2)])
    assert again[0].verdict is Verdict.DUPLICATE
    assert again[0].error is None
    assert [r["seq"] for r in backend.devices.reports(sim.iccid)] == [1, 2]
    kinds = [json.loads(line)["type"] for line in backend.events.lines()]
    assert kinds.count("device_usage") == 2


def test_device_usage_event_is_stamped_at_the_report_end(backend: Backend) -> None:
    sim = register(backend)
    backend.devices.ingest([usage(sim.iccid, 7, up=5, down=6)])
    event = next(json.loads(x) for x in backend.events.lines() if "device_usage" in x)
    assert event == {
        "at": "2026-03-10T00:05:00+00:00",
        "type": "device_usage",
        "iccid": sim.iccid,
        "up": 5,
        "down": 6,
        "seq": 7,
        "start": "2026-03-10T00:00:00Z",
        "end": "2026-03-10T00:05:00Z",
    }


def test_repeat_with_other_content_is_ignored_and_reported(backend: Backend) -> None:
    sim = register(backend)
    backend.devices.ingest([usage(sim.iccid, 1, up=1)])
    (outcome,) = backend.devices.ingest([usage(sim.iccid, 1, up=999)])
    assert outcome.verdict is Verdict.DUPLICATE
    assert outcome.error is not None
    assert "other content" in outcome.error.error
    assert backend.devices.reports(sim.iccid)[0]["up"] == 1


@pytest.mark.parametrize(
    ("payload", "field", "seq"),
    [
        (b"{not json", "payload", None),
        (b"[1, 2]", "payload", None),
        (b"\xff\xfe", "payload", None),
        (b'{"seq": 3}', "iccid", 3),
        (b"x" * (wire.MAX_PAYLOAD + 1), "payload", None),
    ],
    ids=["malformed", "array", "not-utf8", "missing-fields", "oversized"],
)
def test_rule4_bad_usage_payloads_change_nothing(
    backend: Backend, payload: bytes, field: str, seq: int | None
) -> None:
    sim = register(backend)
    before = snapshot(backend)
    (outcome,) = backend.devices.ingest([Incoming(wire.usage_topic(sim.iccid), payload)])
    assert outcome.verdict is Verdict.REJECTED
    assert outcome.error is not None
    assert outcome.error.error.startswith(field)
    assert outcome.error.seq == seq
    assert outcome.error_topic == wire.errors_topic(sim.iccid)
    assert snapshot(backend) == before


def test_rule4_wrong_types_are_named(backend: Backend) -> None:
    sim = register(backend)
    good = json.loads(usage(sim.iccid, 4).payload)
    for key, value in [("up", "12"), ("down", True), ("seq", 0), ("end", "yesterday")]:
        doc = {**good, key: value}
        (outcome,) = backend.devices.ingest(
            [Incoming(wire.usage_topic(sim.iccid), json.dumps(doc).encode())]
        )
        assert outcome.verdict is Verdict.REJECTED
        assert outcome.error is not None
        assert outcome.error.error.startswith(key), outcome
    assert backend.devices.reports(sim.iccid) == []


def test_rule4_foreign_payload_is_rejected(backend: Backend) -> None:
    mine, other = register(backend), register(backend)
    foreign = usage(other.iccid, 1)
    (outcome,) = backend.devices.ingest([Incoming(wire.usage_topic(mine.iccid), foreign.payload)])
    assert outcome.verdict is Verdict.REJECTED
    assert outcome.error == ErrorReport(
        wire.usage_topic(mine.iccid),
        1,
        f"iccid: {other.iccid} is not the topic's ICCID {mine.iccid} (a foreign report)",
    )
    assert backend.devices.reports(mine.iccid) == []
    assert backend.devices.reports(other.iccid) == []


def test_rule4_unknown_and_deleted_sims_are_rejected(backend: Backend) -> None:
    sim = register(backend)
    backend.devices.ingest([usage(sim.iccid, 1)])
    backend.sims.delete(sim.id)
    before = snapshot(backend)
    (outcome,) = backend.devices.ingest([usage(sim.iccid, 2)])
    assert outcome.verdict is Verdict.REJECTED
    assert outcome.error is not None
    assert "no registered SIM" in outcome.error.error
    unknown = "8981000000000000999"
    (other,) = backend.devices.ingest([usage(unknown, 1)])
    assert other.verdict is Verdict.REJECTED
    assert snapshot(backend) == before
    assert [r["seq"] for r in backend.devices.reports(sim.iccid)] == [1]  # kept
    with pytest.raises(NotFound):
        backend.devices.reports(unknown)


def test_one_bad_message_does_not_spoil_its_batch(backend: Backend) -> None:
    sim = register(backend)
    batch = [usage(sim.iccid, 1), Incoming(wire.usage_topic(sim.iccid), b"{"), usage(sim.iccid, 2)]
    verdicts = [o.verdict for o in backend.devices.ingest(batch)]
    assert verdicts == [Verdict.STORED, Verdict.REJECTED, Verdict.STORED]
    assert [r["seq"] for r in backend.devices.reports(sim.iccid)] == [1, 2]


def test_other_topics_are_ignored(backend: Backend) -> None:
    sim = register(backend)
    outcomes = backend.devices.ingest(
        [
            Incoming("somewhere/else", b"{}"),
            Incoming(wire.commands_topic(sim.iccid), b"{}"),
            Incoming(wire.errors_topic(sim.iccid), b"{}"),
            Incoming(wire.state_topic(sim.iccid), b"", retain=True),  # a retained clear
        ]
    )
    assert {o.verdict for o in outcomes} == {Verdict.IGNORED}


def test_sec1_2_lock_state_comes_from_device_reports(backend: Backend) -> None:
    sim = register(backend)
    puk = {"state": "SIM PUK", "pin_retries": 0, "puk_retries": 10, "iccid": sim.iccid}
    (outcome,) = backend.devices.ingest([state(sim.iccid, 1, puk)])
    assert outcome.verdict is Verdict.STORED
    view = backend.devices.view(sim.iccid)
    assert (view.sim_state, view.pin_retries, view.puk_retries) == ("SIM PUK", 0, 10)
    assert view.state is not None
    assert view.state["sim"]["state"] == "SIM PUK"
    # the retained copy delivered again, and an older report, change nothing
    assert backend.devices.ingest([state(sim.iccid, 1, puk)])[0].verdict is Verdict.DUPLICATE
    old = state(sim.iccid, 1, {"state": "READY"}, at="2026-03-09T00:00:00Z")
    assert backend.devices.ingest([old])[0].verdict is Verdict.DUPLICATE
    blocked = {"state": "BLOCKED", "pin_retries": 0, "puk_retries": 0}
    backend.devices.ingest([state(sim.iccid, 2, blocked, at="2026-03-10T01:00:00Z")])
    assert backend.devices.view(sim.iccid).sim_state == "BLOCKED"
    log = [(e.status, e.reason) for e in backend.sims.session_log(sim.id)]
    assert log[:2] == [
        ("SIM_STATE", "device reports BLOCKED (PIN tries left 0, PUK tries left 0)"),
        ("SIM_STATE", "device reports SIM PUK (PIN tries left 0, PUK tries left 10)"),
    ]


@pytest.mark.parametrize(
    "sim_doc",
    [{"state": 5}, {"pin_retries": "3"}, {"pin_enabled": "yes"}, {"iccid": "8981000000000000999"}],
    ids=["state-type", "retries-type", "enabled-type", "foreign-card"],
)
def test_rule4_bad_state_reports_change_nothing(
    backend: Backend, sim_doc: dict[str, object]
) -> None:
    sim = register(backend)
    backend.devices.ingest([state(sim.iccid, 1, {"state": "READY"})])
    before = snapshot(backend)
    (outcome,) = backend.devices.ingest([state(sim.iccid, 2, sim_doc, at="2026-03-11T00:00:00Z")])
    assert outcome.verdict is Verdict.REJECTED
    assert outcome.error is not None
    assert outcome.error.error.startswith("sim.")
    assert outcome.error.seq == 2
    assert snapshot(backend) == before


def test_status_online_offline_goes_to_the_session_log(backend: Backend) -> None:
    sim = register(backend)
    topic = wire.status_topic(sim.iccid)
    verdicts = backend.devices.ingest(
        [
            Incoming(topic, wire.ONLINE, retain=True),
            Incoming(topic, wire.ONLINE, retain=True),
            Incoming(topic, wire.OFFLINE, retain=True),
            Incoming(topic, b'"maybe"', retain=True),
        ]
    )
    assert [o.verdict for o in verdicts] == [
        Verdict.STORED,
        Verdict.DUPLICATE,
        Verdict.STORED,
        Verdict.REJECTED,
    ]
    assert backend.devices.view(sim.iccid).online is False
    statuses = [e.status for e in backend.sims.session_log(sim.id)]
    assert statuses == ["DEVICE_OFFLINE", "DEVICE_ONLINE"]


def test_reset_forgets_reports(backend: Backend) -> None:
    sim = register(backend)
    backend.devices.ingest([usage(sim.iccid, 1)])
    backend.reset()
    with pytest.raises(NotFound):
        backend.devices.reports(sim.iccid)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.integers(min_value=1, max_value=40), max_size=15), min_size=1, max_size=8
    )
)
def test_rule3_any_repeats_in_any_batches_store_each_seq_once(
    backend: Backend, batches: list[list[int]]
) -> None:
    backend.reset()
    backend.clock.set(backend.clock.now(), frozen=True)
    sim = register(backend)
    for batch in batches:
        backend.devices.ingest([usage(sim.iccid, seq, up=seq) for seq in batch])
    wanted = sorted({seq for batch in batches for seq in batch})
    stored = backend.devices.reports(sim.iccid)
    assert [r["seq"] for r in stored] == wanted
    assert all(r["up"] == r["seq"] for r in stored)
    lines = [json.loads(x) for x in backend.events.lines()]
    assert sorted(x["seq"] for x in lines if x["type"] == "device_usage") == wanted


def test_rule3_a_batch_costs_the_same_statements_whatever_its_size(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch inserts: a batch of usage reports is decided with two lookups and written
    with one `executemany` per table, not with statements per report."""
    sims = [register(backend) for _ in range(40)]
    engine = backend.store._engine
    statements: list[str] = []
    for name in ("execute", "execute_many"):
        original = getattr(engine, name)

        def counted(sql: str, params: object, original: object = original) -> object:
            statements.append(sql)
            return original(sql, params)  # type: ignore[operator]

        monkeypatch.setattr(engine, name, counted)
    counts = []
    for size, seq in ((4, 1), (40, 2)):
        statements.clear()
        batch = [usage(sim.iccid, seq) for sim in sims[:size]]
        outcomes = backend.devices.ingest([*batch, batch[0], usage(sims[0].iccid, seq + 100)])
        assert [o.verdict for o in outcomes][-2:] == [Verdict.DUPLICATE, Verdict.STORED]
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 5, statements  # (the clock,) SIMs, stored keys, reports, events
    assert len(backend.devices.reports(sims[0].iccid)) == 4


@pytest.mark.parametrize(
    "end",
    ["2026-03-10T00:05:00Z", "2026-03-10T09:05:00+09:00", "2026-03-10T00:05:00.25Z"],
)
def test_device_usage_event_time_is_the_end_in_utc_whatever_its_form(
    backend: Backend, end: str
) -> None:
    sim = register(backend)
    report = UsageReport(1, sim.iccid, None, "2026-03-10T00:00:00Z", end, 1, 2, "modem")
    backend.devices.ingest([Incoming(wire.usage_topic(sim.iccid), report.to_json())])
    event = next(json.loads(x) for x in backend.events.lines() if "device_usage" in x)
    assert event["at"] == wire.parse_time(end).isoformat()
