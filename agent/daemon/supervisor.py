"""The daemon's supervisor: modem sessions, metering and reporting, until told to stop.

Theory. Two loops run side by side. The *modem loop* waits for the modem (the watcher),
runs one *session* on it, and when the port dies or disappears (USB re-enumeration: any
`OSError` from the port) closes it and waits again. The *metering loop* makes a usage
record every interval, whether or not the modem is there (the OS counters need no
modem). The reporter of the current card runs beside them and reconnects by itself, so
a broker outage only fills the outbox.

A session is a loop of *checks*, each woken by the check interval, a registration URC,
a cloud command, or a modem restart. After the port opens and after each restart (`RDY`:
the card lost power, the contexts are gone) comes a *power-up*: the line set-up again,
registration URCs on. Each check has the SIM keeper read (and if allowed, unlock) the
card, reads the registration, has the connection keeper bring the data connection to
the wanted state, and hands the three documents to the state tracker, which publishes
the state report when they change.

Stopping (SIGTERM): the loops are cancelled, the port is closed, a last metering pass
records the traffic since the previous one, and the reporter publishes `offline` and
disconnects. The data connection is left as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from agent.at import commands
from agent.at.errors import AtProtocolError, ModemRebooted
from agent.daemon.cloud import ReportingHub, StateTracker
from agent.daemon.config import DaemonConfig
from agent.daemon.datapath import DataPathKeeper
from agent.daemon.keepers import ConnectionKeeper, SimKeeper
from agent.daemon.metering import MeteringLoop, Recorder
from agent.daemon.sms import WAKING_SMS_URCS, sync_sms
from agent.daemon.watcher import DEFAULT_BACKOFF, FixedPortWatcher, ModemWatcher, make_watcher
from agent.dialects.detect import identify
from agent.dialects.table import GENERIC, Dialect
from agent.modem.client import Modem
from agent.net.data_connection import DataConnection
from agent.net.errors import NetSaidNo
from agent.net.registration import REGISTRATION_COMMANDS, RegistrationManager
from agent.reporting.backoff import Backoff
from agent.reporting.outbox import FILE_NAME as OUTBOX_FILE
from agent.reporting.outbox import OutboxError
from agent.reporting.publisher import Broker, Reporter
from agent.reporting.sms_outbox import SmsOutbox, SmsOutboxError
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import READY, SimManager, SimSaidNo
from agent.sms.store import SmsError
from agent.usage.meter import UsageMeter
from agent.usage.sources import (
    NoModemCounters,
    OsInterfaceCounters,
    UsageSource,
    modem_counters,
)
from simgate_common.wire import Command, Op

log = logging.getLogger(__name__)

WAKING_URCS = ("+CREG:", "+CGREG:", "+CEREG:", "+CGEV:", "+CPIN:", "NO CARRIER", *WAKING_SMS_URCS)
"""URCs that may mean the SIM, the registration or a context changed: check now."""


class DaemonFailed(Exception):
    """The daemon cannot go on (the outbox cannot be written, for instance)."""


@dataclass(frozen=True)
class Timing:
    """Delays that are not in the config; tests shorten them."""

    modem_backoff: Backoff = DEFAULT_BACKOFF
    mqtt_backoff: Backoff = field(default_factory=Backoff)
    port_poll: float = 1.0
    mqtt_poll: float = 30.0
    shutdown: float = 5.0


class Daemon:
    """`simgate agent run`: call `run()`; `stop()` (e.g. from a signal) ends it cleanly."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        state_dir: Path,
        watcher: ModemWatcher | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.config = config
        self.timing = timing or Timing()
        self.watcher = watcher or self._default_watcher()
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.memory = FailedPinMemory(state_dir)
        self.sim_keeper = SimKeeper(config.sim.pin)
        self.connection = ConnectionKeeper(
            config.internet.apn, wanted=config.internet.enabled, cid=config.internet.cid
        )
        self.datapath = DataPathKeeper(
            enabled=config.internet.host,
            interface=config.usage.iface,
            state_dir=state_dir,
            dns_file=config.internet.dns_file,
        )
        self.state = StateTracker()
        self.hub = ReportingHub(
            _broker(config),
            config.mqtt.token(),
            state_dir / OUTBOX_FILE,
            on_command=self._on_command,
            backoff=self.timing.mqtt_backoff,
            poll=self.timing.mqtt_poll,
        )
        self.metering = MeteringLoop(
            UsageMeter(state_dir),
            interval=config.usage.interval_s,
            state_dir=state_dir,
            source=self._usage_source,
            target=self._usage_target,
        )
        usage = config.usage
        self._os_source = OsInterfaceCounters(usage.iface, sysfs_root=usage.sysfs_root)
        self._modem_source: UsageSource | None = None
        self._use_modem_counters: bool | None = {"os": False, "modem": True}.get(usage.source)
        self._dialect: Dialect = GENERIC
        self._imei: str | None = None
        self._state_dir = state_dir
        self._sms_outbox: SmsOutbox | None = None
        self._modem: Modem | None = None
        self._wake = asyncio.Event()
        self._rebooted = False
        self._stopping = asyncio.Event()
        self.checked = asyncio.Event()
        """Set once a check has read the SIM and connection states (systemd readiness)."""
        self.sessions = 0
        """How many times the modem port was opened."""
        self.power_ups = 0
        """Sessions plus modem restarts seen."""

    def _default_watcher(self) -> ModemWatcher:
        modem = self.config.modem
        if modem.auto:
            return make_watcher(modem.port, modem.baudrate)
        return FixedPortWatcher(
            modem.port,
            baudrate=modem.baudrate,
            backoff=self.timing.modem_backoff,
            path_poll=self.timing.port_poll,
        )

    def stop(self) -> None:
        """Ask `run()` to shut down (safe to call from a signal handler via the loop)."""
        self._stopping.set()

    async def run(self) -> None:
        """Run until `stop()`; `DaemonFailed` when reporting cannot go on."""
        tasks = [
            asyncio.create_task(self._modem_loop(), name="simgate-modem"),
            asyncio.create_task(self.metering.run(), name="simgate-metering"),
            asyncio.create_task(self._stopping.wait(), name="simgate-stop"),
            asyncio.create_task(self.hub.failed.wait(), name="simgate-reporting-failed"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await self._shutdown()
        errors = [r for r in results if isinstance(r, Exception)]
        error = errors[0] if errors else self.hub.error
        if error is not None:
            raise DaemonFailed(str(error)) from error
        log.info("stopped")

    async def _shutdown(self) -> None:
        if not self.hub.failed.is_set():
            try:
                async with asyncio.timeout(2.0):
                    await self.metering.measure_once()  # the traffic since the last pass
            except (TimeoutError, OSError, OutboxError) as exc:
                log.warning("usage: no last record at shutdown: %s", exc)
        await self.hub.close(self.timing.shutdown)
        await self.watcher.aclose()

    # --- the modem ------------------------------------------------------------------

    async def _modem_loop(self) -> None:
        while True:
            modem = await self.watcher.open()
            self.sessions += 1
            self.state.modem(True)
            try:
                await self._session(modem)
            except OSError as exc:  # the port died or vanished (re-enumeration), or hung
                log.warning("modem: lost: %s", exc)
            finally:
                self._modem_source = None
                if not self._stopping.is_set():  # at shutdown the last state stays retained
                    self.state.modem(False)
                await modem.close()

    async def _session(self, modem: Modem) -> None:
        self._dialect = (await identify(modem)).dialect
        self._modem = modem
        log.info("modem: speaks the %s dialect", self._dialect.name)
        sim = SimManager(modem, self.memory, self._dialect)
        registration = RegistrationManager(modem)
        connection = DataConnection(modem, registration)
        modem.on_reboot(self._on_reboot)
        modem.on_urc(self._on_urc)
        self._rebooted = False
        gone = asyncio.create_task(self.watcher.gone(modem), name="simgate-port-gone")
        work = asyncio.create_task(
            self._keep(modem, sim, registration, connection), name="simgate-session"
        )
        try:
            # An unplug must end the session at once, even in the middle of a long check
            # (a registration wait, +CGACT): the work is cancelled, not waited for.
            await asyncio.wait({gone, work}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (gone, work):
                task.cancel()
            await asyncio.gather(gone, work, return_exceptions=True)
        error = work.exception() if work.done() and not work.cancelled() else None
        if error is not None:
            raise error  # the port failed: the modem loop goes back to waiting

    async def _keep(
        self,
        modem: Modem,
        sim: SimManager,
        registration: RegistrationManager,
        connection: DataConnection,
    ) -> None:
        """Check and repair the session until cancelled (or the port fails)."""
        power_up, first = True, True
        problem: str | None = None
        while True:
            self._wake.clear()
            try:
                if power_up:
                    power_up = False
                    await self._power_up(modem, prepare=not first)
                    first = False
                await self._check(sim, registration, connection)
                problem = None
            except ModemRebooted:
                self._rebooted = True
            except (SimSaidNo, NetSaidNo, AtProtocolError) as exc:
                text = f"modem: check failed: {exc}"
                log.log(logging.WARNING if text != problem else logging.DEBUG, "%s", text)
                problem = text
            self.checked.set()
            if self._rebooted:
                self._rebooted, power_up = False, True
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.modem.check_interval_s):
                    await self._wake.wait()

    def _on_reboot(self, banner: str) -> None:
        self._rebooted = True
        self._wake.set()

    def _on_urc(self, line: str) -> None:
        if line.lstrip().upper().startswith(WAKING_URCS):
            self._wake.set()

    async def _power_up(self, modem: Modem, *, prepare: bool) -> None:
        """After the port opened or the modem restarted: set the line and URCs up again."""
        self.power_ups += 1
        if prepare:
            await modem.prepare()
        for name in REGISTRATION_COMMANDS:  # n=1: a URC on every registration change
            await modem.command(commands.write(name, 1))
        # 27.005 §3.4.1: a new message is stored and announced (+CMTI), which wakes a check.
        await modem.command(commands.write("+CNMI", 2, 1))
        if self._use_modem_counters is not False:
            await self._find_modem_counters(modem)

    async def _find_modem_counters(self, modem: Modem) -> None:
        try:
            self._modem_source = await modem_counters(modem, self._dialect)
        except NoModemCounters as exc:
            if self._use_modem_counters is None:  # auto: the OS interface, for good
                log.info("usage: %s; metering %s", exc, self._os_source.name)
                self._use_modem_counters = False
            else:
                log.error('usage: [usage] source = "modem", but %s', exc)
            return
        if self._use_modem_counters is None:
            log.info("usage: metering the modem's own counters")
            self._use_modem_counters = True

    async def _check(
        self, sim: SimManager, registration: RegistrationManager, connection: DataConnection
    ) -> None:
        status = await self.sim_keeper.keep(sim)
        self._imei = status.imei or self._imei
        new_reporter = self._select_card(status.iccid)
        net = await registration.status()
        internet = await self.connection.keep(
            connection, sim_ready=status.state == READY, registered=net.registered
        )
        await self.datapath.keep(connection.modem, self._dialect.name, internet)
        self.state.update(sim=status.to_json(), net=net.to_json(), internet=internet.to_json())
        if new_reporter is not None:
            self.state.attach(new_reporter)
        if status.state == READY:
            await self._sync_sms()

    async def _sync_sms(self) -> None:
        """Received SMS to the reporter's outbox; what the cloud has leaves the card."""
        reporter, modem = self.hub.reporter, self._modem
        if reporter is None or modem is None:
            return
        outbox = self._sms_outbox
        if outbox is None or outbox.iccid != reporter.iccid:
            if outbox is not None:
                outbox.close()
            try:
                outbox = self._sms_outbox = SmsOutbox.in_state_dir(self._state_dir, reporter.iccid)
            except SmsOutboxError as exc:
                log.error("SMS: %s", exc)
                return
        reporter.sms_outbox = outbox
        reporter.sms_acked = self._wake.set  # what the cloud has may now leave the card
        try:
            if await sync_sms(modem, outbox):
                reporter.wake()
        except (SmsError, SmsOutboxError) as exc:
            log.warning("SMS: %s", exc)

    def _select_card(self, iccid: str | None) -> Reporter | None:
        """Switch reporting to card `iccid` when it is a new one; returns the new reporter."""
        if iccid is None:
            return None
        try:
            reporter, new = self.hub.use(iccid)
        except ValueError as exc:  # an ICCID the wire schema refuses (WireError)
            log.error("SIM: cannot report for card %r: %s", iccid, exc)
            return None
        if new:
            self.state.detach()
            return reporter
        return None

    # --- what the control socket and systemd are told ---------------------------------

    def answer(self, question: str) -> object:
        """The latest document for a one-shot command (`sim`, `net`, `internet`, `usage`)."""
        if question == "usage":
            source = self._usage_source()
            if source is None:
                raise LookupError("the daemon has not chosen its usage source yet")
            return self.metering.meter.total(source.name).to_json()
        if not self.state.modem_present and not self.state.sim:
            raise LookupError("the daemon is waiting for the modem")
        if question == "sim":
            if not self.state.sim:
                raise LookupError("the daemon has not read the SIM yet")
            return dict(self.state.sim)
        return dict(self.state.net if question == "net" else self.state.internet)

    def describe(self) -> str:
        """One line for systemd's `STATUS=`."""
        if not self.state.modem_present:
            return "waiting for the modem"
        internet = "connected" if self.state.internet.get("active") else "not connected"
        sim = self.state.sim.get("state") or "unknown"
        net = self.state.net.get("registration") or "unknown"
        return f"SIM {sim}, network {net}, internet {internet}"

    # --- commands and metering --------------------------------------------------------

    async def _on_command(self, command: Command) -> None:
        if command.op is Op.INTERNET_ON:
            self.connection.want(True)
        elif command.op is Op.INTERNET_OFF:
            self.connection.want(False)
        elif command.op is Op.REPORT_NOW:
            await self.metering.measure_once()
        self._wake.set()

    def _usage_source(self) -> UsageSource | None:
        if self.datapath.configured and self.config.usage.source == "auto":
            return self._os_source  # the packets cross the host interface: meter it
        if self._use_modem_counters is None:
            return None  # auto, and no modem seen yet to ask
        return self._modem_source if self._use_modem_counters else self._os_source

    def _usage_target(self) -> tuple[Recorder, str | None] | None:
        reporter = self.hub.reporter
        return None if reporter is None else (reporter, self._imei)


def _broker(config: DaemonConfig) -> Broker:
    mqtt = config.mqtt
    tls = None
    if mqtt.tls:
        tls = ssl.create_default_context(
            cafile=str(mqtt.ca_file) if mqtt.ca_file is not None else None
        )
    return Broker(mqtt.host, mqtt.port, tls=tls, keepalive=mqtt.keepalive_s)
