"""The daemon end to end, in-process: a stub on a real pty behind a symlink, a real
mosquitto that checks tokens, a real SQLite outbox, a sysfs tree written by the test."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from agent.daemon.supervisor import Daemon
from simgate_common import wire
from tests.agent.conftest import ICCID, PIN
from tests.agent.daemon.conftest import APN, CLOUD_PASSWORD, TOKEN, Rig, running
from tests.agent.reporting.helpers import Collector, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def cloud(rig: Rig) -> Collector:
    """The cloud's subscriber, with a broker session that survives broker restarts."""
    return Collector(rig.broker.port, username="cloud", password=CLOUD_PASSWORD, persistent=True)


def states(collector: Collector) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in collector.on("state")]


def usage(collector: Collector) -> list[dict[str, Any]]:
    """Usage records by seq (the cloud's deduplication), in seq order."""
    by_seq = {seq: json.loads(p) for seq, p in collector.usage_payloads().items()}
    return [by_seq[seq] for seq in sorted(by_seq)]


def up_and_connected(collector: Collector) -> bool:
    found = states(collector)
    if not found:
        return False
    last = found[-1]
    return (
        last["sim"]["state"] == "READY"
        and last["net"]["registration"] == "home"
        and last["internet"]["active"] is True
    )


def connected(daemon: Daemon) -> bool:
    return daemon.state.sim.get("state") == "READY" and daemon.state.internet["active"] is True


