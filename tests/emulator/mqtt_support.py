"""The emulator's MQTT side in the test's process, on either broker, with real devices.

`Cloud` is a Backend plus either the embedded amqtt broker or a real mosquitto (run with
the configuration the emulator generates) and the emulator's ingest client. Devices are
the agent's real `Reporter` + `Outbox`, or raw aiomqtt clients for hostile cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from agent.reporting.backoff import Backoff
from agent.reporting.outbox import Outbox
from agent.reporting.publisher import Broker, Reporter
from agent.reporting.token import Token
from emulator.backend import Backend
from emulator.models.credentials import MqttLogin, ingest_login
from emulator.mosquitto import MosquittoSync, write_files
from emulator.mqtt_broker import EmbeddedBroker, MqttSetting
from emulator.mqtt_client import ExternalIngest
from tests.emulator.conftest import KINDS, START, Kind
from tests.mqtt_broker import Mosquitto

__all__ = ["KINDS", "Kind"]  # defined beside the `kind` fixture, used from here too
FAST = Backoff(initial=0.05, maximum=0.5)
_TEST_LINES = (
    f"user {pwd.getpwuid(os.geteuid()).pw_name}",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "connection_messages true",
)


class EmulatorMosquitto(Mosquitto):
    """A real mosquitto run with the files `simgate emulator mosquitto-config` writes
    (password file, ACL, persistence), on a free port that survives restarts."""

    def __init__(self, directory: Path, backend: Backend) -> None:
        self._backend = backend
        super().__init__(directory, persistence=True)

    def _write_config(self) -> None:
        files = write_files(
            self._backend, self.directory, host=self.host, port=self.port, extra_config=_TEST_LINES
        )
        self.config_path = files.config

    def sync(self) -> MosquittoSync:
        """A sync that rewrites the files and SIGHUPs this broker (via a pid file)."""
        pid_file = self.directory / "mosquitto.pid"
        pid_file.write_text(f"{self.pid}\n")
        return MosquittoSync(
            self._backend,
            self.directory,
            host=self.host,
            port=self.port,
            pid_file=pid_file,
            extra_config=_TEST_LINES,
        )


@dataclass(frozen=True)
class Device:
    """A registered SIM and its MQTT login."""

    iccid: str
    token: str
    sim_id: str


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll every 10 ms; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.01)


class Cloud:
    """The emulator (backend + MQTT ingest) on one broker kind, restartable in place."""

    def __init__(self, kind: Kind, directory: Path, db: Path | str | None = None) -> None:
        self.kind = kind
        self.directory = directory
        self.db = directory / "emulator.db" if db is None else db
        self.backend = self._open_backend()
        self.embedded: EmbeddedBroker | None = None
        self.mosquitto: EmulatorMosquitto | None = None
        self.ingest: ExternalIngest | None = None
        self.port = 0

    def _open_backend(self) -> Backend:
        backend = Backend(self.db)
        backend.clock.set(START, frozen=True)
        return backend

    @property
    def login(self) -> MqttLogin:
        """The emulator's own MQTT login."""
        return ingest_login(self.backend.store)

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start the broker (mosquitto: a subprocess) and the ingest."""
        if self.kind == "embedded":
            self.embedded = EmbeddedBroker("127.0.0.1", self.port, self.backend)
            await self.embedded.start()
            self.port = self.embedded.port
            return
        if self.mosquitto is None:
            self.mosquitto = EmulatorMosquitto(self.directory / "mosquitto", self.backend)
            self.mosquitto.start()
            self.port = self.mosquitto.port
            sync = self.mosquitto.sync()
            self.backend.sims.on_change(sync.sync)
        await self.start_ingest()

    async def start_ingest(self) -> None:
        """Mosquitto only: (re)start the emulator's ingest client and wait for it."""
        setting = MqttSetting(False, "127.0.0.1", self.port)
        self.ingest = ExternalIngest(setting, self.backend.devices, self.login)
        self.ingest.start()
        assert await asyncio.to_thread(self.ingest.wait_connected, 10), "ingest did not connect"

    async def stop_ingest(self) -> None:
        """Stop the emulator's side (the embedded broker with it; mosquitto keeps running)."""
        if self.embedded is not None:
            await self.embedded.stop()
            self.embedded = None
        if self.ingest is not None:
            await asyncio.to_thread(self.ingest.stop)
            self.ingest = None

    async def restart_emulator(self) -> None:
        """Stop the emulator, close its database, open it again and start again."""
        await self.stop_ingest()
        self.backend.close()
        self.backend = self._open_backend()
        if self.mosquitto is not None:
            self.mosquitto._backend = self.backend
            sync = self.mosquitto.sync()
            self.backend.sims.on_change(sync.sync)
            await self.start_ingest()
        else:
            await self.start()

    async def stop(self) -> None:
        """Stop everything and close the database."""
        await self.stop_ingest()
        if self.mosquitto is not None:
            self.mosquitto.stop()
        self.backend.close()

    # --- SIMs and devices --------------------------------------------------------------

    async def register(self) -> Device:
        """A new registered SIM; with mosquitto, wait until the broker accepts its login."""
        card = self.backend.cards.manufacture()
        assert card.passcode is not None
        sim = self.backend.sims.register(iccid=card.iccid, passcode=card.passcode)
        device = Device(sim.iccid, self.backend.device_tokens.token_for(sim), sim.id)
        if self.mosquitto is not None and self.mosquitto.running:
            await self._wait_login(device)
        return device

    async def _wait_login(self, device: Device) -> None:
        deadline = time.monotonic() + 5
        while True:
            try:
                async with self.client(device, identifier=f"probe-{device.iccid}"):
                    return
            except aiomqtt.MqttError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    def client(self, device: Device | None = None, **kwargs: Any) -> aiomqtt.Client:
        """A raw client logged in as `device` (default: the emulator's own login)."""
        if device is None:
            kwargs.setdefault("username", self.login.username)
            kwargs.setdefault("password", self.login.password)
        else:
            kwargs.setdefault("username", device.iccid)
            kwargs.setdefault("password", device.token)
            kwargs.setdefault("identifier", device.iccid)
        kwargs.setdefault("timeout", 5)
        return aiomqtt.Client("127.0.0.1", self.port, **kwargs)

    def reporter(self, device: Device, outbox: Outbox, **kwargs: Any) -> Reporter:
        """The agent's reporter for `device`, pointed at this cloud's broker."""
        kwargs.setdefault("backoff", FAST)
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("poll", 1.0)
        return Reporter(
            outbox,
            Broker("127.0.0.1", self.port, keepalive=5),
            token=Token(device.token),
            **kwargs,
        )

    def seqs(self, iccid: str) -> list[int]:
        """The `seq` of every stored usage report, in order."""
        return [int(report["seq"]) for report in self.backend.devices.reports(iccid)]


