"""MQTT ingest throughput: usage reports stored per second against the broker's raw rate.

For each broker, in one run, on 127.0.0.1:
- **raw**: QoS 1 publish -> broker -> QoS 1 subscriber that stores nothing: messages
  received per second (amqtt: a plain anonymous broker; mosquitto: the configuration
  `simgate emulator mosquitto-config` writes, the subscriber logged in as the emulator);
- **stored**: the same publishers, the emulator's ingest in front of SQLite (WAL,
  `synchronous=FULL`, deduplicated by `(iccid, seq)`): reports committed per second,
  counted from the first publish to the last commit.
Publishers: `--devices` clients in a process of their own, each its own ICCID and token,
`--window` QoS 1 messages in flight (like the agent's reporter), ~190-byte usage reports;
they connect first, then the clock starts. The ratio stored/raw is
what storing durably costs; the target is >= 0.7.

Usage: python benchmarks/ingest.py [-n 6000] [--devices 4] [--window 32] [--repeat 3]
       [--broker embedded|mosquitto|both]
Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt

from emulator.backend import Backend
from emulator.models.credentials import ingest_login
from emulator.mosquitto import write_files
from emulator.mqtt_broker import EmbeddedBroker, MqttSetting
from emulator.mqtt_client import ExternalIngest
from simgate_common import wire
from simgate_common.wire import UsageReport

Login = tuple[str, str | None]


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def payload(iccid: str, seq: int) -> bytes:
    """A realistic usage report."""
    return UsageReport(
        seq,
        iccid,
        "356938035643809",
        "2026-03-10T00:00:00Z",
        "2026-03-10T00:05:00Z",
        1_000_000 + seq,
        2_000_000 + seq,
        "modem",
    ).to_json()


async def publish(
    port: int, devices: list[Login], seqs: range, window: int, go: Any = None
) -> None:
    """Every device publishes `seqs` at QoS 1 with `window` in flight (after `go` is set,
    once all are connected)."""
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for iccid, token in devices:
            client = aiomqtt.Client(
                "127.0.0.1",
                port,
                username=iccid if token else None,
                password=token,
                identifier=f"bench-{iccid}",
                max_inflight_messages=window + 2,
                timeout=30,
            )
            client.pending_calls_threshold = window + 4
            clients.append((iccid, await stack.enter_async_context(client)))
        if go is not None:
            await asyncio.to_thread(go.wait)

        async def one(iccid: str, client: aiomqtt.Client) -> None:
            topic = wire.usage_topic(iccid)
            gate = asyncio.Semaphore(window)

            async def send(seq: int) -> None:
                async with gate:
                    await client.publish(topic, payload(iccid, seq), qos=1)

            await asyncio.gather(*(send(seq) for seq in seqs))

        await asyncio.gather(*(one(iccid, client) for iccid, client in clients))


def _publisher(
    port: int, devices: list[Login], first: int, count: int, window: int, go: Any
) -> None:
    """The child process's entry point."""
    asyncio.run(publish(port, devices, range(first, first + count), window, go))


