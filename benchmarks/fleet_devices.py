"""The devices of `benchmarks/fleet.py`: many MQTT connections in one process.

Each device is its own TCP connection (MQTT 3.1.1, its ICCID as client id and username,
its token as password). With `"session": "agent"` (the default) it opens its session as
the agent does: a persistent session with a retained "offline" will, SUBSCRIBE to its
`commands` and `errors`, then a retained "online" `status` and a retained `state`; with
`"bare"` it only connects (clean session) and publishes. It speaks just CONNECT,
SUBSCRIBE, PUBLISH at QoS 1 and PUBACK, written on
`asyncio.Protocol` so that 10,000 of them fit in one process beside the emulator on a
2-core machine (a paho or aiomqtt client per connection costs ~20x the CPU and memory,
and the load generator would be what is measured). A connection refused or lost is
retried after a second and its unacknowledged reports are sent again with DUP set, as the
agent does: the emulator must still store each once.

Protocol with the orchestrator (stdin/stdout, one JSON document a line):
  in : {"port", "devices": [[iccid, token], ...], "mode": "schedule"|"flood",
        "period", "reports", "first_seq", "bind": [source addresses], "connect_rate",
        "session": "agent"|"bare"}
  out: {"connected": n, "seconds": s}       once every device is connected
  in : "go"
  out: {"latencies": [...], "acked": n, "drops": n, "refusals": n, "seconds": s,
        "cpu_seconds": s}
Connections go to 127.0.0.1 only. Everything is bounded: a deadline ends the run.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

from simgate_common import wire
from simgate_common.wire import StateReport, UsageReport

_IP_BIND_ADDRESS_NO_PORT: Final = 24  # linux/in.h
DEADLINE: Final = 600.0
KEEPALIVE: Final = 60
"""No run lasts longer than this (seconds)."""


def _length(value: int) -> bytes:
    out = bytearray()
    while True:
        digit, value = value % 128, value // 128
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def connect_packet(iccid: str, token: str, keepalive: int = 120, agent: bool = False) -> bytes:
    """CONNECT with username and password: a clean session, or (`agent`) a persistent
    one with a retained QoS 1 will of "offline" on the device's `status`."""
    flags = 0xEC if agent else 0xC2  # user, password; agent: will retain/QoS 1/flag
    body = _string("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big")
    body += _string(iccid)
    if agent:
        body += _string(wire.status_topic(iccid)) + _string(wire.OFFLINE.decode())
    body += _string(iccid) + _string(token)
    return bytes([0x10]) + _length(len(body)) + body


def publish_packet(
    topic: str, packet_id: int, payload: bytes, dup: bool = False, retain: bool = False
) -> bytes:
    """PUBLISH at QoS 1."""
    body = _string(topic) + packet_id.to_bytes(2, "big") + payload
    first = 0x32 | (0x08 if dup else 0) | (0x01 if retain else 0)
    return bytes([first]) + _length(len(body)) + body


def subscribe_packet(packet_id: int, topics: Sequence[str]) -> bytes:
    """SUBSCRIBE to each topic at QoS 1."""
    body = packet_id.to_bytes(2, "big") + b"".join(_string(t) + b"\x01" for t in topics)
    return bytes([0x82]) + _length(len(body)) + body


def state(seq: int) -> bytes:
    """A retained `state` as the agent sends it (~150 bytes)."""
    return StateReport(
        seq,
        "2026-03-10T00:00:00Z",
        {"state": "READY", "pin_retries": 3, "puk_retries": 10, "pin_enabled": False},
        {"registered": True, "rssi": -71},
        {"enabled": True},
    ).to_json()


def usage(iccid: str, seq: int) -> bytes:
    """A realistic usage report (~190 bytes)."""
    return UsageReport(
        seq,
        iccid,
        "356938035643809",
        "2026-03-10T00:00:00Z",
        "2026-03-10T00:01:00Z",
        1_000 + seq,
        2_000 + seq,
        "modem",
    ).to_json()


