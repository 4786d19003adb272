"""Several emulator processes on one PostgreSQL database (API workers, ingest workers):
each `Backend` here has its own connection, as a process would, and they must agree on
the virtual clock, the counters the bill is made of, and each report's fate."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from emulator.backend import Backend
from emulator.ingest_worker import LockingSink
from emulator.models.device_messages import Incoming, Verdict
from simgate_common import wire
from simgate_common.wire import StateReport, UsageReport

from .conftest import IMEI, START, usable


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[Backend, Backend]]:
    """Two backends (two connections) on one fresh PostgreSQL schema."""
    first = Backend(postgres_url)
    first.clock.set(START, frozen=True)
    second = Backend(postgres_url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def together(*jobs: Callable[[], None]) -> None:
    """Run the jobs on threads at once; re-raise the first failure."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        try:
            barrier.wait(10)
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_sec0_one_clock_for_every_worker(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    assert b.clock.now() == START  # set by the other worker
    assert b.clock.frozen

    def advance(backend: Backend) -> Callable[[], None]:
        def run() -> None:
            for _ in range(20):
                backend.clock.advance(60)

        return run

    together(advance(a), advance(b))
    assert a.clock.now() == b.clock.now() == START + timedelta(minutes=40)  # none lost
    b.clock.set(START + timedelta(days=1))  # running again, from the other side
    assert not a.clock.frozen
    assert a.clock.now() - b.clock.now() < timedelta(seconds=1)
    assert a.clock.now() >= START + timedelta(days=1)


def test_concurrent_traffic_from_two_workers_is_never_lost(
    pair: tuple[Backend, Backend],
) -> None:
    a, b = pair
    s = usable(a)
    a.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    a.network.session(s.sim.iccid, True)

    def report(backend: Backend) -> Callable[[], None]:
        def run() -> None:
            for _ in range(30):
                assert backend.network.traffic(s.sim.iccid, 1, 2).accepted

        return run

    together(report(a), report(b), report(a), report(b))
    status = b.sims.status(s.sim.id)
    assert (status.traffic.up, status.traffic.down) == (120, 240)
    assert status.sim.session_bytes == 360
    assert sum(1 for e in a.events.iter_dicts() if e["type"] == "traffic") == 120


def test_rule3_two_workers_ingesting_the_same_reports_store_each_once(
    pair: tuple[Backend, Backend],
) -> None:
    a, b = pair
    s = usable(a)
    iccid = s.sim.iccid
    usage = [
        Incoming(
            wire.usage_topic(iccid),
            UsageReport(
                seq, iccid, None, "2026-03-10T00:00:00Z", "2026-03-10T00:05:00Z", 1, 2, "modem"
            ).to_json(),
        )
        for seq in range(1, 101)
    ]
    states = [
        Incoming(
            wire.state_topic(iccid),
            StateReport(
                seq, f"2026-03-10T00:00:{seq:02d}Z", {"state": f"s{seq}"}, {}, {}
            ).to_json(),
            retain=True,
        )
        for seq in range(1, 41)
    ]
    verdicts: dict[str, list[Verdict]] = {"a": [], "b": []}

    def worker(name: str, backend: Backend, order: int) -> Callable[[], None]:
        sink = LockingSink(backend.store, backend.devices)
        messages = usage[::order] + states[::order]

        def run() -> None:
            for start in range(0, len(messages), 7):
                verdicts[name] += [o.verdict for o in sink.ingest(messages[start : start + 7])]

        return run

    together(worker("a", a, 1), worker("b", b, -1))  # same messages, opposite orders
    stored = [v for v in verdicts["a"] + verdicts["b"] if v is Verdict.STORED]
    assert len(a.devices.reports(iccid)) == 100
    billed = [e for e in b.events.iter_dicts() if e["type"] == "device_usage"]
    assert len(billed) == 100
    assert len({e["seq"] for e in billed}) == 100
    assert a.devices.view(iccid).state_seq == 40  # the newest state wins whatever the order
    assert len(stored) >= 100


def test_rule3_a_reader_following_the_event_log_misses_nothing_while_workers_ingest(
    pair: tuple[Backend, Backend], postgres_url: str
) -> None:
    """The event log is read by cursor (`after=seq`, as `GET /_emulator/events` does): a
    later event must never be visible before an earlier one is, or the reader skips it."""
    a, b = pair
    sims = [usable(a).sim.iccid for _ in range(4)]
    done = threading.Event()
    seen: list[str] = []
    reader = Backend(postgres_url)

    def follow() -> None:
        after = 0
        while True:
            finished = done.is_set()
            with reader.store.transaction() as db:
                rows = db.all("SELECT seq, line FROM events WHERE seq > ? ORDER BY seq", (after,))
            for row in rows:
                seen.append(str(row["line"]))
                after = int(row["seq"])
            if finished:
                return

    def worker(backend: Backend, iccids: list[str]) -> Callable[[], None]:
        sink = LockingSink(backend.store, backend.devices)

        def run() -> None:
            for seq in range(1, 61):
                batch = [
                    Incoming(
                        wire.usage_topic(iccid),
                        UsageReport(
                            seq,
                            iccid,
                            None,
                            "2026-03-10T00:00:00Z",
                            "2026-03-10T00:05:00Z",
                            1,
                            2,
                            "modem",
                        ).to_json(),
                    )
                    for iccid in iccids
                ]
                sink.ingest(batch)

        return run

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        together(worker(a, sims[:2]), worker(b, sims[2:]))
    finally:
        done.set()
        follower.join(30)
        reader.close()
    assert seen == a.events.lines()  # every event, in order, none skipped
