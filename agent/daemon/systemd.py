"""Living under systemd: readiness, the watchdog, and journal-friendly log lines.

`Type=notify`: the daemon says `READY=1` once the SIM and connection states are known
(after its first check of the modem), or, with no modem yet, after a grace period saying
so in `STATUS=`; from then on it pets the watchdog (`WATCHDOG=1`) every half
`WatchdogSec=` from its event loop, so a hung loop stops the petting and systemd
restarts the daemon. The datagrams go through sdnotify (`$NOTIFY_SOCKET`).

Under journald (`$JOURNAL_STREAM` naming our stderr) the journal stamps the time, so
lines carry none, and each line starts with its syslog priority (`<4>` for a warning),
which journald reads (`SyslogLevelPrefix=`, on by default).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Final

import sdnotify

log = logging.getLogger(__name__)

READY_GRACE: Final = 30.0
"""Seconds to wait for a first check before saying ready without a modem."""
_PRIORITIES: Final = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def under_journal() -> bool:
    """True when stderr is the journal's stream (`$JOURNAL_STREAM` is `dev:inode` of it)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        found = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (found.st_dev, found.st_ino) == (device, inode)


class JournalFormatter(logging.Formatter):
    """`<priority>level logger: message`, without a time stamp (journald adds it)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Each line of the record with the record's syslog priority in front."""
        priority = _PRIORITIES.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def watchdog_interval() -> float | None:
    """Half of `WatchdogSec=` (from `$WATCHDOG_USEC`) when it is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1e6
    except ValueError:
        return None
    return seconds / 2 if seconds > 0 else None


class Notifier:
    """sd_notify messages; a no-op outside systemd (no `$NOTIFY_SOCKET`)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None

    def send(self, *fields: str) -> None:
        """Send `KEY=value` lines as one datagram."""
        if self._notifier is not None:
            self._notifier.notify("\n".join(fields))


async def supervise(
    notifier: Notifier,
    checked: asyncio.Event,
    *,
    describe: Callable[[], str],
    grace: float = READY_GRACE,
) -> None:
    """Pet the watchdog from the start; say ready once `checked` is set (or after `grace`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    interval = watchdog_interval()
    ready = False
    while True:
        if not ready and (checked.is_set() or loop.time() >= deadline):
            if not checked.is_set():
                log.info("no modem check finished in %g s; telling systemd we are up", grace)
            notifier.send("READY=1", f"STATUS={describe()}")
            ready = True
        if interval is not None:
            notifier.send("WATCHDOG=1")
        elif ready:
            return
        wait = interval if interval is not None else grace
        if not ready:
            wait = min(wait, max(0.0, deadline - loop.time()))
        try:
            async with asyncio.timeout(wait):
                await (asyncio.Event().wait() if ready else checked.wait())
        except TimeoutError:
            pass