class Device(asyncio.Protocol):
    """One device: one connection, reports acknowledged by packet id."""

    def __init__(self, iccid: str, token: str, stats: Stats, agent: bool = True) -> None:
        self.iccid = iccid
        self.token = token
        self.agent = agent
        self.setup: dict[int, asyncio.Future[None]] = {}
        """Packet id -> the SUBACK or PUBACK of the session's opening messages."""
        self.topic = wire.usage_topic(iccid)
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.connected: asyncio.Future[bool] | None = None
        self.pending: dict[int, tuple[bytes, float, asyncio.Future[float]]] = {}
        self.next_id = 1
        self.last_sent = time.monotonic()
        self._buffer = b""

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._buffer = b""
        self.last_sent = time.monotonic()
        transport.write(connect_packet(self.iccid, self.token, KEEPALIVE, self.agent))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            first = self._buffer[0]
            kind = first >> 4
            length, shift, index = 0, 0, 1
            while True:
                if index >= len(self._buffer):
                    return
                byte = self._buffer[index]
                length |= (byte & 0x7F) << shift
                index += 1
                shift += 7
                if not byte & 0x80:
                    break
            if len(self._buffer) < index + length:
                return
            body = self._buffer[index : index + length]
            self._buffer = self._buffer[index + length :]
            if kind == 2 and self.connected is not None and not self.connected.done():
                self.connected.set_result(body[1] == 0)  # CONNACK return code
            elif kind in (4, 9):  # PUBACK, SUBACK
                packet_id = int.from_bytes(body[:2], "big")
                opening = self.setup.pop(packet_id, None)
                if opening is not None and not opening.done():
                    opening.set_result(None)
                entry = self.pending.pop(packet_id, None)
                if entry is not None and not entry[2].done():
                    entry[2].set_result(time.perf_counter() - entry[1])
            elif kind == 3 and self.transport is not None:  # a command or an error
                if (first >> 1) & 3:  # QoS 1: acknowledge it
                    topic_length = int.from_bytes(body[:2], "big")
                    raw_id = body[2 + topic_length : 4 + topic_length]
                    self.transport.write(b"\x40\x02" + raw_id)
                self.stats.received += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.connected is not None and not self.connected.done():
            self.connected.set_result(False)
        elif self.stats.running:
            self.stats.drops += 1
        else:
            self.stats.idle_drops += 1

    def ping(self, now: float) -> None:
        """PINGREQ when nothing was sent for half the keepalive, as a client library does
        (a broker drops a connection silent for 1.5 keepalives)."""
        if self.transport is not None and now - self.last_sent > KEEPALIVE / 2:
            self.transport.write(b"\xc0\x00")
            self.last_sent = now

    # --- the device's behaviour ---------------------------------------------------------

    async def connect(self, port: int, bind: str, until: float) -> None:
        """Connect (retrying refusals and failures once a second) until accepted."""
        loop = asyncio.get_running_loop()
        while True:
            self.connected = loop.create_future()
            try:
                sock = await _connected_socket(bind, port)
                await loop.create_connection(lambda: self, sock=sock)
                accepted = await asyncio.wait_for(self.connected, 60)
            except (OSError, TimeoutError):
                accepted = False
            if accepted and self.agent:
                accepted = await self._open_session()
            if accepted:
                for packet_id, (payload, _, _) in self.pending.items():  # resend, DUP
                    assert self.transport is not None
                    self.transport.write(publish_packet(self.topic, packet_id, payload, True))
                return
            self.stats.refusals += 1
            if self.transport is not None:
                self.transport.close()
            if time.monotonic() > until:
                raise TimeoutError(f"{self.iccid} could not connect")
            await asyncio.sleep(1.0)

    def _packet_id(self) -> int:
        packet_id = self.next_id
        self.next_id = self.next_id % 65535 + 1
        return packet_id

    async def _open_session(self) -> bool:
        """What the agent sends once connected; True when all of it was acknowledged."""
        loop = asyncio.get_running_loop()
        topics = (wire.commands_topic(self.iccid), wire.errors_topic(self.iccid))
        ids = [self._packet_id() for _ in range(3)]
        packets = (
            subscribe_packet(ids[0], topics),
            publish_packet(wire.status_topic(self.iccid), ids[1], wire.ONLINE, retain=True),
            publish_packet(wire.state_topic(self.iccid), ids[2], state(1), retain=True),
        )
        waits = []
        for packet_id in ids:
            self.setup[packet_id] = loop.create_future()
            waits.append(self.setup[packet_id])
        if self.transport is None:
            return False
        self.transport.write(b"".join(packets))
        try:
            await asyncio.wait_for(asyncio.gather(*waits), 60)
        except TimeoutError:
            return False
        return True

    async def report(self, seq: int, port: int, bind: str, until: float) -> float:
        """Publish one report; its acknowledgement latency (seconds, since the first send)."""
        packet_id = self._packet_id()
        payload = usage(self.iccid, seq)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending[packet_id] = (payload, time.perf_counter(), done)
        if self.transport is not None:
            self.transport.write(publish_packet(self.topic, packet_id, payload))
            self.last_sent = time.monotonic()
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(done), 5.0)
            except TimeoutError:
                if time.monotonic() > until:
                    raise
                if self.transport is None:  # lost: reconnect, which resends it
                    await self.connect(port, bind, until)