async def test_unlocks_connects_meters_and_reports(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub = rig.stub()
    rig.sysfs.set("wwan0", tx=1000, rx=5000)
    daemon = rig.daemon()
    expected = [(1000, 5000)]
    async with cloud(rig) as collector:
        async with running(daemon):
            await wait_until(lambda: up_and_connected(collector), 10, "READY and connected")
            await wait_until(lambda: len(usage(collector)) == 1, 5, "the first record")
            tx, rx = 1000, 5000
            for step in range(1, 4):
                tx, rx = tx + 300 * step, rx + 7000 * step
                expected.append((300 * step, 7000 * step))
                rig.sysfs.set("wwan0", tx=tx, rx=rx)
                await wait_until(lambda: len(usage(collector)) == len(expected), 5, "a record")
        await wait_until(lambda: collector.statuses()[-1:] == [wire.OFFLINE], 5, "offline")
    records = usage(collector)
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert [(r["up"], r["down"]) for r in records] == expected
    assert {r["source"] for r in records} == {"os:wwan0"}
    assert {r["iccid"] for r in records} == {ICCID}
    assert all(r["imei"] and r["start"] <= r["end"] for r in records)
    assert [r["start"] for r in records[1:]] == [r["end"] for r in records[:-1]]
    assert stub.card.pin_retries == 3
    # A newcomer gets the retained state: the last one, READY, registered, connected.
    async with cloud(rig) as newcomer:
        await wait_until(lambda: bool(newcomer.on("state")), 5, "the retained state")
    retained = newcomer.on("state")[-1]
    assert retained.retain
    state = json.loads(retained.payload)
    assert state["sim"]["state"] == "READY"
    assert state["sim"]["iccid"] == ICCID
    assert state["net"]["registration"] == "home"
    assert state["internet"]["active"] is True
    assert state["internet"]["apn"] == APN
    assert newcomer.statuses() == [wire.OFFLINE]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert PIN not in text
    assert TOKEN not in text


async def test_a_card_with_one_try_left_gets_no_pin(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.bench.write_card(pin_retries=1)
    stub = rig.stub()
    daemon = rig.daemon()
    async with cloud(rig) as collector, running(daemon):
        await wait_until(lambda: bool(states(collector)), 10, "a state report")
        await wait_until(lambda: daemon.power_ups == 1 and daemon.state.reports >= 1, 5, "a check")
        stub.reboot()  # a new power-up: still nothing may be sent
        await wait_until(lambda: daemon.power_ups == 2, 5, "the restart")
        await asyncio.sleep(0.6)  # a few checks (every 0.2 s) after the restart
    state = states(collector)[-1]
    assert state["sim"]["state"] == "SIM PIN"
    assert state["sim"]["pin_retries"] == 1
    assert state["internet"]["active"] is False
    assert stub.card.pin_retries == 1  # the last try is left for a person
    assert daemon.sim_keeper.unlocks == 0
    assert daemon.sim_keeper.attempts == 1
    refusals = [r for r in caplog.records if "tries left is 1" in r.getMessage()]
    assert refusals
    assert refusals[0].levelno == logging.ERROR
    assert len(refusals) == 1  # logged once, not on every check or restart


async def test_a_wrong_pin_spends_one_try_and_is_never_sent_again(rig: Rig) -> None:
    (rig.tmp / "pin").write_text("1111\n")
    stub = rig.stub()
    daemon = rig.daemon()
    async with cloud(rig) as collector, running(daemon):
        await wait_until(lambda: stub.card.pin_retries == 2, 10, "the wrong PIN's try")
        await wait_until(lambda: bool(states(collector)), 5, "a state report")
        stub.reboot()
        await wait_until(lambda: daemon.power_ups == 2, 5, "the restart")
        await asyncio.sleep(0.6)  # a few checks (every 0.2 s) after the restart
    assert stub.card.pin_retries == 2
    assert daemon.sim_keeper.attempts == 1
    assert states(collector)[-1]["sim"]["pin_retries"] == 2
    # A restarted daemon remembers the failure (failed-pins.json): still nothing sent.
    again = rig.daemon()
    async with running(again):
        await wait_until(lambda: again.sim_keeper.attempts == 1, 10, "a look at the card")
        await wait_until(lambda: again.state.sim.get("state") == "SIM PIN", 5, "a check")
    assert stub.card.pin_retries == 2
    assert again.sim_keeper.unlocks == 0


async def test_a_modem_restart_mid_run_is_unlocked_and_reconnected(rig: Rig) -> None:
    stub = rig.stub()
    daemon = rig.daemon()
    async with running(daemon):
        await wait_until(lambda: connected(daemon), 10, "READY and connected")
        assert (daemon.power_ups, daemon.connection.connects, daemon.sim_keeper.unlocks) == (
            1,
            1,
            1,
        )
        stub.reboot()  # the card wants its PIN again; the contexts are gone
        await wait_until(lambda: daemon.connection.connects == 2, 10, "a new connection")
        await wait_until(lambda: connected(daemon), 5, "READY and connected again")
    assert daemon.power_ups == 2
    assert daemon.sim_keeper.unlocks == 2
    assert daemon.sessions == 1  # the port stayed open
    assert stub.card.pin_retries == 3


async def test_the_port_vanishing_and_coming_back(rig: Rig) -> None:
    first = rig.stub()
    daemon = rig.daemon()
    async with cloud(rig) as collector, running(daemon):
        await wait_until(lambda: connected(daemon), 10, "READY and connected")
        rig.sysfs.set("wwan0", tx=10, rx=20)
        await wait_until(lambda: len(usage(collector)) == 1, 5, "a record")
        first.stop()  # USB re-enumeration: the tty is gone...
        await wait_until(lambda: not daemon.state.modem_present, 5, "the loss noticed")
        assert daemon.state.net["registration"] == "unknown"
        rig.sysfs.set("wwan0", tx=30, rx=60)  # metering goes on without the modem
        await wait_until(lambda: len(usage(collector)) == 2, 5, "a record meanwhile")
        rig.stub()  # ...and back, on another pty behind the same path
        await wait_until(lambda: daemon.sessions == 2 and connected(daemon), 10, "recovery")
        await wait_until(lambda: up_and_connected(collector), 5, "the state reported")
    assert [(r["up"], r["down"]) for r in usage(collector)] == [(10, 20), (20, 40)]
    assert daemon.sim_keeper.unlocks == 2


async def test_a_broker_outage_loses_and_repeats_nothing(rig: Rig) -> None:
    rig.stub()
    daemon = rig.daemon()
    tx = rx = 0

    async def bump() -> None:
        nonlocal tx, rx
        tx, rx = tx + 111, rx + 999
        rig.sysfs.set("wwan0", tx=tx, rx=rx)
        before = daemon.metering.records
        await wait_until(lambda: daemon.metering.records == before + 1, 5, "a record")

    async with cloud(rig) as collector, running(daemon):
        await wait_until(lambda: connected(daemon), 10, "READY and connected")
        for _ in range(3):
            await bump()
        await wait_until(lambda: len(usage(collector)) == 3, 5, "3 records delivered")
        rig.broker.stop()
        for _ in range(4):
            await bump()
        reporter = daemon.hub.reporter
        assert reporter is not None
        assert reporter.outbox.count() == 4
        rig.broker.start()
        await wait_until(lambda: reporter.outbox.count() == 0, 10, "the outbox drained")
        await wait_until(lambda: len(usage(collector)) == 7, 10, "every record")
    seen = collector.usage_seqs()
    assert sorted(set(seen)) == list(range(1, 8))  # no gaps
    payloads: dict[int, set[bytes]] = {}
    for received in collector.on("usage"):
        payloads.setdefault(json.loads(received.payload)["seq"], set()).add(received.payload)
    assert all(len(p) == 1 for p in payloads.values())  # a repeat is the same record
    records = usage(collector)
    assert (sum(r["up"] for r in records), sum(r["down"] for r in records)) == (tx, rx)
    assert reporter.connects >= 2


async def test_commands_turn_the_internet_off_and_on_and_report_now(rig: Rig) -> None:
    import aiomqtt

    from simgate_common.wire import Command, Op

    rig.stub()
    daemon = rig.daemon(rig.config(usage={"interval_s": 60.0}))
    topic = wire.commands_topic(ICCID)
    async with cloud(rig) as collector, running(daemon):
        await wait_until(lambda: up_and_connected(collector), 10, "READY and connected")
        async with aiomqtt.Client(
            rig.broker.host, rig.broker.port, username="cloud", password=CLOUD_PASSWORD
        ) as client:
            await client.publish(topic, Command("c1", Op.INTERNET_OFF).to_json(), qos=1)
            await wait_until(
                lambda: states(collector)[-1]["internet"]["active"] is False, 5, "internet off"
            )
            rig.sysfs.set("wwan0", tx=5, rx=6)
            await client.publish(topic, Command("c2", Op.REPORT_NOW).to_json(), qos=1)
            await wait_until(lambda: len(usage(collector)) == 1, 5, "a record on report_now")
            await client.publish(topic, Command("c3", Op.INTERNET_ON).to_json(), qos=1)
            await wait_until(lambda: up_and_connected(collector), 5, "internet on again")
    assert [(r["up"], r["down"]) for r in usage(collector)] == [(5, 6)]
    assert daemon.connection.connects == 2
