"""`simgate agent …`: the device agent's command line (contracts §1)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from agent.at.errors import CommandInjectionError
from agent.modem.client import Modem
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimRefused, SimSaidNo, SimStatus, WrongUsage
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile, secret_from
from agent.state_dir import state_dir
from simgate.exit_codes import ExitCode

log = logging.getLogger("agent")

SimAction = Callable[[SimManager, argparse.Namespace], Awaitable[SimStatus]]


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
    groups = parser.add_subparsers(dest="group", required=True, metavar="{sim}")
    sim = groups.add_parser("sim", help="the SIM card: status, unlock, unblock, PIN lock")
    actions = sim.add_subparsers(dest="action", required=True)

    status = actions.add_parser("status", help="state, ICCID, IMSI, IMEI, tries left")
    _add_json(status)

    unlock = actions.add_parser(
        "unlock", help="enter the PIN ($SIMGATE_PIN or --pin-file); refused below 2 tries left"
    )
    unlock.add_argument("--pin-file", type=Path, help="file holding the PIN (mode 0600)")
    _add_last_attempt(unlock)
    _add_json(unlock)

    unblock = actions.add_parser("unblock", help="enter the PUK and set a new PIN")
    unblock.add_argument("--puk-file", type=Path, required=True, help="file holding the PUK (0600)")
    unblock.add_argument(
        "--new-pin-file", type=Path, required=True, help="file holding the new PIN (0600)"
    )
    _add_last_attempt(unblock)
    _add_json(unblock)

    pin = actions.add_parser("pin", help="turn the PIN lock on or off, or change the PIN")
    pin_actions = pin.add_subparsers(dest="pin_action", required=True)
    for name, text in (("enable", "require the PIN at power-on"), ("disable", "stop requiring it")):
        lock = pin_actions.add_parser(name, help=text)
        lock.add_argument("--pin-file", type=Path, help="file holding the PIN (0600)")
        _add_last_attempt(lock)
        _add_json(lock)
    change = pin_actions.add_parser("change", help="change the PIN")
    change.add_argument("--pin-file", type=Path, help="file holding the current PIN (0600)")
    change.add_argument(
        "--new-pin-file", type=Path, help="file holding the new PIN (0600; or $SIMGATE_NEW_PIN)"
    )
    _add_last_attempt(change)
    _add_json(change)
    return parser


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_last_attempt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-last-attempt",
        action="store_true",
        help="send even when fewer than 2 tries remain (a wrong one may lock the card)",
    )


async def _sim_status(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    return await sim.status()


async def _sim_unlock(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    return await sim.unlock(pin, allow_last_attempt=args.allow_last_attempt)


async def _sim_unblock(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    puk = secret_from(args.puk_file, None, "PUK")
    new_pin = secret_from(args.new_pin_file, None, "new PIN")
    return await sim.unblock(puk, new_pin, allow_last_attempt=args.allow_last_attempt)


async def _sim_pin(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    if args.pin_action == "change":
        new_pin = secret_from(args.new_pin_file, "SIMGATE_NEW_PIN", "new PIN")
        return await sim.change_pin(pin, new_pin, allow_last_attempt=args.allow_last_attempt)
    enabled = args.pin_action == "enable"
    return await sim.set_pin_lock(enabled, pin, allow_last_attempt=args.allow_last_attempt)


SIM_ACTIONS: dict[str, SimAction] = {
    "status": _sim_status,
    "unlock": _sim_unlock,
    "unblock": _sim_unblock,
    "pin": _sim_pin,
}


def render_status(status: SimStatus) -> str:
    """`sim status` for a person, in the manner of `mmcli -i`."""

    def show(value: object) -> str:
        if value is None:
            return "unknown"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    iccid = show(status.iccid)
    if status.iccid is not None and status.iccid_luhn_valid is False:
        iccid += " (fails the Luhn check)"
    rows = [
        ("state", show(status.state)),
        ("iccid", iccid),
        ("imsi", show(status.imsi)),
        ("imei", show(status.imei)),
        ("pin lock", show(status.pin_enabled)),
        ("PIN tries left", show(status.pin_retries)),
        ("PUK tries left", show(status.puk_retries)),
    ]
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"  {key:>{width}}: {value}" for key, value in rows)


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _fail(code: ExitCode, message: str) -> int:
    print(f"simgate agent: {message}", file=sys.stderr)
    return code


async def _run_sim(args: argparse.Namespace) -> SimStatus:
    memory = FailedPinMemory(state_dir())
    async with await Modem.open(args.port, baudrate=args.baudrate) as modem:
        return await SIM_ACTIONS[args.action](SimManager(modem, memory), args)


def main(argv: Sequence[str]) -> int:
    """Run `simgate agent` with `argv`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code == 0 else ExitCode.BAD_INPUT
    _configure_logging(args.verbose)
    if not args.port:
        return _fail(ExitCode.BAD_INPUT, "--port URL is required for `sim` commands")
    try:
        status = asyncio.run(_run_sim(args))
    except SimRefused as exc:
        return _fail(ExitCode.REFUSED_BY_SAFETY_RULE, f"refused: {exc}")
    except UnsafeSecretFile as exc:
        return _fail(ExitCode.REFUSED_BY_SAFETY_RULE, f"refused: {exc}")
    except (SecretSourceError, WrongUsage, CommandInjectionError) as exc:
        return _fail(ExitCode.BAD_INPUT, str(exc))
    except SimSaidNo as exc:
        return _fail(ExitCode.MODEM_SAID_NO, str(exc))
    except OSError as exc:
        return _fail(ExitCode.UNREACHABLE, str(exc))
    if args.json:
        print(json.dumps(status.to_json()))
    else:
        print(render_status(status))
    return ExitCode.OK
