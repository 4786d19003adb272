"""MQTT ingest end to end on both brokers: the agent's real Reporter and Outbox as the
device, the embedded amqtt broker or a real mosquitto (run with the emulator's generated
password file and ACL), real SQLite. Hostile cases use raw aiomqtt clients."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiomqtt
import httpx
import pytest

from agent.reporting.outbox import Outbox
from emulator.app import create_app
from emulator.billing import load_tariff, parse_event_lines, price_month
from emulator.errors import NotFound
from simgate_common import wire
from simgate_common.wire import ErrorReport, UsageReport

from .mqtt_support import (
    Device,
    Kind,
    cloud_on,
    connect_with_will,
    running,
    usage_records,
    wait_until,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def report(device: Device, seq: int, **changes: object) -> bytes:
    doc = UsageReport(
        seq, device.iccid, None, "2026-03-10T00:00:00Z", "2026-03-10T00:05:00Z", 10, 20, "modem"
    ).to_dict()
    doc.update(changes)
    return json.dumps(doc).encode()


async def next_error(client: aiomqtt.Client, seconds: float = 5.0) -> ErrorReport:
    """The next message the client receives, which must be on its own `errors` topic."""
    async with asyncio.timeout(seconds):
        async for message in client.messages:
            payload = message.payload
            assert isinstance(payload, bytes | bytearray)
            assert str(message.topic).endswith("/errors"), f"leaked: {message.topic}"
            return ErrorReport.from_json(bytes(payload))
    raise AssertionError("the message stream ended")


async def test_rule3_reports_arrive_exactly_once(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        usage_records(outbox, 500)
        async with running(cloud.reporter(device, outbox)):
            await wait_until(lambda: outbox.count() == 0, 30, "the outbox to drain")
            await wait_until(lambda: len(cloud.seqs(device.iccid)) == 500, 10, "500 stored")
        # every repeat (same seq, same payload) is acknowledged and ignored
        stored = cloud.backend.devices.reports(device.iccid)
        async with cloud.client(device) as client:
            for doc in stored[:100]:
                await client.publish(wire.usage_topic(device.iccid), json.dumps(doc), qos=1)
            await client.publish(wire.usage_topic(device.iccid), report(device, 501), qos=1)
        await wait_until(lambda: len(cloud.seqs(device.iccid)) == 501, 10, "the new report")
        assert cloud.seqs(device.iccid) == list(range(1, 502))
        assert cloud.backend.devices.reports(device.iccid)[:500] == stored
        lines = [json.loads(x) for x in cloud.backend.events.lines()]
        usage_events = [x for x in lines if x["type"] == "device_usage"]
        assert sorted(x["seq"] for x in usage_events) == list(range(1, 502))
        outbox.close()


async def test_rule4_hostile_clients_change_nothing(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        me, other = await cloud.register(), await cloud.register()
        topic = wire.usage_topic(me.iccid)
        # wrong token, unknown user, anonymous: refused at CONNECT
        for login in (
            {"username": me.iccid, "password": "not-the-token"},
            {"username": "8981000000000000999", "password": me.token},
            {"username": None, "password": None},
        ):
            with pytest.raises(aiomqtt.MqttError):
                async with cloud.client(**login, identifier="intruder"):
                    pass
        async with cloud.client(me) as client:
            await client.subscribe(wire.errors_topic(me.iccid), qos=1)
            # another device's root: neither publish nor subscribe
            await client.publish(wire.usage_topic(other.iccid), report(other, 1), qos=1)
            granted = await client.subscribe(wire.usage_topic(other.iccid), qos=1)
            if kind == "embedded":  # mosquitto grants it but never delivers (checked below)
                assert [getattr(g, "value", g) for g in granted] == [128]
            async with cloud.client(other) as them:
                await them.publish(wire.usage_topic(other.iccid), report(other, 9), qos=1)
            await wait_until(lambda: cloud.seqs(other.iccid) == [9], 10, "the other's report")
            cases = [
                (b"{not json", None, "payload"),
                (report(me, 2, up="12"), 2, "up"),
                (report(me, 3, iccid=other.iccid), 3, "iccid"),
                (b"[" * 10 + b" " * wire.MAX_PAYLOAD + b"]" * 10, None, "payload"),
            ]
            for payload, seq, field in cases:
                await client.publish(topic, payload, qos=1)
                error = await next_error(client)
                assert (error.topic, error.seq) == (topic, seq)
                assert error.error.startswith(field), error
            # ... and the device's valid reports are still taken
            await client.publish(topic, report(me, 4), qos=1)
            await wait_until(lambda: cloud.seqs(me.iccid) == [4], 10, "the valid report")
        assert cloud.seqs(other.iccid) == [9]  # its own report only, not mine in its name
        kinds = [json.loads(x)["type"] for x in cloud.backend.events.lines()]
        assert kinds.count("device_usage") == 2


async def test_rule4_deleted_sim_is_refused(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        dropped = False
        try:
            async with cloud.client(device) as client:
                await client.subscribe(wire.errors_topic(device.iccid), qos=1)
                cloud.backend.sims.delete(device.sim_id)
                await client.publish(wire.usage_topic(device.iccid), report(device, 1), qos=1)
                error = await next_error(client)
                assert "no registered SIM" in error.error
                assert error.seq == 1
        except aiomqtt.MqttError:
            dropped = True
        # the embedded broker ends a deleted SIM's session at once (issue 13); mosquitto,
        # reloading its password file, may drop the login first
        assert dropped or kind == "mosquitto"
        assert '"device_usage"' not in "".join(cloud.backend.events.lines())

        async def login_refused() -> bool:
            try:
                async with cloud.client(device, identifier="after-delete"):
                    return False
            except aiomqtt.MqttError:
                return True

        for _ in range(100):  # mosquitto reloads its password file after SIGHUP
            if await login_refused():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("a deleted SIM could still log in")
        with pytest.raises(NotFound):  # nothing stored, and the SIM is gone
            cloud.backend.devices.reports(device.iccid)
        assert "device_usage" not in "".join(cloud.backend.events.lines())


async def test_sec1_2_state_and_status_reach_the_emulator(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        reporter = cloud.reporter(device, outbox)
        sim = {"state": "SIM PUK", "iccid": device.iccid, "pin_retries": 0, "puk_retries": 10}
        reporter.report_state(sim, {"registration": "home"}, {"active": False})
        async with running(reporter):
            await wait_until(
                lambda: cloud.backend.devices.view(device.iccid).sim_state == "SIM PUK",
                10,
                "the lock state",
            )
            assert cloud.backend.devices.view(device.iccid).online is True
        await wait_until(
            lambda: cloud.backend.devices.view(device.iccid).online is False, 10, "offline"
        )
        view = cloud.backend.devices.view(device.iccid)
        assert (view.pin_retries, view.puk_retries) == (0, 10)
        statuses = [e.status for e in cloud.backend.sims.session_log(device.sim_id)]
        assert "SIM_STATE" in statuses
        assert statuses.index("DEVICE_OFFLINE") < statuses.index("DEVICE_ONLINE")
        outbox.close()


async def test_last_will_offline_reaches_the_emulator(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        _, writer = await connect_with_will(cloud.port, device)
        await wait_until(lambda: cloud.backend.devices.view(device.iccid).online is True, 10, "on")
        writer.transport.abort()  # the device vanishes: no DISCONNECT, so the will is sent
        await wait_until(
            lambda: cloud.backend.devices.view(device.iccid).online is False, 10, "the will"
        )
        statuses = [e.status for e in cloud.backend.sims.session_log(device.sim_id)]
        assert statuses[:2] == ["DEVICE_OFFLINE", "DEVICE_ONLINE"]


async def test_001_s38_1_device_reports_bill_an_estimated_data_fee(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        usage_records(outbox, 10, up=100_000)
        async with running(cloud.reporter(device, outbox)):
            await wait_until(lambda: len(cloud.seqs(device.iccid)) == 10, 20, "10 stored")
        invoice = price_month(
            parse_event_lines(cloud.backend.events.lines()), "2026-03", load_tariff()
        ).to_json()
        lines = invoice["lines"]
        assert isinstance(lines, list)
        data = [x for x in lines if x["item"] == "data"]
        volume = sum(100_000 + i + 2000 + i for i in range(10))
        assert data == [
            {
                "item": "data",
                "subject": device.iccid,
                "quantity": volume,
                "unit_price": 5.5,
                "amount": volume * 55 // 10_000_000,
                "clause": "001 §38.1",
                "reason": data[0]["reason"],
                "estimated": True,
            }
        ]
        outbox.close()


async def test_rule2_tokens_never_reach_the_logs(
    kind: Kind, tmp_path: Path, db_target: Path | str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        with pytest.raises(aiomqtt.MqttError):
            async with cloud.client(device, password=device.token[::-1], identifier="x"):
                pass
        with pytest.raises(aiomqtt.MqttError):  # a client that sends its token as username
            async with cloud.client(device, username=device.token, identifier="y"):
                pass
        async with cloud.client(device) as client:
            await client.publish(wire.usage_topic(device.iccid), report(device, 1), qos=1)
        await wait_until(lambda: cloud.seqs(device.iccid) == [1], 10, "the report")
        secrets = (device.token, device.token[::-1], cloud.login.password)
    text = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    for secret in secrets:
        assert secret not in text


async def test_cloud_login_may_watch_every_device(tmp_path: Path, db_target: Path | str) -> None:
    async with cloud_on("embedded", tmp_path, db_target) as cloud:
        device = await cloud.register()
        async with cloud.client(identifier="watcher") as watcher:
            await watcher.subscribe(f"{wire.TOPIC_PREFIX}/+/usage", qos=1)
            async with cloud.client(device) as client:
                await client.publish(wire.usage_topic(device.iccid), report(device, 1), qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(watcher.messages))
        assert str(message.topic) == wire.usage_topic(device.iccid)
        assert cloud.seqs(device.iccid) == [1]


async def test_registration_after_start_reaches_mosquitto(
    tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on("mosquitto", tmp_path, db_target) as cloud:
        assert cloud.mosquitto is not None
        device = await cloud.register()  # waits until the reloaded broker accepts it
        async with cloud.client(device) as client:
            await client.publish(wire.usage_topic(device.iccid), report(device, 1), qos=1)
        await wait_until(lambda: cloud.seqs(device.iccid) == [1], 10, "the report")


async def test_commands_from_the_emulator_reach_the_device(
    kind: Kind, tmp_path: Path, db_target: Path | str
) -> None:
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        app = create_app(cloud.db, backend=cloud.backend, dispatch=False, auth_required=False)
        app.state.mqtt = cloud.embedded or cloud.ingest
        received: list[wire.Command] = []
        outbox = Outbox(tmp_path / "outbox.sqlite3", device.iccid)
        reporter = cloud.reporter(device, outbox, on_command=received.append)
        transport = httpx.ASGITransport(app=app)
        async with (
            running(reporter),
            httpx.AsyncClient(transport=transport, base_url="http://emulator") as client,
        ):
            await reporter.wait_connected()
            await asyncio.sleep(0.3)  # the device's subscription to its commands topic
            sent = await client.post(
                f"/_emulator/sims/{device.iccid}/commands", json={"op": "internet_off"}
            )
            assert sent.status_code == 202, sent.text
            await wait_until(lambda: bool(received), 10, "the command at the device")
            bad = await client.post(f"/_emulator/sims/{device.iccid}/commands", json={"op": "x"})
            unknown = await client.post("/_emulator/sims/8981000000000000000/commands", json={})
        outbox.close()
    assert received[0].op is wire.Op.INTERNET_OFF
    assert received[0].id == sent.json()["id"]
    assert bad.status_code == 400
    assert "op" in bad.json()["error_msg"]
    assert unknown.status_code == 404


async def test_rule3_a_recreated_outbox_is_refused_loudly_not_silently(
    kind: Kind, tmp_path: Path, db_target: Path | str, caplog: pytest.LogCaptureFixture
) -> None:
    """A new outbox numbers from 1 again; the cloud refuses the clashing seq (other
    content) on `errors`, and the device says so in its log instead of nothing."""
    async with cloud_on(kind, tmp_path, db_target) as cloud:
        device = await cloud.register()
        first = Outbox(tmp_path / "first.sqlite3", device.iccid)
        append_usage(first, up=10)
        reporter = cloud.reporter(device, first)
        async with running(reporter):
            await wait_until(lambda: cloud.seqs(device.iccid) == [1], 10, "seq 1 stored")
        first.close()
        second = Outbox(tmp_path / "second.sqlite3", device.iccid)  # a reflashed card
        append_usage(second, up=99)
        reporter = cloud.reporter(device, second)
        async with running(reporter):
            await wait_until(lambda: reporter.refusals == 1, 10, "the refusal at the device")
        second.close()
        assert [r["up"] for r in cloud.backend.devices.reports(device.iccid)] == [10]
    assert any("the cloud refused" in r.getMessage() for r in caplog.records)


def append_usage(outbox: Outbox, up: int) -> None:
    outbox.append(
        imei=None,
        start="2026-03-10T00:00:00Z",
        end="2026-03-10T00:05:00Z",
        up=up,
        down=0,
        source="modem",
    )
