"""The demo's device: the agent driving the stub modem, metering and reporting over MQTT.

With root, the stub's modem has a real `wwan0` in the device's own namespace
(simgate.demo_datapath): the agent configures it from `+CGCONTRDP`, the device fetches
through it, and the agent meters its kernel counters. Without root the stub is a modem on
a pty with no network interface; so that the agent still meters as on a real device
(`/sys/class/net/<iface>/statistics`), the demo keeps a small sysfs tree for a simulated
`wwan0` whose counters are the bytes the stub's data session carried (the stub's own
books: what the emulator, as the network, accepted). The device's clock
is the network's: the records are stamped in the emulator's virtual time (real devices
take their time from the network, e.g. NITZ).
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agent.modem.client import Modem
from agent.net.data_connection import DataConnection
from agent.net.datapath import bring_down, bring_up
from agent.net.registration import RegistrationManager
from agent.presentation import render_connection, render_net, render_status
from agent.reporting.outbox import Outbox
from agent.reporting.publisher import Broker, Reporter
from agent.reporting.token import Token
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimRefused, SimSaidNo
from agent.usage.meter import UsageMeter
from agent.usage.sources import OsInterfaceCounters, UsageSource
from firmware_stubs import StubModem
from firmware_stubs.card import DEFAULT_PIN
from simgate.demo_datapath import DeviceNamespace, NamespaceCounters
from simgate_common import wire

APN = "simgate.test"
IFACE = "wwan0"
WRONG_PIN = "1234"
DELIVERY_TIMEOUT = 15.0


class Step(Protocol):
    """The demo's progress display."""

    def __call__(self, text: str) -> None: ...
    def progress(self, text: str) -> None: ...
    def end_progress(self) -> None: ...


@dataclass(frozen=True)
class DeviceRun:
    """What the device side saw (the JSON of the agent's commands)."""

    before: dict[str, object]
    after: dict[str, object]
    safety: dict[str, str]
    net: dict[str, object]
    internet: dict[str, object]
    source: str
    records: int
    clock_start: str
    clock_end: str
    fetched: int | None  # bytes the device fetched through a real wwan0 (None: simulated)


@dataclass(frozen=True)
class RealPath:
    """The device's namespace and the emulated internet's host it fetches from."""

    namespace: DeviceNamespace
    internet_url: str
    rate: float  # bytes a second the device fetches


def run_device(
    *,
    stub: StubModem,
    workdir: Path,
    broker_url: str,
    token: str,
    network_now: datetime,
    seconds: float,
    step: Step,
    out: Callable[[str], None],
    real: RealPath | None = None,
) -> DeviceRun:
    """The agent's part of the demo, on its own event loop; `network_now` is the
    network's time now (the device's clock follows it). With `real`, packets move."""
    device = _Device(stub, workdir, broker_url, Token(token), network_now, step, out, real)
    return asyncio.run(device.run(seconds))