async def _connected_socket(bind: str, port: int) -> socket.socket:
    """A TCP socket from `bind` connected to 127.0.0.1:`port`. The source port is chosen
    by connect() (IP_BIND_ADDRESS_NO_PORT): bind(addr, 0) would reserve one per socket and
    gets slower with every port in use (thousands of connections)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if bind != "127.0.0.1":
            sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((bind, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


class Stats:
    """Counts shared by every device of the process."""

    def __init__(self) -> None:
        self.running = False
        self.drops = 0
        self.idle_drops = 0
        self.refusals = 0
        self.received = 0


async def run(job: dict[str, Any]) -> None:
    """Connect every device, report "connected", wait for "go", report, print results."""
    stats = Stats()
    port = int(job["port"])
    binds: Sequence[str] = job.get("bind") or ["127.0.0.1"]
    agent = job.get("session", "agent") == "agent"
    devices = [Device(iccid, token, stats, agent) for iccid, token in job["devices"]]
    until = time.monotonic() + DEADLINE
    started = time.perf_counter()
    rate = float(job.get("connect_rate") or 0)
    gate = asyncio.Semaphore(int(job.get("connect_parallel") or 64))  # listen backlogs: 100

    async def join(index: int, device: Device) -> None:
        if rate:
            await asyncio.sleep(index / rate)
        async with gate:
            await device.connect(port, binds[index % len(binds)], until)

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(5)
            now = time.monotonic()
            for device in devices:
                device.ping(now)

    pinger = asyncio.ensure_future(keep_alive())
    await asyncio.gather(*(join(i, d) for i, d in enumerate(devices)))
    print(json.dumps({"connected": len(devices), "seconds": time.perf_counter() - started}))
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        pinger.cancel()
        return
    stats.running = True
    cpu_started = time.process_time()
    latencies: list[float] = []
    first, reports = int(job["first_seq"]), int(job["reports"])
    period = float(job.get("period") or 0)
    started = time.perf_counter()

    async def scheduled(index: int, device: Device) -> None:
        offset = random.random() * period  # devices spread evenly over the period
        bind = binds[index % len(binds)]
        for n in range(reports):
            due = started + offset + n * period
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            latencies.append(await device.report(first + n, port, bind, until))

    async def flood(index: int, device: Device) -> None:
        bind = binds[index % len(binds)]
        for n in range(reports):
            latencies.append(await device.report(first + n, port, bind, until))

    body = flood if job["mode"] == "flood" else scheduled
    await asyncio.gather(*(body(i, d) for i, d in enumerate(devices)))
    seconds = time.perf_counter() - started
    stats.running = False
    pinger.cancel()
    for device in devices:
        if device.transport is not None:
            device.transport.write(b"\xe0\x00")  # DISCONNECT
            device.transport.close()
    result = {
        "latencies": latencies,
        "acked": len(latencies),
        "drops": stats.drops,
        "refusals": stats.refusals,
        "idle_drops": stats.idle_drops,
        "received": stats.received,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_started,
    }
    print(json.dumps(result))
    sys.stdout.flush()


def main() -> int:
    """Read the job from stdin's first line and run it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    job = json.loads(sys.stdin.readline())
    asyncio.run(run(job))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
