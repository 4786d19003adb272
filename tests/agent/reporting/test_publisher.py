"""The reporter against a real mosquitto: delivery, acks, outages, retained topics,
last will, commands and per-device access control. No MQTT mocks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from agent.reporting.backoff import Backoff
from agent.reporting.outbox import Outbox, OutboxError
from agent.reporting.publisher import Broker, Reporter
from agent.reporting.token import Token
from simgate_common import wire
from simgate_common.wire import Command, Op, StateReport, UsageReport
from tests.agent.reporting.helpers import (
    ICCID,
    IMEI,
    OTHER_ICCID,
    Collector,
    Received,
    append_records,
    wait_until,
)
from tests.mqtt_broker import DEVICE_ACL, Mosquitto, MosquittoFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(45)]
REPO = Path(__file__).resolve().parents[3]
FAST = Backoff(initial=0.05, maximum=0.5)
TOKEN = "device-token-5b2e7f"
OTHER_TOKEN = "device-token-91c0aa"
CLOUD_PASSWORD = "cloud-pw-0d1e"


def make_reporter(outbox: Outbox, broker: Mosquitto, **kwargs: Any) -> Reporter:
    kwargs.setdefault("token", None)
    kwargs.setdefault("backoff", FAST)
    kwargs.setdefault("timeout", 5.0)
    return Reporter(outbox, Broker(broker.host, broker.port, keepalive=5), **kwargs)


@contextlib.asynccontextmanager
async def running(reporter: Reporter) -> AsyncIterator[asyncio.Task[None]]:
    """Run the reporter for the block, then stop it and wait (bounded) for the end."""
    task = asyncio.create_task(reporter.run())
    try:
        yield task
    finally:
        await reporter.stop()
        await asyncio.wait_for(task, 10)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", ICCID)


async def test_records_are_published_then_deleted(mosquitto: Mosquitto, outbox: Outbox) -> None:
    written = append_records(outbox, 50)
    reporter = make_reporter(outbox, mosquitto)
    async with Collector(mosquitto.port) as cloud:
        async with running(reporter):
            await delivers_all(reporter, outbox, cloud, written)
        await wait_until(lambda: cloud.statuses()[-1:] == [wire.OFFLINE], 5, "offline on stop")
    assert cloud.statuses()[0] == wire.ONLINE


async def delivers_all(
    reporter: Reporter, outbox: Outbox, cloud: Collector, written: list[UsageReport]
) -> None:
    """The records arrive intact, then the outbox is empty; a later one follows."""
    await wait_until(lambda: len(cloud.usage_seqs()) >= 50, 10, "50 records")
    await wait_until(lambda: outbox.count() == 0, 5, "an empty outbox")
    assert cloud.usage_payloads() == {r.seq: r.to_json() for r in written}
    assert sorted(cloud.usage_seqs()) == list(range(1, 51))
    assert [UsageReport.from_json(p) for p in cloud.usage_payloads().values()] == written
    assert reporter.published == 50
    late = reporter.record(
        imei=IMEI, start="2026-01-01T00:05:00Z", end="2026-01-01T00:10:00Z", up=5, down=6,
        source="modem",
    )  # fmt: skip
    await wait_until(lambda: late.seq in cloud.usage_payloads(), 5, "a record made later")
    await wait_until(lambda: outbox.count() == 0, 5, "an empty outbox")


async def test_records_stay_until_the_broker_acknowledges(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    reporter = make_reporter(outbox, mosquitto)
    async with Collector(mosquitto.port) as cloud, running(reporter):
        await asyncio.wait_for(reporter.wait_connected(), 5)
        await wait_until(lambda: cloud.statuses() == [wire.ONLINE], 5, "online")
        mosquitto.pause()  # connections stay open; no PUBACK can come
        try:
            for report in append_records(outbox, 5):
                reporter.wake()
                assert report.seq >= 1
            await asyncio.sleep(0.5)
            assert outbox.count() == 5
            assert reporter.published == 0
        finally:
            mosquitto.resume()
        await wait_until(lambda: outbox.count() == 0, 5, "acks after the broker resumed")
        await wait_until(lambda: len(cloud.usage_payloads()) == 5, 5, "5 records")


async def test_broker_outage_loses_nothing_and_dedup_gives_exactly_the_metered_set(
    mosquitto_factory: MosquittoFactory, outbox: Outbox
) -> None:
    broker = mosquitto_factory(persistence=True)
    total = 400
    metered: dict[int, bytes] = {}
    reporter = make_reporter(outbox, broker)

    async def meter() -> None:
        for i in range(total):
            report = reporter.record(
                imei=IMEI, start="2026-01-01T00:00:00Z", end="2026-01-01T00:01:00Z",
                up=i, down=i * 3, source="modem",
            )  # fmt: skip
            metered[report.seq] = report.to_json()
            await asyncio.sleep(0.002)

    async with Collector(broker.port, persistent=True) as cloud, running(reporter):
        metering = asyncio.create_task(meter())
        try:
            await wait_until(lambda: len(cloud.usage_seqs()) >= 60, 10, "a first part")
            broker.stop()  # mid-stream: records keep being metered meanwhile
            await asyncio.sleep(0.3)
            assert outbox.count() > 0
            broker.start()
            await asyncio.wait_for(metering, 20)
        finally:
            metering.cancel()
        await wait_until(lambda: outbox.count() == 0, 15, "an empty outbox")
        await wait_until(lambda: len(cloud.usage_payloads()) == total, 15, "every record")
    seen = cloud.usage_seqs()
    assert set(seen) == set(range(1, total + 1))  # at least once
    assert cloud.usage_payloads() == metered  # deduplicated by seq: exactly the metered set
    assert reporter.connects >= 2
    assert cloud.connects >= 2


async def test_state_and_status_are_retained(mosquitto: Mosquitto, outbox: Outbox) -> None:
    reporter = make_reporter(outbox, mosquitto)
    sim = {"state": "READY", "iccid": ICCID}
    net = {"registration": "home"}
    internet = {"active": False}
    async with Collector(mosquitto.port, identifier="early") as early, running(reporter):
        first = reporter.report_state(sim, net, internet)
        second = reporter.report_state(sim, net, {"active": True})
        assert second.seq == first.seq + 1
        await wait_until(lambda: len(early.on("state")) >= 1, 5, "the state")
        # A subscriber arriving later gets the latest state and "online", retained.
        async with Collector(mosquitto.port, identifier="late") as late:
            await wait_until(lambda: len(late.on("state")) >= 1, 5, "retained state")
            await wait_until(lambda: len(late.on("status")) >= 1, 5, "retained status")
            state = late.on("state")[-1]
            assert state.retain
            assert StateReport.from_json(state.payload) == second
            assert late.on("status")[0] == Received(wire.status_topic(ICCID), wire.ONLINE, True)
    # A clean stop says "offline", retained too.
    async with Collector(mosquitto.port, identifier="later") as later:
        await wait_until(lambda: later.statuses() == [wire.OFFLINE], 5, "retained offline")
    # State numbers survive a restart of the reporter.
    again = make_reporter(outbox, mosquitto).report_state(sim, net, internet)
    assert again.seq == second.seq + 1


async def test_last_will_says_offline_when_the_agent_dies(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    written = append_records(outbox, 300)
    outbox.close()
    async with Collector(mosquitto.port) as cloud:
        agent = subprocess.Popen(  # noqa: ASYNC220 (started once; output read off-loop)
            [
                sys.executable,
                "-m",
                "tests.agent.reporting.agent_process",
                str(outbox.path),
                ICCID,
                str(mosquitto.port),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert agent.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(agent.stdout.readline), 10)
            assert line == "running\n"
            await wait_until(lambda: wire.ONLINE in cloud.statuses(), 5, "online")
        finally:
            os.kill(agent.pid, signal.SIGKILL)  # no DISCONNECT: the broker sends the will
            agent.wait(5)
            if agent.stdout is not None:
                agent.stdout.close()
        await wait_until(lambda: cloud.statuses()[-1:] == [wire.OFFLINE], 5, "the last will")
        # A new agent on the same outbox delivers whatever the dead one had not.
        with Outbox(outbox.path, ICCID) as reopened:
            async with running(make_reporter(reopened, mosquitto)):
                await wait_until(lambda: reopened.count() == 0, 10, "an empty outbox")
                await wait_until(lambda: len(cloud.usage_payloads()) == 300, 5, "all records")
    assert cloud.usage_payloads() == {r.seq: r.to_json() for r in written}


async def test_commands_reach_the_callback_once_and_in_order(
    mosquitto: Mosquitto, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "agent.reporting")
    obeyed: list[Command] = []

    async def obey(command: Command) -> None:
        obeyed.append(command)
        if command.id == "boom":
            raise RuntimeError("modem said no")

    reporter = make_reporter(outbox, mosquitto, on_command=obey)
    topic = wire.commands_topic(ICCID)
    async with running(reporter), aiomqtt.Client("127.0.0.1", mosquitto.port) as cloud:
        await asyncio.wait_for(reporter.wait_connected(), 5)
        await asyncio.sleep(0.1)  # the subscription is made right after CONNACK
        for payload in [
            b'{"id":"c1","op":"internet_on","apn":"sakura"}',
            b"{not json",
            b'{"id":"c2","op":"self_destruct"}',
            b'{"id":"c1","op":"internet_on","apn":"sakura"}',  # redelivered: taken once
            b'{"id":"boom","op":"internet_off"}',  # the callback fails: logged, carried on
            b'{"id":"c3","op":"internet_off"}',
        ]:
            await cloud.publish(topic, payload, qos=1)
        await wait_until(lambda: len(obeyed) == 3, 5, "three commands")
        assert [(c.id, c.op) for c in obeyed] == [
            ("c1", Op.INTERNET_ON),
            ("boom", Op.INTERNET_OFF),
            ("c3", Op.INTERNET_OFF),
        ]
        assert obeyed[0].extra == {"apn": "sakura"}
        assert "ignored a malformed command: payload: is not JSON" in caplog.text
        assert "op: must be one of" in caplog.text
        assert "command boom (internet_off) failed" in caplog.text

        # report_now makes the reporter send what sits in the outbox without a wake().
        async with Collector(mosquitto.port) as watcher:
            append_records(outbox, 3)
            await asyncio.sleep(0.2)
            assert outbox.count() == 3
            await cloud.publish(topic, Command("c4", Op.REPORT_NOW).to_json(), qos=1)
            await wait_until(lambda: outbox.count() == 0, 5, "a drain on report_now")
            await wait_until(lambda: len(watcher.usage_payloads()) == 3, 5, "3 records")
        assert obeyed[-1].op is Op.REPORT_NOW


def _auth_broker(factory: MosquittoFactory) -> Mosquitto:
    acl = DEVICE_ACL + "\nuser cloud\ntopic readwrite simgate/v1/devices/#\n"
    users = {ICCID: TOKEN, OTHER_ICCID: OTHER_TOKEN, "cloud": CLOUD_PASSWORD}
    return factory(users=users, acl=acl)


async def test_a_device_cannot_publish_under_another_root(
    mosquitto_factory: MosquittoFactory, outbox: Outbox
) -> None:
    broker = _auth_broker(mosquitto_factory)
    written = append_records(outbox, 5)
    reporter = make_reporter(outbox, broker, token=Token(TOKEN))
    async with (
        Collector(broker.port, username="cloud", password=CLOUD_PASSWORD) as cloud,
        running(reporter),
    ):
        await wait_until(lambda: outbox.count() == 0, 5, "an empty outbox")
        await wait_until(lambda: len(cloud.usage_payloads()) == 5, 5, "5 records")
        assert cloud.usage_payloads() == {r.seq: r.to_json() for r in written}
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username=ICCID, password=TOKEN, identifier="rogue"
        ) as rogue:
            forged = wire.usage_topic(OTHER_ICCID)
            await rogue.publish(forged, b'{"forged":true}', qos=1)
            await rogue.publish(wire.errors_topic(ICCID), b'{"marker":true}', qos=1)
            # Messages of one client arrive in order: once the marker is in, the forged
            # one would have been too, had the broker let it through.
            await wait_until(lambda: len(cloud.on("errors")) == 1, 5, "the marker")
        assert cloud.on("usage", OTHER_ICCID) == []


async def test_a_wrong_token_is_refused_and_never_logged(
    mosquitto_factory: MosquittoFactory, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = _auth_broker(mosquitto_factory)
    wrong = "wrong-token-77aa1d"
    with pytest.raises(aiomqtt.MqttError, match=r"authori[sz]ed|password"):
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username=ICCID, password=wrong, identifier="probe"
        ):
            pass
    append_records(outbox, 2)
    reporter = make_reporter(outbox, broker, token=Token(wrong))
    async with running(reporter):
        await wait_until(lambda: reporter.last_error is not None, 5, "a refusal")
        await asyncio.sleep(0.3)  # a few retries with backoff
        assert not reporter.connected
        assert reporter.connects == 0
    assert outbox.count() == 2
    assert "refused the credentials" in caplog.text
    assert wrong not in caplog.text
    assert wrong not in (reporter.last_error or "")
    assert wrong not in repr(reporter.__dict__)


async def test_cancelling_run_still_says_offline(mosquitto: Mosquitto, outbox: Outbox) -> None:
    reporter = make_reporter(outbox, mosquitto)
    async with Collector(mosquitto.port) as cloud:
        task = asyncio.create_task(reporter.run())
        await wait_until(lambda: cloud.statuses() == [wire.ONLINE], 5, "online")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await wait_until(lambda: cloud.statuses()[-1:] == [wire.OFFLINE], 5, "offline")


async def test_a_failing_outbox_ends_run_with_its_error(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    reporter = make_reporter(outbox, mosquitto)
    async with Collector(mosquitto.port) as cloud:
        task = asyncio.create_task(reporter.run())
        await wait_until(lambda: cloud.statuses() == [wire.ONLINE], 5, "online")
        outbox.close()  # as if the file became unreadable
        reporter.wake()
        with pytest.raises(OutboxError, match="cannot read outbox"):
            await asyncio.wait_for(task, 5)
        await wait_until(lambda: cloud.statuses()[-1:] == [wire.OFFLINE], 5, "offline")


async def test_records_written_by_another_process_are_found_by_polling(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    reporter = make_reporter(outbox, mosquitto, poll=0.1)
    async with Collector(mosquitto.port) as cloud, running(reporter):
        await asyncio.wait_for(reporter.wait_connected(), 5)
        with Outbox(outbox.path, ICCID) as elsewhere:
            written = append_records(elsewhere, 4)  # no wake(): only the poll finds them
        await wait_until(lambda: len(cloud.usage_payloads()) == 4, 5, "4 records")
        assert cloud.usage_payloads() == {r.seq: r.to_json() for r in written}
