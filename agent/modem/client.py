"""The asyncio modem client: one command in flight, timeouts, resync, URC callbacks.

`Modem` joins a transport (I/O) to the sans-I/O `AtEngine` (meaning). Modem-reported
errors come back as `Response.result` values; transport trouble raises `OSError`
subclasses (`ModemTimeout`, `ModemUnavailable`, `ModemRebooted`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType

from agent.at import commands
from agent.at.commands import Command
from agent.at.engine import (
    AtEngine,
    Data,
    Event,
    Garbage,
    LateResult,
    Prompt,
    Reboot,
    Response,
    State,
    Urc,
)
from agent.at.errors import ModemRebooted, ModemTimeout, ModemUnavailable
from agent.modem.transport import Transport, open_transport

log = logging.getLogger(__name__)
progress = logging.getLogger("agent.progress")
"""The waits a person sits through; the CLI shows them on a terminal."""
DONE = {"done": True}

UrcHandler = Callable[[str], None]
RebootHandler = Callable[[str], None]

PREPARE_COMMANDS = (
    commands.execute("E0", timeout=2.0),
    commands.execute("V1", timeout=2.0),
    commands.write("+CMEE", 1, timeout=2.0),
)
RESYNC_ATTEMPTS = 5
RESYNC_TIMEOUT = 2.0


class _Expired(Exception):
    """A command's timer ran out (internal to `Modem._exchange`)."""


