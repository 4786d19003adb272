"""Waiting for the modem: a fixed port opened with backoff, or one found with udev.

`FixedPortWatcher` retries `Modem.open(url)` with a capped backoff until it works, and
says the port is gone when its device path disappears (USB re-enumeration removes
`/dev/ttyUSB2`; a dangling symlink counts as gone). `UdevWatcher` (`port = "auto"`)
lists modems with `discover()` and, when there is none it can open, waits for a tty
`add` event from udev; a `remove` event for the open port says it is gone. The device
list and the event stream are injected (`find`, `events`) so tests can fake the bus;
`PyudevEvents` is the real stream, a `pyudev.MonitorObserver` thread feeding the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from agent.discovery.discover import DiscoveredModem, discover
from agent.modem.client import Modem
from agent.reporting.backoff import Backoff

log = logging.getLogger(__name__)

DEFAULT_BACKOFF = Backoff(initial=0.5, maximum=30.0)
PATH_POLL_SECONDS = 1.0
RESCAN_SECONDS = 30.0

EventCallback = Callable[[str, str], None]
"""`(action, device_node)`, e.g. `("add", "/dev/ttyUSB2")`; may be called from any thread."""


class ModemWatcher(Protocol):
    """Finds and opens the modem's AT port, and tells when it has gone away."""

    async def open(self) -> Modem:
        """Wait until a modem port opens; return it (prepared: `ATE0`, `ATV1`, `+CMEE=1`)."""
        ...

    async def gone(self, modem: Modem) -> None:
        """Return once the port of `modem` has disappeared (never, if that cannot be told)."""
        ...

    async def aclose(self) -> None:
        """Stop watching (threads, monitors)."""
        ...


class FixedPortWatcher:
    """A port named in the config: a device path, a symlink to one, or any pyserial URL."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        backoff: Backoff = DEFAULT_BACKOFF,
        path_poll: float = PATH_POLL_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.backoff = backoff
        self.path_poll = path_poll
        self._rng = rng or random.Random()

    async def open(self) -> Modem:
        """Retry opening the port (capped exponential backoff) until it answers."""
        attempt = 0
        while True:
            try:
                modem = await Modem.open(self.url, baudrate=self.baudrate)
            except OSError as exc:
                delay = self.backoff.delay(attempt, self._rng)
                level = logging.WARNING if attempt == 0 else logging.DEBUG
                log.log(level, "modem: %s; retrying in %.1f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            log.info("modem: opened %s", self.url)
            return modem

    async def gone(self, modem: Modem) -> None:
        """Poll the device path (not for `socket://` and other URLs: never returns)."""
        if "://" in self.url:
            await asyncio.Event().wait()
        while True:  # a path has no event to wait on; a stat is cheap
            await asyncio.sleep(self.path_poll)
            if not os.path.exists(self.url):  # noqa: ASYNC240 (a stat of a device node)
                break
        log.info("modem: %s has disappeared", self.url)

    async def aclose(self) -> None:
        """Nothing to release."""


class UdevEvents(Protocol):
    """A stream of tty hot-plug events."""

    def start(self, callback: EventCallback) -> None:
        """Call `callback(action, device_node)` for every tty event from now on."""
        ...

    def stop(self) -> None:
        """Stop calling back, and release the monitor."""
        ...


class PyudevEvents:
    """The real event stream: a pyudev monitor on the `tty` subsystem, in a thread."""

    def __init__(self) -> None:
        self._observer: object | None = None

    def start(self, callback: EventCallback) -> None:
        """Start a `pyudev.MonitorObserver` thread."""
        import pyudev  # needs libudev: imported only when `port = "auto"`

        monitor = pyudev.Monitor.from_netlink(pyudev.Context())
        monitor.filter_by("tty")

        def forward(device: object) -> None:
            action, node = getattr(device, "action", None), getattr(device, "device_node", None)
            if action and node:
                callback(str(action), str(node))

        observer = pyudev.MonitorObserver(monitor, callback=forward, name="simgate-udev")
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        """Stop the observer thread (it is joined)."""
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()  # type: ignore[attr-defined]


class UdevWatcher:
    """`port = "auto"`: the AT port of the first modem `discover()` finds that opens."""

    def __init__(
        self,
        *,
        baudrate: int = 115200,
        find: Callable[[], Sequence[DiscoveredModem]] = discover,
        events: UdevEvents | None = None,
        rescan: float = RESCAN_SECONDS,
    ) -> None:
        self.baudrate = baudrate
        self._find = find
        self._events = events if events is not None else PyudevEvents()
        self._rescan = rescan
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._removed: dict[str, asyncio.Event] = {}
        self.modem: DiscoveredModem | None = None
        """The modem last opened (its network interface, for instance)."""

    def _on_event(self, action: str, node: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._note, action, node)

    def _note(self, action: str, node: str) -> None:
        log.debug("udev: %s %s", action, node)
        if action == "remove" and node in self._removed:
            self._removed[node].set()
        self._queue.put_nowait((action, node))

    def _start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._events.start(self._on_event)

    async def open(self) -> Modem:
        """Scan, try each modem's AT port; else wait for a tty to appear (or rescan)."""
        self._start()
        told = False
        while True:
            while not self._queue.empty():  # what happened before this scan is in it
                self._queue.get_nowait()
            try:
                found = await asyncio.to_thread(self._find)
            except (ImportError, OSError) as exc:
                log.warning("udev: cannot list devices: %s", exc)
                found = []
            for candidate in found:
                modem = await self._try(candidate)
                if modem is not None:
                    return modem
            if not told:
                log.info("modem: none found; waiting for one to be plugged in")
                told = True
            await self._wait_for_add()

    async def _try(self, candidate: DiscoveredModem) -> Modem | None:
        if candidate.at_port is None:
            log.info("modem: %s %s has no known AT port", candidate.vendor, candidate.model)
            return None
        try:
            modem = await Modem.open(candidate.at_port, baudrate=self.baudrate)
        except OSError as exc:
            log.warning("modem: %s", exc)
            return None
        self.modem = candidate
        self._removed[candidate.at_port] = asyncio.Event()
        log.info("modem: opened %s (%s %s)", candidate.at_port, candidate.vendor, candidate.model)
        return modem

    async def _wait_for_add(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._rescan):
                while (await self._queue.get())[0] != "add":
                    pass
                await asyncio.sleep(0.2)  # let udev finish the device's other ports

    async def gone(self, modem: Modem) -> None:
        """Wait for udev's `remove` of this port."""
        event = self._removed.setdefault(modem.url, asyncio.Event())
        try:
            await event.wait()
            log.info("modem: %s was unplugged", modem.url)
        finally:
            self._removed.pop(modem.url, None)

    async def aclose(self) -> None:
        """Stop the event stream."""
        if self._loop is not None:
            self._loop = None
            await asyncio.to_thread(self._events.stop)


def make_watcher(port: str, baudrate: int, backoff: Backoff = DEFAULT_BACKOFF) -> ModemWatcher:
    """The watcher for a `[modem] port` value."""
    if port == "auto":
        return UdevWatcher(baudrate=baudrate)
    return FixedPortWatcher(port, baudrate=baudrate, backoff=backoff)