@contextlib.asynccontextmanager
async def cloud_on(
    kind: Kind, directory: Path, db: Path | str | None = None
) -> AsyncIterator[Cloud]:
    """A started `Cloud` (on the store `db`, default an SQLite file), stopped afterwards."""
    cloud = Cloud(kind, directory, db)
    try:
        await cloud.start()
        yield cloud
    finally:
        await cloud.stop()


@contextlib.asynccontextmanager
async def running(reporter: Reporter) -> AsyncIterator[asyncio.Task[None]]:
    """Run the reporter for the block, then stop it (bounded)."""
    task = asyncio.create_task(reporter.run())
    try:
        yield task
    finally:
        await reporter.stop()
        await asyncio.wait_for(task, 10)


def usage_records(outbox: Outbox, count: int, *, up: int = 1000) -> None:
    """Append `count` distinct records (March 2026, the test clock's month)."""
    for i in range(count):
        outbox.append(
            imei="356938035643809",
            start="2026-03-10T00:00:00Z",
            end="2026-03-10T00:05:00Z",
            up=up + i,
            down=2000 + i,
            source="modem",
        )


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    size, length = bytearray(), len(body)
    while True:
        byte, length = length % 128, length // 128
        size.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(size) + body


async def connect_with_will(
    port: int, device: Device
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-made MQTT 3.1.1 session (client id = the ICCID, as a device must) whose will
    is `status` = "offline" (QoS 1, retained), which says "online" (QoS 0, retained);
    close the writer to vanish."""
    from simgate_common import wire

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02  # user, password, will retain/qos1/flag, clean
    status = wire.status_topic(device.iccid).encode()
    body = _field(b"MQTT") + bytes([4, flags]) + (30).to_bytes(2, "big")
    body += _field(device.iccid.encode()) + _field(status) + _field(wire.OFFLINE)  # client id
    body += _field(device.iccid.encode()) + _field(device.token.encode())
    writer.write(_packet(0x10, body))
    await writer.drain()
    connack = await asyncio.wait_for(reader.readexactly(4), 5)
    assert connack == b"\x20\x02\x00\x00", connack
    writer.write(_packet(0x31, _field(status) + wire.ONLINE))
    await writer.drain()
    return reader, writer
