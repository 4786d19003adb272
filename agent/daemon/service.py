"""Running the daemon as a process: state directory, signals, exit codes, log set-up."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from agent.daemon.config import DaemonConfig
from agent.daemon.control import ControlServer
from agent.daemon.supervisor import Daemon, DaemonFailed
from agent.daemon.systemd import JournalFormatter, Notifier, supervise, under_journal
from agent.modem.ownership import PortBusy, PortLock, socket_path
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile
from agent.state_dir import state_dir as default_state_dir
from agent.usage.meter import MeterStateError
from simgate_common.exit_codes import ExitCode

log = logging.getLogger("agent.daemon")

EXIT_FAILED = 1
"""The daemon stopped by itself (e.g. the outbox cannot be written); systemd restarts it."""
_DEBUG_ONLY = ("agent.usage.meter", "agent.progress")
"""Loggers that say something every interval: their INFO lines only with -v."""
_QUIET_LOGGERS = ("agent.reporting.publisher.paho",)


def configure_logging(verbosity: int) -> None:
    """INFO (one line per state change) by default; DEBUG, with the AT traffic, with -v.

    Under journald (`$JOURNAL_STREAM` naming stderr) lines carry their syslog priority
    and no time stamp: the journal adds its own.
    """
    handler = logging.StreamHandler(sys.stderr)
    if under_journal():
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbosity else logging.INFO, handlers=[handler])
    if verbosity == 0:  # the daemon logs each record itself
        for name in _DEBUG_ONLY:
            logging.getLogger(name).setLevel(logging.WARNING)
    if verbosity < 2:  # paho's packet log only with -vv
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)


def resolve_state_dir(config: DaemonConfig) -> Path:
    """`[state] dir`, else `$SIMGATE_STATE_DIR` and its fallbacks; created owner-only."""
    if config.state_dir is None:
        return default_state_dir()
    config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return config.state_dir


async def serve(config: DaemonConfig, state: Path) -> None:
    """Run the daemon until SIGTERM or SIGINT, owning its port and telling systemd."""
    lock = None if config.modem.auto else PortLock(config.modem.port)
    if lock is not None:
        lock.acquire()  # PortBusy: another daemon (or program) has this modem
    daemon = Daemon(config, state_dir=state)
    control = None if lock is None else ControlServer(socket_path(lock.url), daemon.answer)
    notifier = Notifier()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, _stop, daemon, number)
    watch = asyncio.create_task(
        supervise(notifier, daemon.checked, describe=daemon.describe), name="simgate-systemd"
    )
    try:
        if control is not None:
            await control.start()
        log.info(
            "starting: modem %s, broker %s:%d, state in %s",
            config.modem.port,
            config.mqtt.host,
            config.mqtt.port,
            state,
        )
        await daemon.run()
    finally:
        notifier.send("STOPPING=1")
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        if control is not None:
            await control.close()
        for number in signals:
            loop.remove_signal_handler(number)
        if lock is not None:
            lock.release()


def _stop(daemon: Daemon, number: int) -> None:
    log.info("%s received; stopping", signal.Signals(number).name)
    daemon.stop()


def run(config: DaemonConfig) -> int:
    """Run the daemon in this process; returns the exit status (contracts §1)."""
    return run_reporting(config)[0]


def run_reporting(config: DaemonConfig) -> tuple[int, str | None]:
    """Like `run`, with why it stopped when it failed (logged too)."""
    try:
        state = resolve_state_dir(config)
        asyncio.run(serve(config, state))
    except PortBusy as exc:
        return _failed(ExitCode.UNREACHABLE, str(exc))
    except UnsafeSecretFile as exc:  # changed since the config was checked
        return _failed(ExitCode.REFUSED_BY_SAFETY_RULE, f"refused: {exc}")
    except (MeterStateError, SecretSourceError, OSError) as exc:  # a bad state or secret file
        return _failed(ExitCode.BAD_INPUT, str(exc))
    except DaemonFailed as exc:
        return _failed(EXIT_FAILED, f"giving up: {exc}")
    return ExitCode.OK, None


def _failed(code: int, message: str) -> tuple[int, str]:
    log.error("%s", message)
    return code, message
