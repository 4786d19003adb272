"""Serve an `Interpreter` on a pseudo-terminal from a background thread.

Theory of the pty. The stub keeps the master; clients open the slave path. The stub
closes its own copy of the slave, so when no client has the slave open, reading the
master fails with EIO (and epoll reports a hang-up at once): that is how a client
closing the port - the only "hang-up" a pty has, as it has no DTR - is seen. While no
client is there the server sleeps `IDLE_POLL` between probes instead of spinning, and
drops output (nobody would read it; stale bytes would greet the next client). When a
probe read does not fail, a client is back and the server selects on the master again.

When the carrier meters traffic, a second thread (the ticker) reports it every
`interval` seconds. It holds the modem's lock only to take and to book a report, never
during the network request, so AT commands are not held up by a slow network.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import selectors
import threading
import time
import tty
from pathlib import Path
from types import TracebackType
from typing import Protocol

from firmware_stubs.card import SimCard, is_msisdn, load_card
from firmware_stubs.commands_sms import DeliveryOutcome
from firmware_stubs.dialects import Dialect
from firmware_stubs.faults import Faults, OutputCorrupter
from firmware_stubs.interpreter import Interpreter
from firmware_stubs.network import Network
from firmware_stubs.sms_network import fetch_messages, report_delivery
from firmware_stubs.state import REGISTERED, NetworkProfile
from firmware_stubs.traffic import TrafficMeter

logger = logging.getLogger(__name__)

IDLE_POLL = 0.02  # seconds between probes while no client has the port open
READ_SIZE = 4096


class AtDevice(Protocol):
    """What the server drives: an `Interpreter`, or a `ReplayModem` (sans-I/O both)."""

    def receive_data(self, data: bytes) -> bytes:
        """Bytes from the host in, the modem's answer out."""
        ...

    def poll(self) -> bytes:
        """Fire due timers."""
        ...

    def next_deadline(self) -> float | None:
        """When `poll` has something to do."""
        ...

    def host_closed(self) -> None:
        """The host closed the port."""
        ...

    def reboot(self) -> bytes:
        """Reboot now; returns the banner."""
        ...

    def network_changed(self) -> bytes:
        """The network may answer differently now."""
        ...

    def shutdown(self) -> None:
        """Power off."""
        ...