class Publishers:
    """The devices, in a process of their own (as they would be), started at `go()`."""

    def __init__(self, port: int, devices: list[Login], seqs: range, window: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._go = context.Event()
        self._process = context.Process(
            target=_publisher,
            args=(port, devices, seqs.start, len(seqs), window, self._go),
            daemon=True,
        )
        self._process.start()

    async def go(self) -> float:
        """Let them publish (after giving them time to connect); the start time."""
        await asyncio.sleep(0.5)
        self._go.set()
        return time.perf_counter()

    async def join(self) -> None:
        """Wait for the publishers to finish."""
        await asyncio.to_thread(self._process.join, 60)
        if self._process.exitcode != 0:
            raise RuntimeError(f"the publisher process failed ({self._process.exitcode})")


async def raw_rate(
    port: int, devices: list[Login], seqs: range, window: int, sub: Login | None
) -> float:
    """Messages per second through the broker to a subscriber that stores nothing."""
    total = len(devices) * len(seqs)
    username, password = sub if sub is not None else (None, None)
    async with aiomqtt.Client(
        "127.0.0.1", port, username=username, password=password, identifier="bench-raw", timeout=30
    ) as subscriber:
        await subscriber.subscribe(f"{wire.TOPIC_PREFIX}/+/usage", qos=1)
        publishers = Publishers(port, devices, seqs, window)
        started = await publishers.go()
        received = 0
        async for _ in subscriber.messages:
            received += 1
            if received == total:
                break
        elapsed = time.perf_counter() - started
        await publishers.join()
    return total / elapsed


async def stored_rate(
    port: int, devices: list[Login], seqs: range, window: int, stored: Callable[[], int]
) -> float:
    """Reports committed per second (first publish to last commit)."""
    total = len(devices) * len(seqs)
    before = stored()
    publishers = Publishers(port, devices, seqs, window)
    started = await publishers.go()
    deadline = started + 120
    while stored() - before < total:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {stored() - before} of {total} stored after 120 s")
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    await publishers.join()
    return total / elapsed


def register(backend: Backend, count: int) -> list[Login]:
    """`count` registered SIMs with their device tokens."""
    result: list[Login] = []
    for _ in range(count):
        card = backend.cards.manufacture()
        assert card.passcode is not None
        sim = backend.sims.register(iccid=card.iccid, passcode=card.passcode)
        result.append((sim.iccid, backend.device_tokens.token_for(sim)))
    return result


Measure = Callable[[range], Awaitable[float]]


async def repeat(name: str, times: int, per_device: int, measure: Measure, offset: int) -> float:
    """Median of `times` runs; each run uses new sequence numbers."""
    rates = []
    for i in range(times):
        first = offset + i * per_device + 1
        rate = await measure(range(first, first + per_device))
        progress(f"  {name} run {i + 1}: {rate:,.0f}/s")
        rates.append(rate)
    return statistics.median(rates)


async def bench_embedded(work: Path, args: argparse.Namespace) -> tuple[float, float]:
    """amqtt: a plain broker, then the emulator's gated broker."""
    from amqtt.broker import Broker

    per_device = args.n // args.devices
    anonymous: list[Login] = [(f"89811000000000{i:05d}", None) for i in range(args.devices)]
    port = free_port()
    plain = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await plain.start()
    progress("embedded (amqtt): raw QoS 1 publish -> receive")
    try:
        raw = await repeat(
            "raw",
            args.repeat,
            per_device,
            lambda seqs: raw_rate(port, anonymous, seqs, args.window, None),
            0,
        )
    finally:
        await plain.shutdown()
    backend = Backend(work / "embedded.db")
    devices = register(backend, args.devices)
    broker = EmbeddedBroker("127.0.0.1", 0, backend)
    await broker.start()
    progress("embedded (amqtt): stored by the emulator")
    try:
        stored = await repeat(
            "stored",
            args.repeat,
            per_device,
            lambda seqs: stored_rate(
                broker.port, devices, seqs, args.window, lambda: broker.writer.counts.stored
            ),
            0,
        )
        check(backend, devices, per_device * args.repeat)
        progress(f"  ingest: {broker.writer.counts.to_dict()}")
    finally:
        await broker.stop()
        backend.close()
    return raw, stored


def start_mosquitto(
    binary: str, backend: Backend, directory: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """mosquitto with the emulator's generated configuration, and its port."""
    port = free_port()
    user = pwd.getpwuid(os.geteuid()).pw_name
    files = write_files(backend, directory, port=port, extra_config=[f"user {user}"])
    process = subprocess.Popen(
        [binary, "-c", str(files.config)],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "mosquitto.log").open("wb"),
    )
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("mosquitto did not start") from None
            time.sleep(0.02)


async def bench_mosquitto(work: Path, args: argparse.Namespace) -> tuple[float, float]:
    """mosquitto (emulator config): a plain subscriber, then the emulator's ingest."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    per_device = args.n // args.devices
    backend = Backend(work / "mosquitto.db")
    devices = register(backend, args.devices)
    login = ingest_login(backend.store)
    process, port = start_mosquitto(binary, backend, work / "mosquitto")
    ingest = ExternalIngest(MqttSetting(False, "127.0.0.1", port), backend.devices, login)
    try:
        progress("mosquitto: raw QoS 1 publish -> receive")
        raw = await repeat(
            "raw",
            args.repeat,
            per_device,
            lambda seqs: raw_rate(
                port, devices, seqs, args.window, (login.username, login.password)
            ),
            0,
        )
        ingest.start()
        if not await asyncio.to_thread(ingest.wait_connected, 10):
            raise RuntimeError("the ingest did not connect")
        progress("mosquitto: stored by the emulator")
        offset = per_device * args.repeat
        stored = await repeat(
            "stored",
            args.repeat,
            per_device,
            lambda seqs: stored_rate(
                port, devices, seqs, args.window, lambda: ingest.counts.stored
            ),
            offset,
        )
        check(backend, devices, per_device * args.repeat)
        progress(f"  ingest: {ingest.counts.to_dict()}")
    finally:
        await asyncio.to_thread(ingest.stop)
        process.terminate()
        process.wait(10)
        backend.close()
    return raw, stored


def check(backend: Backend, devices: list[Login], each: int) -> None:
    """Every device's reports are stored once each."""
    for iccid, _ in devices:
        count = len(backend.devices.reports(iccid))
        if count != each:
            raise RuntimeError(f"{iccid}: {count} reports stored, expected {each}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=6000, help="reports per run (all devices)")
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--window", type=int, default=32, help="QoS 1 messages in flight")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--broker", choices=("embedded", "mosquitto", "both"), default="both")
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="simgate-bench-") as tmp:
        work = Path(tmp)
        if args.broker in ("embedded", "both"):
            rows.append(("embedded (amqtt)", *asyncio.run(bench_embedded(work, args))))
        if args.broker in ("mosquitto", "both"):
            rows.append(("mosquitto", *asyncio.run(bench_mosquitto(work, args))))
    per_device = args.n // args.devices
    print(
        f"MQTT ingest, {args.devices} devices x {per_device} reports, window {args.window}, "
        f"median of {args.repeat}"
    )
    print(f"{'broker':<18}{'raw QoS 1 msg/s':>17}{'stored reports/s':>18}{'ratio':>8}")
    for name, raw, stored in rows:
        print(f"{name:<18}{raw:>17,.0f}{stored:>18,.0f}{stored / raw:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