def _expire(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(_Expired())


def _call_safely(handler: Callable[[str], None], text: str, what: str) -> None:
    """A callback's failure is logged, never allowed to lose the rest of the bytes."""
    try:
        handler(text)
    except Exception:
        log.exception("%s %r failed", what, handler)


def _loggable(line: str, command: Command | None) -> str:
    """`line` fit for a log: echoes and the pending command's secret values hidden."""
    if line[:2].upper() == "AT":
        return "<echo>"
    if command is not None and command.line != command.masked:
        return "<answer to a command with secrets>"
    return line


class Modem:
    """An open modem port speaking AT. Use `await Modem.open(url)` or `async with`."""

    def __init__(self) -> None:
        self._engine = AtEngine()
        self._transport: Transport | None = None
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[Response] | None = None
        self._urc_handlers: list[UrcHandler] = []
        self._reboot_handlers: list[RebootHandler] = []
        self._lost: OSError | None = None
        self._needs_prepare = False

    @classmethod
    async def open(cls, url: str, *, baudrate: int = 115200, prepare: bool = True) -> Modem:
        """Open the port at `url` (device path, pty, `socket://`, `loop://`).

        With `prepare` (the default) the line is set up as ModemManager does: echo off,
        verbose result codes, numeric `+CME ERROR` codes.
        """
        modem = cls()
        modem._transport = await open_transport(
            url, modem._on_bytes, modem._on_lost, baudrate=baudrate
        )
        log.debug("opened modem port %s", url)
        if prepare:
            try:
                await modem.prepare()
            except BaseException:
                await modem.close()
                raise
        return modem

    async def prepare(self) -> None:
        """`ATE0`, `ATV1`, `AT+CMEE=1`; a modem that refuses one is left as it is.

        Run again by itself before the first command after the modem restarts, since a
        restart brings back the modem's defaults (often `+CMEE=0`: plain `ERROR`).
        """
        async with self._lock:
            self._needs_prepare = False
            await self._prepare_locked()

    async def _prepare_locked(self) -> None:
        for command in PREPARE_COMMANDS:
            response = await self._exchange(command, resync_on_timeout=True)
            if not response.result.ok:
                log.info("modem refused %s (%s); going on", command.masked, response.result)

    async def __aenter__(self) -> Modem:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The URL the port was opened with."""
        return self._transport.url if self._transport else ""

    def on_urc(self, handler: UrcHandler) -> None:
        """Call `handler(line)` for every unsolicited line."""
        self._urc_handlers.append(handler)

    def on_reboot(self, handler: RebootHandler) -> None:
        """Call `handler(banner)` when the modem announces a restart."""
        self._reboot_handlers.append(handler)

    async def close(self) -> None:
        """Release the port; a pending command fails with `ModemUnavailable`."""
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.close()
            self._fail_waiter(ModemUnavailable(f"modem port {transport.url} was closed"))

    async def command(self, command: Command) -> Response:
        """Send `command` and return its complete answer.

        Waits for any command already in flight. On timeout the engine drops the command,
        the line is resynchronised (`AT` until `OK`), and `ModemTimeout` is raised.
        """
        async with self._lock:
            if self._needs_prepare:
                self._needs_prepare = False
                await self._prepare_locked()
            return await self._exchange(command, resync_on_timeout=True)

    async def _exchange(self, command: Command, *, resync_on_timeout: bool) -> Response:
        transport = self._require_transport()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Response] = loop.create_future()
        self._waiter = waiter
        try:
            wire = self._engine.send(command)
        except BaseException:
            self._waiter = None
            raise
        log.debug("→ %s", command.masked)
        # call_later on the future itself: cheaper than asyncio.timeout() on this hot path.
        timer = loop.call_later(command.timeout, _expire, waiter)
        try:
            try:
                transport.write(wire)
            except OSError:
                self._engine.abandon(owes_result=False)  # it never reached the modem
                raise
            return await waiter
        except _Expired:
            self._give_up_pending()
            log.warning("no answer to %s within %.1f s", command.masked, command.timeout)
            if resync_on_timeout:
                await self._resync()
            raise ModemTimeout(
                f"modem gave no answer to {command.masked} within {command.timeout:g} s"
            ) from None
        except BaseException:
            # Cancelled, or the port went away: the engine must not stay waiting.
            self._give_up_pending()
            raise
        finally:
            timer.cancel()
            self._waiter = None

    def _give_up_pending(self) -> None:
        """Abandon what the engine waits for; leave a `> ` prompt with ESC first."""
        if self._engine.state is State.PROMPT and self._transport is not None:
            with contextlib.suppress(OSError):
                self._transport.write(b"\x1b")
        self._engine.abandon()

    async def resync(self) -> None:
        """Bring the line back to a known state: send `AT` until the modem says `OK`."""
        async with self._lock:
            await self._resync()

    async def _resync(self) -> None:
        """Probe with `AT` until `OK`; the engine swallows answers owed to abandoned commands.

        A probe that times out after a late answer was swallowed means the line went
        quiet: whatever was owed has arrived (or never will), so the debt is forgiven.
        """
        probe = commands.execute("", timeout=RESYNC_TIMEOUT)
        began = time.monotonic()
        for attempt in range(1, RESYNC_ATTEMPTS + 1):
            progress.info(
                "the modem on %s does not answer: attempt %d/%d, %.0f s",
                self.url,
                attempt,
                RESYNC_ATTEMPTS,
                time.monotonic() - began,
            )
            swallowed = self._engine.late_results
            try:
                response = await self._exchange(probe, resync_on_timeout=False)
            except ModemRebooted:
                continue
            except ModemTimeout:
                if self._engine.late_results > swallowed:
                    self._engine.forgive()
                    log.debug("line quiet after a late answer; resynchronised")
                    progress.info("the modem on %s answers again", self.url, extra=DONE)
                    return
                continue
            if response.result.ok:
                log.debug("line resynchronised after %d probe(s)", attempt)
                progress.info("the modem on %s answers again", self.url, extra=DONE)
                return
        self._engine.forgive()
        progress.info(
            "the modem on %s did not answer %d probes in %.0f s",
            self.url,
            RESYNC_ATTEMPTS,
            time.monotonic() - began,
            extra=DONE,
        )
        log.warning("could not resynchronise with the modem on %s", self.url)

    def _require_transport(self) -> Transport:
        if self._lost is not None:
            raise ModemUnavailable(str(self._lost))
        if self._transport is None:
            raise ModemUnavailable("modem port is not open")
        return self._transport

    def _on_bytes(self, data: bytes) -> None:
        for event in self._engine.receive_data(data):
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Response):
            if log.isEnabledFor(logging.DEBUG):
                for line in event.lines:
                    log.debug("← %s", _loggable(line, event.command))
                log.debug("← %s", event.result)
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(event)
        elif isinstance(event, Urc):
            log.debug("← URC %s", _loggable(event.line, None))
            for handler in self._urc_handlers:
                _call_safely(handler, event.line, "URC handler")
        elif isinstance(event, Reboot):
            log.warning("modem restarted (%s)", event.banner)
            self._needs_prepare = True
            if event.abandoned is not None:
                self._fail_waiter(ModemRebooted(f"modem restarted during {event.abandoned.masked}"))
            for reboot_handler in self._reboot_handlers:
                _call_safely(reboot_handler, event.banner, "reboot handler")
        elif isinstance(event, Garbage):
            log.debug("← %d bytes that are not a line of text", len(event.data))
        elif isinstance(event, LateResult):
            log.debug("← %s (late answer to an abandoned command)", event.result)
            if self._engine.in_data_mode:
                self._fail_waiter(
                    ModemUnavailable(
                        "the modem answered an abandoned dial with CONNECT and is in data "
                        "mode; reopen the port to hang up"
                    )
                )
        elif isinstance(event, Data | Prompt):
            log.debug("← %s", type(event).__name__)

    def _fail_waiter(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def _on_lost(self, exc: OSError) -> None:
        log.warning("%s", exc)
        self._lost = exc
        self._fail_waiter(exc)

    @property
    def in_data_mode(self) -> bool:
        """True after `CONNECT`, until the data call is over."""
        return self._engine.in_data_mode