class _Interface:
    """A simulated network interface: `<root>/<name>/statistics/{tx,rx}_bytes`."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.stats = root / name / "statistics"
        self.stats.mkdir(parents=True)
        (root / name / "ifindex").write_text("3\n", encoding="ascii")
        self.set(0, 0)

    def set(self, up: int, down: int) -> None:
        """Write the counters (tx = up, rx = down)."""
        (self.stats / "tx_bytes").write_text(f"{up}\n", encoding="ascii")
        (self.stats / "rx_bytes").write_text(f"{down}\n", encoding="ascii")


class _Device:
    """The agent's side: one modem session, the meter, the outbox and the reporter."""

    def __init__(
        self,
        stub: StubModem,
        workdir: Path,
        broker_url: str,
        token: Token,
        network_now: datetime,
        step: Step,
        out: Callable[[str], None],
        real: RealPath | None = None,
    ) -> None:
        self.stub = stub
        self.real = real
        self.workdir = workdir
        self.fetched: int | None = None
        self.state = workdir / "agent-state"
        self.state.mkdir(mode=0o700)
        where = urllib.parse.urlsplit(broker_url)
        self.broker = Broker(where.hostname or "127.0.0.1", where.port or 1883)
        self.token = token
        self.offset = network_now - datetime.now(UTC)
        self.step = step
        self.out = out
        self.interface: _Interface | None = None  # the simulated wwan0's sysfs tree
        self.source: UsageSource
        if real is None:
            self.interface = _Interface(workdir / "sys" / "class" / "net", IFACE)
            self.source = OsInterfaceCounters(IFACE, sysfs_root=self.interface.root)
        else:
            self.source = NamespaceCounters(real.namespace.name, IFACE)
        self.meter = UsageMeter(self.state)
        self.start = self.mark = self.now()
        self.records = 0

    def now(self) -> datetime:
        """The device's clock, set from the network's."""
        return datetime.now(UTC) + self.offset

    async def run(self, seconds: float) -> DeviceRun:
        """Steps 5 to 11: SIM, safety rules, unlock, network, internet, usage reports."""
        async with await Modem.open(self.stub.device_path) as modem:
            sim = SimManager(modem, FailedPinMemory(self.state))
            self.step(f"the agent reads the SIM through {modem.url}")
            before = await sim.status()
            self.out(render_status(before))
            safety = await self._safety(sim)
            self.step("the agent unlocks the SIM with the right PIN")
            after = await sim.unlock(DEFAULT_PIN)
            self.out(render_status(after))
            if after.iccid != before.iccid or after.state != "READY" or after.iccid is None:
                raise RuntimeError(f"the SIM is not ready after the unlock: {after.to_json()}")
            self.step("net status: the modem registers (the emulator accepts the attach)")
            registration = RegistrationManager(modem)
            await registration.wait_until_registered(15)
            net = await registration.status()
            self.out(render_net(net))
            self.step(f"internet on --apn {APN}")
            connection = DataConnection(modem)
            internet = await connection.connect(APN, register_timeout=15)
            self.out(render_connection(internet))
            if self.real is not None:
                await self._host_up(modem, internet.cid or 1)
            outbox = Outbox.in_state_dir(self.state, after.iccid)
            reporter = Reporter(outbox, self.broker, token=self.token, poll=1.0, clock=self.now)
            task = asyncio.create_task(reporter.run(), name="simgate-demo-reporter")
            try:
                state = (after.to_json(), net.to_json(), internet.to_json())
                await self._traffic(reporter, after.imei, state, seconds)
                self.step("internet off; the agent meters the rest and waits for the acks")
                await self._record(reporter, after.imei)
                if self.real is not None:
                    await bring_down(modem, self.state, netns=self.real.namespace.name)
                off = await connection.disconnect()
                await self._record(reporter, after.imei)
                reporter.report_state(after.to_json(), net.to_json(), off.to_json())
                await self._delivered(outbox)
            finally:
                await reporter.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
                task.cancel()
                outbox.close()
        clock_start, clock_end = self.start.isoformat(), self.now().isoformat()
        return DeviceRun(
            before.to_json(),
            after.to_json(),
            safety,
            net.to_json(),
            internet.to_json(),
            self.source.name,
            self.records,
            clock_start,
            clock_end,
            self.fetched,
        )

    async def _host_up(self, modem: Modem, cid: int) -> None:
        """The agent's host step, in the device's namespace: address, route, DNS."""
        assert self.real is not None
        path = await bring_up(
            modem,
            dialect="generic",
            cid=cid,
            interface=IFACE,
            dns_file=self.workdir / "resolv.conf",
            state_dir=self.state,
            netns=self.real.namespace.name,
        )
        if path.problems or path.address is None:
            raise RuntimeError("the host path did not come up: " + "; ".join(path.problems))
        self.out(
            f"  {path.interface} in namespace {self.real.namespace.name}: {path.address}/32, "
            f"default route via {path.gateway}, DNS {', '.join(path.dns) or 'none'}"
        )

    async def _safety(self, sim: SimManager) -> dict[str, str]:
        self.step("safety rules: a wrong PIN once, then the same wrong PIN again")
        answers: dict[str, str] = {}
        try:
            await sim.unlock(WRONG_PIN)
        except SimSaidNo as exc:
            answers["first"] = f"the card said no: {exc}"
        try:
            await sim.unlock(WRONG_PIN)
        except SimRefused as exc:
            answers["again"] = f"the agent refused, nothing sent: {exc}"
        if set(answers) != {"first", "again"}:
            raise RuntimeError(f"the safety rules did not show as expected: {answers}")
        self.out(f"  1st try: {answers['first']}")
        self.out(f"  2nd try: {answers['again']}")
        return answers

    async def _traffic(
        self,
        reporter: Reporter,
        imei: str | None,
        state: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
        seconds: float,
    ) -> None:
        self.step(
            f"data flows for {seconds:g} s; the agent meters {self.source.name} and reports "
            "over MQTT through its outbox"
        )
        loop = asyncio.get_running_loop()
        self.start = self.now()
        await self.meter.measure(self.source)  # the baseline: nothing moved yet
        self.mark = self.start
        try:
            await asyncio.wait_for(reporter.wait_connected(), 10)
        except TimeoutError:
            why = reporter.last_error or "no answer"
            raise TimeoutError(f"the MQTT broker cannot be reached: {why}") from None
        reporter.report_state(*state)
        fetch = None
        if self.real is not None:
            url = self.real.internet_url
            self.out(f"  the device fetches from the emulated internet's host {url} over {IFACE}")
            fetch = asyncio.create_task(
                asyncio.to_thread(self.real.namespace.fetch_for, url, seconds, self.real.rate)
            )
        began = loop.time()
        halfway = False
        while (elapsed := loop.time() - began) < seconds:
            await asyncio.sleep(min(0.25, seconds - elapsed))
            if self.real is None:
                total = self.stub.traffic.total
                carried = total.up + total.down
            else:
                counted = await self.source.read()
                carried = counted.bytes_up + counted.bytes_down
            self.step.progress(f"{carried:,} bytes carried, {elapsed:.1f} s")
            if not halfway and elapsed >= seconds / 2:
                halfway = True
                self.step.end_progress()
                await self._record(reporter, imei)
        self.step.end_progress()
        if fetch is not None:
            self.fetched = await fetch
            self.out(f"  {self.fetched:,} bytes fetched through {IFACE} (real packets)")

    async def _record(self, reporter: Reporter, imei: str | None) -> None:
        """One metering pass: the interface's counters, the delta, a record if any."""
        if self.interface is not None:  # simulated: the counters follow the stub's books
            total = self.stub.traffic.total
            self.interface.set(total.up, total.down)
        _, traffic = await self.meter.measure(self.source)
        if traffic.delta_up + traffic.delta_down == 0:
            return
        end = self.now()
        report = reporter.record(
            imei=imei,
            start=wire.format_time(self.mark),
            end=wire.format_time(end),
            up=traffic.delta_up,
            down=traffic.delta_down,
            source=self.source.name,
        )
        self.mark = end
        self.records += 1
        self.out(
            f"  record seq {report.seq}: {report.up:,} up, {report.down:,} down "
            "(stored in the outbox, then published at QoS 1)"
        )

    async def _delivered(self, outbox: Outbox) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = began + DELIVERY_TIMEOUT
        shown = False
        while outbox.count():
            shown = True
            waited = loop.time() - began
            self.step.progress(
                f"waiting for the broker's acks: {outbox.count()} record(s) left, "
                f"{waited:.1f}/{DELIVERY_TIMEOUT:g} s"
            )
            if loop.time() > deadline:
                self.step.end_progress()
                raise TimeoutError(
                    f"{outbox.count()} usage record(s) not acknowledged by the broker "
                    f"within {DELIVERY_TIMEOUT:g} s"
                )
            await asyncio.sleep(0.05)
        if shown:
            self.step.end_progress()
        self.out(f"  outbox empty: every record acknowledged (last seq {outbox.last_seq()})")
