"""Running the daemon as a process: state directory, signals, exit codes, log set-up."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from agent.daemon.config import DaemonConfig
from agent.daemon.supervisor import Daemon, DaemonFailed
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile
from agent.state_dir import state_dir as default_state_dir
from agent.usage.meter import MeterStateError
from simgate_common.exit_codes import ExitCode

log = logging.getLogger("agent.daemon")

EXIT_FAILED = 1
"""The daemon stopped by itself (e.g. the outbox cannot be written); systemd restarts it."""
_DEBUG_ONLY = ("agent.usage.meter",)
"""Loggers that say something every interval: their INFO lines only with -v."""
_QUIET_LOGGERS = ("agent.reporting.publisher.paho",)


def configure_logging(verbosity: int) -> None:
    """INFO (one line per state change) by default; DEBUG, with the AT traffic, with -v.

    Under systemd (`$JOURNAL_STREAM` set) the journal adds the time, so lines leave it out.
    """
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(
        level=logging.DEBUG if verbosity else logging.INFO, stream=sys.stderr, format=fmt
    )
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
    """Run the daemon until SIGTERM or SIGINT."""
    daemon = Daemon(config, state_dir=state)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, _stop, daemon, number)
    try:
        log.info(
            "starting: modem %s, broker %s:%d, state in %s",
            config.modem.port,
            config.mqtt.host,
            config.mqtt.port,
            state,
        )
        await daemon.run()
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


def _stop(daemon: Daemon, number: int) -> None:
    log.info("%s received; stopping", signal.Signals(number).name)
    daemon.stop()


def run(config: DaemonConfig) -> int:
    """Run the daemon in this process; returns the exit status (contracts §1)."""
    try:
        state = resolve_state_dir(config)
        asyncio.run(serve(config, state))
    except UnsafeSecretFile as exc:  # changed since the config was checked
        log.error("refused: %s", exc)
        return ExitCode.REFUSED_BY_SAFETY_RULE
    except (MeterStateError, SecretSourceError, OSError) as exc:  # a bad state or secret file
        log.error("%s", exc)
        return ExitCode.BAD_INPUT
    except DaemonFailed as exc:
        log.error("giving up: %s", exc)
        return EXIT_FAILED
    return ExitCode.OK
