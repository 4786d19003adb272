"""`simgate agent …`: the device agent's command line (contracts §1).

One module per command group (`sim`, `network`, `usage`, `discover`); this one holds the
global options, runs the chosen group and turns its errors into the contract's exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from agent.at.errors import CommandInjectionError
from agent.cli import discover, network, sim, sms, usage
from agent.cli.common import Output
from agent.dialects import DIALECTS
from agent.net.errors import InvalidApn, NetSaidNo
from agent.sim.manager import SimRefused, SimSaidNo, WrongUsage
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile
from agent.usage.meter import MeterStateError
from agent.usage.sources import NoModemCounters
from simgate_common.exit_codes import ExitCode

NEEDS_PORT = ("sim", "net", "internet", "sms")

RUNNERS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, Output]]] = {
    "sim": sim.run,
    "net": network.run_net,
    "internet": network.run_internet,
    "usage": usage.run,
    "discover": discover.run,
    "sms": sms.run,
}


def build_parser() -> argparse.ArgumentParser:
    """The `simgate agent` argument parser."""
    parser = argparse.ArgumentParser(
        prog="simgate agent", description="Drive a cellular modem over AT commands."
    )
    parser.add_argument(
        "--port",
        metavar="URL",
        help="the modem's AT port: /dev/ttyUSB2, a pty path, socket://host:port or loop://",
    )
    parser.add_argument(
        "--baudrate", type=int, default=115200, help="serial speed (default 115200)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr, -vv with AT traffic"
    )
    parser.add_argument(
        "--dialect",
        choices=("auto", *DIALECTS),
        default="auto",
        help="the modem's vendor commands: auto (from AT+CGMI/AT+CGMM, the default) or a name",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="append this run's AT exchange to a transcript (JSON Lines, secrets masked)",
    )
    groups = parser.add_subparsers(
        dest="group", required=True, metavar="{sim,net,internet,usage,sms,discover,run}"
    )
    sim.add_commands(groups)
    network.add_commands(groups)
    usage.add_commands(groups)
    discover.add_commands(groups)
    sms.add_commands(groups)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _fail(code: ExitCode, message: str) -> int:
    print(f"simgate agent: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str]) -> int:
    """Run `simgate agent` with `argv`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code == 0 else ExitCode.BAD_INPUT
    if args.group == "run":
        from agent.daemon.commands import run_daemon

        return run_daemon(args)
    if args.group == "discover" and args.watch:
        from agent.daemon.commands import watch_discover

        _configure_logging(args.verbose)
        return watch_discover(args)
    _configure_logging(args.verbose)
    if args.group in NEEDS_PORT and not args.port:
        return _fail(ExitCode.BAD_INPUT, f"--port URL is required for `{args.group}` commands")
    try:
        document, text = asyncio.run(RUNNERS[args.group](args))
    except (SimRefused, UnsafeSecretFile) as exc:
        return _fail(ExitCode.REFUSED_BY_SAFETY_RULE, f"refused: {exc}")
    except (
        SecretSourceError,
        WrongUsage,
        CommandInjectionError,
        InvalidApn,
        MeterStateError,
    ) as exc:
        return _fail(ExitCode.BAD_INPUT, str(exc))
    except (SimSaidNo, NetSaidNo, NoModemCounters) as exc:
        return _fail(ExitCode.MODEM_SAID_NO, str(exc))
    except OSError as exc:
        return _fail(ExitCode.UNREACHABLE, str(exc))
    print(json.dumps(document) if args.json else text)
    return ExitCode.OK
