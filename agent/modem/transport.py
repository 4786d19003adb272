"""Byte transports for a modem port, opened by URL like pyserial's `serial_for_url`.

A device path, a pty, `socket://host:port` and `loop://` all open the same way, with no
simulated-modem branches. Opening runs off the event loop (it can block on a slow USB
tty). Ports with a file descriptor are read with `loop.add_reader` (one `os.read` per
wake-up, the cheapest path); ports without one (`loop://`) are read by a small thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Protocol

import serial

from agent.at.errors import ModemUnavailable
from agent.modem.ownership import BadPortUrl, PortBusy, holder_of

log = logging.getLogger(__name__)

Receiver = Callable[[bytes], None]
LostHandler = Callable[[OSError], None]

READ_CHUNK = 65536
EMPTY_READS_MEAN_HANGUP = 3


class Transport(Protocol):
    """What the modem client needs from a port."""

    url: str

    def write(self, data: bytes) -> None:
        """Queue `data` for the modem."""

    async def close(self) -> None:
        """Stop reading and release the port."""


async def open_transport(
    url: str,
    receiver: Receiver,
    on_lost: LostHandler,
    *,
    baudrate: int = 115200,
) -> Transport:
    """Open the port at `url` and start delivering its bytes to `receiver`."""
    loop = asyncio.get_running_loop()
    # exclusive: flock on the device, so a second program cannot interleave its commands
    opener = functools.partial(
        serial.serial_for_url, url, baudrate=baudrate, timeout=0, write_timeout=5, exclusive=True
    )
    check_port_url(url)
    try:
        port = await loop.run_in_executor(None, opener)
    except (serial.SerialException, OSError, ValueError) as exc:
        if getattr(exc, "errno", None) in (errno.EAGAIN, errno.EACCES) and (
            "exclusively lock" in str(exc)
        ):
            holder = await loop.run_in_executor(None, holder_of, url)
            raise PortBusy(url, holder) from None
        raise ModemUnavailable(f"cannot open modem port {url}: {exc}") from exc
    try:
        fd = port.fileno()
    except (AttributeError, OSError, ValueError, serial.SerialException):
        fd = None
    if fd is None:
        return _ThreadTransport(url, port, receiver, on_lost)
    return _FdTransport(url, port, fd, receiver, on_lost, loop)


def check_port_url(url: str) -> None:
    """Raise `BadPortUrl` when `url` has a scheme pyserial does not know (bad usage)."""
    if "://" not in url or url.startswith("/"):
        return
    try:
        serial.serial_for_url(url, do_not_open=True)
    except ValueError as exc:
        if "protocol" not in str(exc):
            return  # a known scheme with a bad rest: opening says what is wrong
        scheme = url.split("://", 1)[0]
        raise BadPortUrl(
            f"modem port {url}: unknown URL scheme {scheme!r} (a device path, a pty path, "
            "socket://host:port, rfc2217://host:port or loop://)"
        ) from None
    except (serial.SerialException, OSError):
        return


class _FdTransport:
    """A port with a file descriptor, read from the event loop itself."""

    def __init__(
        self,
        url: str,
        port: serial.SerialBase,
        fd: int,
        receiver: Receiver,
        on_lost: LostHandler,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.url = url
        self._port = port
        self._fd = fd
        self._receiver = receiver
        self._on_lost = on_lost
        self._loop = loop
        self._socket_like = not isinstance(port, serial.Serial)
        self._empty_reads = 0
        loop.add_reader(fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = (
                self._port.read(READ_CHUNK) if self._socket_like else os.read(self._fd, READ_CHUNK)
            )
        except (BlockingIOError, InterruptedError):
            return  # a spurious wake-up of a non-blocking fd, not a lost port
        except (OSError, serial.SerialException) as exc:
            self._lose(ModemUnavailable(f"modem port {self.url} failed: {exc}"))
            return
        if data:
            self._empty_reads = 0
            self._receiver(data)
        elif not self._socket_like:
            # A tty in polling mode (VMIN=0, VTIME=0, as pyserial sets it) reads 0 bytes on
            # a spurious wake-up too; a hung-up tty stays readable and does it again at once.
            self._empty_reads += 1
            if self._empty_reads >= EMPTY_READS_MEAN_HANGUP:
                self._lose(ModemUnavailable(f"modem port {self.url} was closed"))

    def _lose(self, exc: OSError) -> None:
        self._loop.remove_reader(self._fd)
        self._on_lost(exc)

    def write(self, data: bytes) -> None:
        try:
            if self._socket_like:
                self._port.write(data)
                return
            # A tty takes a command line whole; pyserial's write() would add a select().
            written = os.write(self._fd, data)
            if written < len(data):
                self._port.write(data[written:])
        except (OSError, serial.SerialException) as exc:
            raise ModemUnavailable(f"cannot write to modem port {self.url}: {exc}") from exc

    async def close(self) -> None:
        self._loop.remove_reader(self._fd)
        with contextlib.suppress(OSError, serial.SerialException):
            self._port.close()


class _ThreadTransport:
    """A port without a file descriptor (`loop://`), read by a thread."""

    POLL_SECONDS = 0.05

    def __init__(
        self, url: str, port: serial.SerialBase, receiver: Receiver, on_lost: LostHandler
    ) -> None:
        self.url = url
        self._port = port
        self._port.timeout = self.POLL_SECONDS
        self._receiver = receiver
        self._on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"modem-reader {url}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(max(1, getattr(self._port, "in_waiting", 0)))
            except (OSError, serial.SerialException) as exc:
                if not self._stop.is_set():
                    lost = ModemUnavailable(f"modem port {self.url} failed: {exc}")
                    self._loop.call_soon_threadsafe(self._on_lost, lost)
                return
            if data:
                self._loop.call_soon_threadsafe(self._receiver, data)

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (OSError, serial.SerialException) as exc:
            raise ModemUnavailable(f"cannot write to modem port {self.url}: {exc}") from exc

    async def close(self) -> None:
        self._stop.set()
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 2.0)
        with contextlib.suppress(OSError, serial.SerialException):
            self._port.close()