class StubModem:
    """A simulated modem on a new pty, served by a background thread.

    Use as a context manager (or `start()` / `stop()`); `device_path` is the slave path
    to open with pyserial; `card` is the live card model; `reboot()` reboots it now.
    With `device` (e.g. a `ReplayModem`) it serves that instead of a simulated modem.
    """

    def __init__(
        self,
        card_path: Path | None = None,
        dialect: str | Dialect = "generic",
        faults: Faults | None = None,
        imei: str | None = None,
        *,
        card: SimCard | None = None,
        network: NetworkProfile | None = None,
        carrier: Network | None = None,
        device: AtDevice | None = None,
    ) -> None:
        """Give either `card_path` (a card file, created if absent) or a `card` model;
        `carrier` decides attaches (default: every SIM registers home). Or give only
        `device`, a ready modem to serve (a transcript replay)."""
        self.faults = faults or Faults()
        self._interpreter: Interpreter | None = None
        if device is not None:
            if card is not None or card_path is not None:
                raise ValueError("a device brings its own card: give no card_path or card")
            self._device: AtDevice = device
        else:
            if (card is None) == (card_path is None):
                raise ValueError("give exactly one of card_path and card")
            model = card if card is not None else load_card(Path(str(card_path)))
            self._interpreter = Interpreter(
                model, dialect, imei=imei, network=network, faults=self.faults, carrier=carrier
            )
            self._device = self._interpreter
        self._corrupter = OutputCorrupter(self.faults)
        self._lock = threading.Lock()
        self._master: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._client = False
        self._out = bytearray()
        self.device_path = ""

    @property
    def interpreter(self) -> Interpreter:
        """The simulated modem (`TypeError` when serving a replay)."""
        if self._interpreter is None:
            raise TypeError("this stub serves a replay, not a simulated modem")
        return self._interpreter

    @property
    def device(self) -> AtDevice:
        """What the server drives."""
        return self._device

    @property
    def card(self) -> SimCard:
        """The live SIM card model (read its counters in tests)."""
        return self.interpreter.card

    @property
    def traffic(self) -> TrafficMeter:
        """The traffic meter: bytes the network accepted, this session and in total."""
        return self.interpreter.state.meter

    def start(self) -> StubModem:
        """Open the pty and start serving; returns self."""
        if self._thread is not None:
            raise RuntimeError("the stub is already running")
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            self.device_path = os.ttyname(slave)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve,
            args=(master, self._wake_r),
            name=f"stub-modem {self.device_path}",
            daemon=True,
        )
        self._thread.start()
        profile = self._interpreter.state.carrier.traffic if self._interpreter else None
        if profile is not None:
            self._ticker = threading.Thread(
                target=self._tick,
                args=(profile.interval,),
                name=f"stub-modem traffic {self.device_path}",
                daemon=True,
            )
            self._ticker.start()
        what = self._interpreter.state.dialect.name if self._interpreter else "replay"
        logger.info("stub modem (%s) serving on %s", what, self.device_path)
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and close the pty."""
        thread, self._thread = self._thread, None
        ticker, self._ticker = self._ticker, None
        if thread is not None:
            self._stopping.set()
            self._wake()
            for each in (thread, ticker):
                if each is not None:
                    each.join(timeout=10)
                    if each.is_alive():  # pragma: no cover - requests time out sooner
                        raise RuntimeError(f"the thread {each.name} did not stop")
            try:
                self._device.shutdown()  # powered off: the network hears the session end
            except Exception:  # pragma: no cover - a bug: the pty must still be closed
                logger.exception("stub modem shutdown failed")
        for name in ("_master", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def reboot(self) -> None:
        """Reboot the modem now (abandoning any pending command) and send its banner."""
        with self._lock:
            if not self._client and self._master is not None:
                self._read_locked(self._master)  # a client may have opened the port just now
            self._send(self._device.reboot())
        self._wake()

    def network_changed(self) -> None:
        """The carrier's answer may have changed: the modem searches again, with URCs."""
        with self._lock:
            self._send(self._device.network_changed())
        self._wake()

    def deliver_sms(self, sender: str, text: str, when: datetime.datetime) -> DeliveryOutcome:
        """A message from the network: stored on the card and announced as `+CNMI` says."""
        with self._lock:
            outcome = self.interpreter.deliver_sms(sender, text, when)
            self._send(self.interpreter.poll())
        self._wake()
        return outcome

    def exchange_sms(self) -> int:
        """Fetch the card's messages from the network, store them, report each outcome
        (the ticker does this every interval); returns how many were taken."""
        if self._interpreter is None:
            return 0
        carrier = self.interpreter.state.carrier
        with self._lock:
            registered = self.interpreter.state.cs_stat() in REGISTERED
            iccid = self.card.iccid
        inbox = fetch_messages(carrier, iccid) if registered else None
        if inbox is None:
            return 0
        if inbox.msisdn is not None and is_msisdn(inbox.msisdn):
            with self._lock:
                self.card.set_msisdn(inbox.msisdn)
        for message in inbox.messages:
            outcome = self.deliver_sms(message.sender, message.text, message.sent_at)
            delivered = outcome is DeliveryOutcome.DELIVERED
            reason = None if delivered else outcome.value
            report_delivery(carrier, iccid, message.id, delivered, reason)
        return len(inbox.messages)

    def report_traffic(self) -> None:
        """Report the traffic measured since the last report now (the ticker does this
        every interval) and act on the network's answer."""
        if self._interpreter is None:
            return
        with self._lock:
            report = self._interpreter.take_traffic()
        if report is None:
            return
        carrier = self.interpreter.state.carrier
        answer = carrier.report_traffic(self.card.iccid, report.up, report.down)
        with self._lock:
            self._send(self.interpreter.settle_traffic(report, answer))
        self._wake()

    def _tick(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self.report_traffic()
            except Exception:  # pragma: no cover - a bug: log it, keep the modem up
                logger.exception("traffic report failed")
            try:
                self.exchange_sms()
            except Exception:  # pragma: no cover - a bug: log it, keep the modem up
                logger.exception("message exchange failed")

    def __enter__(self) -> StubModem:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wake(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _serve(self, master: int, wake: int) -> None:
        with selectors.DefaultSelector() as active, selectors.DefaultSelector() as idle:
            active.register(wake, selectors.EVENT_READ)
            active.register(master, selectors.EVENT_READ)
            idle.register(wake, selectors.EVENT_READ)
            writing = False
            try:
                while not self._stopping.is_set():
                    if not self._client:
                        idle.select(IDLE_POLL)
                        self._drain_wake(wake)
                        self._read(master)
                    else:
                        if bool(self._out) != writing:
                            writing = bool(self._out)
                            events = selectors.EVENT_READ | (selectors.EVENT_WRITE * writing)
                            active.modify(master, events)
                        for key, mask in active.select(self._timeout()):
                            if key.fd == wake:
                                self._drain_wake(wake)
                            elif mask & selectors.EVENT_READ:
                                self._read(master)
                            if key.fd == master and mask & selectors.EVENT_WRITE:
                                with self._lock:
                                    self._flush()
                    with self._lock:
                        self._send(self._device.poll())
            except Exception:  # pragma: no cover - a bug: log it rather than die silently
                logger.exception("stub modem server crashed")

    def _timeout(self) -> float | None:
        deadline = self._device.next_deadline()
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _drain_wake(self, wake: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(wake, 512)

    def _read(self, master: int) -> None:
        with self._lock:
            self._read_locked(master)

    def _read_locked(self, master: int) -> None:
        try:
            data = os.read(master, READ_SIZE)
        except BlockingIOError:
            self._client = True  # the slave is open, nothing to read yet
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            if self._client:
                logger.debug("client closed %s", self.device_path)
                self._client = False
                self._out.clear()
                self._device.host_closed()
            return
        self._client = True
        self._send(self._device.receive_data(data))

    def _send(self, data: bytes) -> None:
        """Queue output and write what the pty takes now (call with the lock held)."""
        if not data or not self._client:
            return
        self._out += self._corrupter.apply(data)
        self._flush()

    def _flush(self) -> None:
        if not self._out or self._master is None:
            return
        try:
            written = os.write(self._master, self._out)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            self._out.clear()
            return
        del self._out[:written]
